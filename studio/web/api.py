"""The JSON API behind the page: verdicts, previews, renders, sweeps as jobs, uploads, recommendations.

Handlers are plain functions where they block (FastAPI runs them in its thread pool), and every
use case goes through `studio.service`; malformed bodies are refused by the pydantic models (422).
"""

from __future__ import annotations

import base64
import io
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from PIL import Image
from pydantic import BaseModel, Field, StrictInt
from starlette.concurrency import run_in_threadpool

from prismarec.db import renders_dir
from prismarec.db.store import content_hash
from prismarec.renderer.files import atomic_write
from prismarec.renderer.params import DEFAULT_MAX_SECONDS, RenderParams
from prismarec.studio.sweep import neighbourhood

from .context import BodyId, CuratorDep, ItemId, OptionalId, Site, SiteDep
from .security import MAX_UPLOAD_BYTES, UploadTooLarge, check_upload

log = logging.getLogger(__name__)
PREVIEW_WIDTH = 192
PREVIEW_MAX_SECONDS = 5.0  # a preview estimated to take longer is refused: it must never hold up the page

router = APIRouter(prefix="/api")


class VerdictBody(BaseModel):
    verdict: Literal["good", "bad"]
    score: StrictInt | None = Field(None, ge=1, le=5)
    note: str | None = Field(None, max_length=2000)


class BulkVerdictBody(VerdictBody):
    render_ids: list[BodyId] = Field(min_length=1, max_length=1000)


class OneVerdictBody(VerdictBody):
    exact: bool = False  # the score and note as given, none carried over from the earlier verdict (undo)


class RenderBody(BaseModel):
    photo_id: BodyId
    guide_id: BodyId | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class Cancelled(Exception):
    """The curator cancelled a sweep."""


class Superseded(Exception):
    """A newer preview from the same curator arrived; this one stops."""


@router.get("/recommend/{photo_id}")
def recommendation(site: SiteDep, photo_id: ItemId, curator: str | None = None) -> dict:
    """What `prismarec recommend --json` answers for the same photo."""
    site.studio.check_curator(curator or None)
    return site.studio.recommend(photo_id, k=5, curator=curator or None).to_dict()


STRIP_THUMB = 112  # the tune page's filter strip: thumbnail width


@router.get("/looks/{photo_id}")
def looks(site: SiteDep, name: CuratorDep, photo_id: ItemId, guide: OptionalId = None) -> dict:
    """The filter strip: the photo in its recommended looks, then the painting filters (liked ones
    first), best first, as thumbnails with their parameters, for one click to apply."""
    from prismarec.renderer.images import resize
    from prismarec.studio.looks import caption, render_look

    photo = site.studio.photo(photo_id)
    guide_image = site.studio.guide(guide)[1] if guide is not None else None
    small = resize(photo.image, STRIP_THUMB)
    out = []
    with site.preview_lock:
        for look in site.studio.strip(photo, name, filters=26):
            image = render_look(small, look, site.studio.catalog.net, guide_image)
            if image is not None:
                buf = io.BytesIO()
                Image.fromarray(image).save(buf, format="JPEG", quality=85)
                out.append({"label": caption(look), "confidence": look.confidence, "params": look.params.to_dict(),
                            "thumb": "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()})
    return {"looks": out}


@router.post("/renders/{render_id}/verdict")
def verdict(site: SiteDep, name: CuratorDep, render_id: ItemId, body: OneVerdictBody) -> dict:
    site.studio.tag([render_id], name, body.verdict, body.score, body.note, keep_earlier=not body.exact)
    return {"render_ids": [render_id], "verdict": body.verdict, "score": body.score, "curator": name}


@router.post("/renders/{render_id}/untag")
def withdraw(site: SiteDep, name: CuratorDep, render_id: ItemId) -> dict:
    return {"render_id": render_id, "withdrawn": site.studio.untag(render_id, name)}


@router.post("/renders/{render_id}/delete")
def remove_render(site: SiteDep, name: CuratorDep, render_id: ItemId) -> dict:
    site.studio.delete_render(render_id)
    log.info("%s deleted render %d", name, render_id)
    return {"deleted": render_id}


@router.post("/photos/{photo_id}/delete")
def remove_photo(site: SiteDep, name: CuratorDep, photo_id: ItemId) -> dict:
    """As `prismarec delete-photo`: the photo leaves the catalogue with its renders and their verdicts;
    the photo's own file stays."""
    count = site.studio.delete_photo(photo_id)
    log.info("%s deleted photo %d with %d renders", name, photo_id, count)
    return {"deleted": photo_id, "renders": count}


@router.post("/verdicts")
def bulk_verdict(site: SiteDep, name: CuratorDep, body: BulkVerdictBody) -> dict:
    site.studio.tag(body.render_ids, name, body.verdict, body.score, body.note)
    return {"render_ids": body.render_ids, "verdict": body.verdict, "score": body.score, "curator": name}


@router.post("/preview")
def preview(site: SiteDep, name: CuratorDep, body: RenderBody) -> Response:
    """A small render for the tune page; cheap by budget, and dropped when a newer one is asked for."""
    from prismarec.renderer.cost import BudgetError
    from prismarec.renderer.pipeline import render_preview

    params = RenderParams.from_dict(body.params)
    photo = site.studio.photo(body.photo_id)
    guide = site.studio.guide(body.guide_id)[1] if body.guide_id is not None else None
    mine = site.latest_preview[name] = site.latest_preview.get(name, 0) + 1

    def still_wanted() -> None:
        if site.latest_preview.get(name) != mine:
            raise Superseded

    with site.preview_lock:
        still_wanted()
        try:
            out = render_preview(photo.image, params, site.studio.catalog.net, PREVIEW_WIDTH, guide=guide,
                                 max_seconds=PREVIEW_MAX_SECONDS, on_step=still_wanted).image
        except BudgetError:
            raise HTTPException(422, f"no preview: these settings take longer than the preview's "
                                     f"{PREVIEW_MAX_SECONDS:.0f} s (fewer iter_n or octave_n preview them; "
                                     "Render makes the full render)") from None
    buf = io.BytesIO()
    Image.fromarray(out).save(buf, format="PNG")
    return Response(buf.getvalue(), media_type="image/png")


def start_job(site: Site, kind: str, total: int, work: Callable[[Callable[[], None], int], dict]) -> int:
    """Run `work(step, job_id)` in the background as a job the page follows (progress, time left, Cancel):
    `step` counts one unit done and stops the work once the curator cancelled; what `work`
    returns is the job's result. One network at a time: renders and sweeps never share the cores."""
    job_id, job = site.jobs.add(total, kind)

    def step() -> None:
        if job.cancel:
            raise Cancelled
        job.done = min(job.done + 1, job.total)

    def run() -> None:
        if job.cancel:
            return
        job.state, job.started = "running", time.monotonic()
        try:
            with site.render_lock:
                job.result = work(step, job_id)
            job.state, job.done = "finished", job.total
        except Cancelled:
            job.state = "cancelled"
        except Exception as exc:
            job.state, job.result = "failed", {"error": str(exc)}
            log.exception("%s job %d failed", kind, job_id)

    site.sweeps.submit(run)
    return job_id


@router.post("/render")
def full_render(site: SiteDep, name: CuratorDep, body: RenderBody) -> dict:
    """Queue a full render as a job (refused with 422 now when it cannot render); the job's result
    names the new render."""
    from prismarec.renderer.pipeline import check_render

    params = RenderParams.from_dict(body.params)
    photo = site.studio.photo(body.photo_id)
    guide = site.studio.guide(body.guide_id)[1] if body.guide_id is not None else None
    try:
        check_render(photo.image, params, site.studio.catalog.net, guide, DEFAULT_MAX_SECONDS)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    # a name of its own: two clicks make two recorded renders, never two records of one file
    digest = content_hash(params.to_json().encode())[:8]
    output = renders_dir() / f"web-{photo.id}-{digest}-{secrets.token_hex(4)}.png"
    steps = params.iter_n * params.octave_n if params.layer is not None else 1

    def work(step: Callable[[], None], _: int) -> dict:
        done = site.studio.render(photo, params, output, guide=body.guide_id, on_step=step,
                                  max_seconds=DEFAULT_MAX_SECONDS)
        return {"render_id": done.render_id}

    return {"job": start_job(site, "render", steps, work)}


@router.post("/sweep")
def sweep_around(site: SiteDep, name: CuratorDep, body: RenderBody) -> dict:
    """Queue a sweep around these settings (`neighbourhood`) as a job; refused with 422 before it
    is queued when any of its renders cannot be made. Its result names the contact sheet."""
    params = RenderParams.from_dict(body.params)
    grid = neighbourhood(params, site.studio.catalog.net.layer_names)
    guides = [body.guide_id] if body.guide_id is not None else []
    try:
        tasks = site.studio.plan_sweep([body.photo_id], guides, params, grid, renders_dir() / "sweeps")
    except ValueError as exc:
        raise HTTPException(422, f"this sweep cannot render: {exc}") from None

    def work(step: Callable[[], None], job_id: int) -> dict:
        report = site.studio.sweep(tasks, on_task=step)
        return {"rendered": len(report.rendered), "failed": len(report.failed),
                "render_ids": sorted(report.outputs.values()), "sheet": f"/sheet/{body.photo_id}?job={job_id}"}

    return {"queued": len(tasks), "job": start_job(site, "sweep", len(tasks), work)}


@router.get("/jobs/{job_id}")
def job_status(site: SiteDep, job_id: ItemId) -> dict:
    return site.jobs[job_id].to_dict()


@router.post("/jobs/{job_id}/cancel")
def job_cancel(site: SiteDep, name: CuratorDep, job_id: ItemId) -> dict:
    job = site.jobs[job_id]
    job.cancel = True
    if job.state == "queued":
        job.state = "cancelled"
    return job.to_dict()


@router.post("/upload")
async def upload(request: Request, site: SiteDep, photo: UploadFile = File(...),
                 csrf: str = Form("", max_length=200)) -> Response:
    site.require_curator(request, csrf)
    data = await photo.read(MAX_UPLOAD_BYTES + 1)  # one byte over the limit is enough to refuse
    try:
        fmt = check_upload(data)
    except UploadTooLarge as exc:
        raise HTTPException(413, str(exc)) from None
    except ValueError as exc:
        raise HTTPException(415, str(exc)) from None
    folder = site.home / "uploads"
    folder.mkdir(exist_ok=True)
    path = folder / f"{content_hash(data)[:32]}.{fmt.lower()}"
    new = not path.exists()  # the same bytes uploaded before are that photo's file: never removed
    if new:
        atomic_write(path, lambda tmp: tmp.write_bytes(data))
    try:
        registered = await run_in_threadpool(site.studio.photo, path)
    except ValueError as exc:
        if new:  # a refused upload leaves nothing behind
            path.unlink(missing_ok=True)
        raise HTTPException(415, str(exc)) from None
    return RedirectResponse(f"/tune/{registered.id}", status_code=303)
