"""FastAPI application for curators (served by `prismarec serve`, 127.0.0.1 by default).

Pages are rendered on the server; a little JavaScript adds keyboard shortcuts and the live
preview. Reading needs nothing; writing (verdicts, previews, renders, sweeps, uploads) needs a
curator signed in with their token (`prismarec curator add NAME`), which starts a server-side
session, and a CSRF token bound to that session. Every use case runs through `studio.service`.
"""

from __future__ import annotations

import io
import json
import logging
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from PIL import Image
from pydantic import BaseModel, Field, StrictInt
from starlette.concurrency import run_in_threadpool
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from db import Database, Guide, NotFound, Photo, Render, StorageError, data_home, renders_dir
from db.store import RenderFilter, content_hash, curator_by_token, current_verdicts, list_renders
from renderer.params import DEFAULT_MAX_SECONDS, ENHANCEMENTS, HELP, MASK_PARTS, RANGES, SLIDERS, RenderParams
from studio.service import Studio
from studio.sweep import neighbourhood, plan
from studio.sweep import run as run_sweep

from .security import (
    COOKIE,
    MAX_BODY_BYTES,
    MAX_UPLOAD_BYTES,
    SECURITY_HEADERS,
    Sessions,
    SignInLimiter,
    UploadTooLarge,
    check_upload,
    csrf_ok,
    csrf_token,
    public_message,
    server_secret,
)

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
PREVIEW_WIDTH = 192
PREVIEW_MAX_SECONDS = 5.0  # a preview estimated to take longer is refused: it must never hold up the page
SUGGESTED = 200  # photos the gallery's "to curate next" order covers
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")
MAX_ID = 2**62  # ids past this cannot be stored: refused as malformed, not sent to the database
ItemId = Annotated[int, PathParam(ge=0, le=MAX_ID)]
BodyId = Annotated[StrictInt, Field(ge=0, le=MAX_ID)]
MASK_CHOICES = [*MASK_PARTS, "otsu+features", "otsu+stdmean", "stdmean+features", "otsu+stdmean+features"]


def controls(params: RenderParams, layers: list[str]) -> list[dict[str, Any]]:
    """One control per parameter, from the parameter definition itself."""
    out = []
    for f in fields(RenderParams):
        value = getattr(params, f.name)
        spec: dict[str, Any] = {"name": f.name, "value": value, "help": HELP[f.name]}
        if f.name == "mask":
            spec |= {"kind": "select", "options": MASK_CHOICES}
        elif f.name == "layer":
            spec |= {"kind": "select", "options": ["None", *layers]}
        elif f.name == "enhance":
            spec |= {"kind": "select", "options": ["None", *ENHANCEMENTS]}
        elif str(f.type) == "bool":
            spec |= {"kind": "checkbox"}
        elif f.name in SLIDERS and "None" not in str(f.type):
            low, high = SLIDERS[f.name]
            step = 1 if str(f.type).startswith("int") else 0.01
            spec |= {"kind": "range", "min": low, "max": high, "step": step, "limits": RANGES[f.name]}
        else:  # wide ranges and optional numbers (empty means None)
            spec |= {"kind": "number", "value": "" if value is None else value}
        out.append(spec)
    return out


class VerdictBody(BaseModel):
    verdict: Literal["good", "bad"]
    score: StrictInt | None = Field(None, ge=1, le=5)
    note: str | None = Field(None, max_length=2000)


class BulkVerdictBody(VerdictBody):
    render_ids: list[BodyId] = Field(min_length=1, max_length=1000)


class RenderBody(BaseModel):
    photo_id: BodyId
    guide_id: BodyId | None = None
    params: dict[str, Any] = Field(default_factory=dict)


@dataclass
class Job:
    """A sweep started from the page: progress for the page to poll, and a cancel flag."""

    total: int
    done: int = 0
    state: str = "queued"  # queued | running | finished | cancelled | failed
    started: float = field(default_factory=time.monotonic)
    cancel: bool = False

    def to_dict(self) -> dict:
        elapsed = time.monotonic() - self.started
        eta = elapsed / self.done * (self.total - self.done) if self.done and self.state == "running" else None
        return {"total": self.total, "done": self.done, "state": self.state, "eta_s": eta}


class Cancelled(Exception):
    """The curator cancelled a sweep."""


class Superseded(Exception):
    """A newer preview from the same curator arrived; this one stops."""


class BodyLimit:
    """Refuse request bodies over the limit before reading them (413): by Content-Length when sent,
    and by counting otherwise. Uploads get a larger limit, and only with a session cookie."""

    def __init__(self, app: ASGIApp, sessions: Sessions):
        self.app, self.sessions = app, sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        upload = scope["path"] == "/api/upload"
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if upload and self.sessions.curator(_cookie(headers.get("cookie", ""))) is None:
            return await _plain(send, 401, "sign in with a curator token to upload")
        limit = MAX_UPLOAD_BYTES + 64 * 1024 if upload else MAX_BODY_BYTES
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            return await _plain(send, 413, f"request body over the limit of {limit} bytes")
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise HTTPException(413, f"request body over the limit of {limit} bytes")
            return message

        await self.app(scope, counted, send)


def _cookie(header: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == COOKIE:
            return value
    return None


async def _plain(send: Send, status: int, message: str) -> None:
    body = json.dumps({"detail": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def create_app(db_url: str | None = None, backbone: str = "auto", weights: str | None = None, *,
               hosts: tuple[str, ...] = LOCAL_HOSTS) -> FastAPI:
    """The curator's page over one database; `hosts` are the names it answers to (DNS rebinding defence)."""
    db = Database(db_url)
    studio = Studio(db, backbone, weights)
    home = data_home()
    secret = server_secret(home)
    sessions, sign_ins = Sessions(), SignInLimiter()
    templates = Jinja2Templates(directory=HERE / "templates")
    app = FastAPI(title="prismarec", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(BodyLimit, sessions=sessions)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(hosts))

    @app.middleware("http")
    async def guard(request: Request, call_next):  # noqa: ANN001, ANN202
        """Refuse a POST whose browser-sent Origin is another site; set the security headers."""
        origin = request.headers.get("origin")
        if request.method == "POST" and origin and origin.split("://", 1)[-1] != request.headers.get("host"):
            response = JSONResponse({"detail": "cross-site request refused"}, status_code=403)
        else:
            response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    def error(request: Request, status: int, message: str) -> Response:
        """JSON for the API, a page for a browser; never a server path."""
        message = public_message(message)
        if request.url.path.startswith("/api/") or "text/html" not in request.headers.get("accept", ""):
            return JSONResponse({"detail": message}, status_code=status)
        return templates.TemplateResponse(request, "error.html", {**viewer(request), "status": status,
                                                                  "message": message}, status_code=status)

    @app.exception_handler(HTTPException)
    def http_error(request: Request, exc: HTTPException) -> Response:
        return error(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    def invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}"
                             for e in exc.errors()[:5])
        return error(request, 422, problems)

    @app.exception_handler(ValueError)
    def bad_value(request: Request, exc: ValueError) -> Response:
        return error(request, 422, str(exc))

    @app.exception_handler(NotFound)
    def not_found(request: Request, exc: NotFound) -> Response:
        return error(request, 404, str(exc))

    @app.exception_handler(StorageError)
    def storage(request: Request, exc: StorageError) -> Response:
        return error(request, 503, str(exc))

    @app.exception_handler(Superseded)
    def superseded(request: Request, exc: Superseded) -> Response:
        return error(request, 409, "a newer preview was asked for")

    render_lock = threading.Lock()  # full renders one at a time: the network already uses every core
    preview_lock = threading.Lock()  # previews queue apart from renders, and each is cheap by budget
    latest_preview: dict[str, int] = {}  # curator -> newest preview request, so older ones stop
    sweeps = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sweep")
    jobs: dict[int, Job] = {}

    def _path(kind: str, item_id: int) -> str:
        model = {"photo": Photo, "guide": Guide, "render": Render}[kind]
        with db.session() as s:
            row = s.get(model, item_id)
            if row is None:
                raise NotFound(f"no {kind} {item_id}")
            return row.output_path if kind == "render" else row.path

    def viewer(request: Request) -> dict[str, Any]:
        sid = request.cookies.get(COOKIE)
        name = sessions.curator(sid)
        return {"curator": name, "csrf": csrf_token(secret, sid) if name and sid else ""}

    def require_curator(request: Request, presented: str | None = None) -> str:
        sid = request.cookies.get(COOKIE)
        name = sessions.curator(sid)
        if name is None or sid is None:
            raise HTTPException(401, "sign in with a curator token to make changes")
        if not csrf_ok(secret, sid, presented or request.headers.get("x-csrf-token")):
            raise HTTPException(403, "missing or wrong CSRF token")
        return name

    def page(request: Request, name: str, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, {**viewer(request), **context})

    def params_from(data: Any) -> RenderParams:
        return RenderParams.from_dict(data if isinstance(data, dict) else {})

    PageNo = Query(0, ge=0, le=100_000)
    Id = Query(None, ge=0, le=MAX_ID)

    # -- pages -------------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse)
    def gallery(request: Request, verdict: str | None = None, curator: str | None = None, layer: str | None = None,
                mask: str | None = None, guide: int | None = Id, photo: int | None = Id, sort: str = "date",
                page_no: int = PageNo) -> HTMLResponse:
        sort = sort if sort in ("score", "next") else "date"
        # "next": renders of the photos whose verdicts would teach the recommender most, those first
        order = tuple(x.photo_id for x in studio.suggest(SUGGESTED, curator or None)) if sort == "next" else ()
        flt = RenderFilter(verdict or None, curator or None, layer or None, mask or None, guide, photo, sort, order)
        with db.session() as s:
            rows = list_renders(s, flt, limit=60, offset=60 * page_no)
            items = [{"id": r.id, "photo_id": r.photo_id, "layer": r.layer, "mask": r.mask, "score": sc,
                      "verdicts": current_verdicts(s, r.id)} for r, sc in rows]
        return page(request, "gallery.html", items=items, f=flt, page_no=page_no)

    @app.get("/render/{render_id}", response_class=HTMLResponse)
    def review(request: Request, render_id: ItemId) -> HTMLResponse:
        with db.session() as s:
            r = s.get(Render, render_id)
            if r is None:
                raise NotFound(f"no render {render_id}")
            prev_id = s.query(Render.id).where(Render.id < render_id).order_by(Render.id.desc()).limit(1).scalar()
            next_id = s.query(Render.id).where(Render.id > render_id).order_by(Render.id).limit(1).scalar()
            info = {"id": r.id, "photo_id": r.photo_id, "guide_id": r.guide_id, "backbone": r.backbone,
                    "params": json.loads(r.params), "timings": json.loads(r.timings),
                    "verdicts": current_verdicts(s, r.id), "prev": prev_id, "next": next_id}
        me = viewer(request)["curator"]
        mine = next(({"verdict": v, "score": sc, "note": n} for c, v, sc, n in info["verdicts"] if c == me), None)
        return page(request, "review.html", r=info, mine=mine)

    @app.get("/tune/{photo_id}", response_class=HTMLResponse)
    def tune(request: Request, photo_id: ItemId, params: str | None = None, guide: int | None = Id) -> HTMLResponse:
        _path("photo", photo_id)
        try:
            start = params_from(json.loads(params)) if params else RenderParams()
        except json.JSONDecodeError:
            raise HTTPException(422, "params must be a JSON object of render parameters") from None
        layers = studio.catalog.net.layer_names
        with db.session() as s:
            guides = [(g.id, Path(g.path).name) for g in s.query(Guide).order_by(Guide.id.desc()).limit(200)]
        return page(request, "tune.html", photo_id=photo_id, photo_name=Path(_path("photo", photo_id)).name,
                    guide_id=guide, guides=guides, controls=controls(start, layers), params=start.to_dict())

    @app.get("/sheet/{photo_id}", response_class=HTMLResponse)
    def sheet(request: Request, photo_id: ItemId) -> HTMLResponse:
        """A photo's renders as a contact sheet: columns by the last parameter that varies, rows by the rest."""
        _path("photo", photo_id)
        with db.session() as s:
            rows = list_renders(s, RenderFilter(photo_id=photo_id), limit=400)
            cells = [{"id": r.id, "params": json.loads(r.params), "guide": r.guide_id,
                      "verdicts": current_verdicts(s, r.id)} for r, _ in rows[::-1]]
        varying = [k for k in RenderParams().to_dict()
                   if len({json.dumps(c["params"][k]) for c in cells}) > 1] + (
            ["guide"] if len({c["guide"] for c in cells}) > 1 else [])
        for c in cells:
            c["params"]["guide"] = c["guide"]
        col_key = varying[-1] if varying else None
        cols = sorted({json.dumps(c["params"][col_key]) for c in cells}) if col_key else ["null"]
        grid: dict[str, dict[str, dict]] = {}
        for c in cells:
            row = ", ".join(f"{k}={c['params'][k]}" for k in varying[:-1])
            grid.setdefault(row, {})[json.dumps(c["params"][col_key]) if col_key else "null"] = c
        return page(request, "sheet.html", photo_id=photo_id, col_key=col_key, cols=cols, grid=grid)

    @app.get("/api/recommend/{photo_id}")
    def recommendation(photo_id: ItemId, curator: str | None = None) -> dict:
        """What `prismarec recommend --json` answers for the same photo."""
        studio.check_curator(curator or None)
        return studio.recommend(photo_id, k=5, curator=curator or None).to_dict()

    @app.get("/similar/{photo_id}", response_class=HTMLResponse)
    def similar(request: Request, photo_id: ItemId) -> HTMLResponse:
        rec = studio.recommend(photo_id, k=5)
        return page(request, "similar.html", photo_id=photo_id, rec=rec, sets=[rec.params, *rec.alternatives])

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, error: str | None = None) -> HTMLResponse:
        return page(request, "login.html", error=error)

    @app.post("/login")
    def login(request: Request, token: str = Form(..., max_length=200)) -> Response:
        client = request.client.host if request.client else "?"
        if sign_ins.blocked(client):
            raise HTTPException(429, "too many failed sign-ins; wait a minute")
        with db.session() as s:
            who = curator_by_token(s, token.strip())
            name = who.name if who else None
        if name is None:
            sign_ins.failed(client)
            return RedirectResponse("/login?error=unknown+token", status_code=303)
        resp = RedirectResponse("/", status_code=303)
        resp.set_cookie(COOKIE, sessions.start(name), httponly=True, samesite="strict", max_age=sessions.lifetime_s)
        return resp

    @app.post("/logout")
    def logout(request: Request, csrf: str = Form("", max_length=200)) -> Response:
        require_curator(request, csrf)
        sessions.revoke(request.cookies.get(COOKIE))
        resp = RedirectResponse("/", status_code=303)
        resp.delete_cookie(COOKIE)
        return resp

    # -- files (looked up by id: no path from a URL ever reaches the file system) -------------------
    @app.get("/files/{kind}/{item_id}")
    def file(kind: Literal["photo", "guide", "render"], item_id: ItemId, w: int | None = Query(None, ge=1, le=10**6)
             ) -> Response:
        """The stored file, or with `w` a JPEG thumbnail of that width (for galleries)."""
        path = Path(_path(kind, item_id))
        if not path.is_file():
            raise NotFound(f"{kind} {item_id}: file is gone")
        if w is None:
            return FileResponse(path)
        with Image.open(path) as img:
            img.thumbnail((min(max(w, 32), 1024), 4096))
            buf = io.BytesIO()
            img.convert("RGB").save(buf, format="JPEG", quality=85)
        return Response(buf.getvalue(), media_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})

    # -- API (plain functions: FastAPI runs them in its thread pool, so blocking work never stalls the loop)
    @app.post("/api/renders/{render_id}/verdict")
    def verdict(request: Request, render_id: ItemId, body: VerdictBody) -> dict:
        name = require_curator(request)
        studio.tag([render_id], name, body.verdict, body.score, body.note, new_curator=True)
        return {"render_ids": [render_id], "verdict": body.verdict, "score": body.score, "curator": name}

    @app.post("/api/renders/{render_id}/untag")
    def withdraw(request: Request, render_id: ItemId) -> dict:
        name = require_curator(request)
        return {"render_id": render_id, "withdrawn": studio.untag(render_id, name)}

    @app.post("/api/verdicts")
    def bulk_verdict(request: Request, body: BulkVerdictBody) -> dict:
        name = require_curator(request)
        studio.tag(body.render_ids, name, body.verdict, body.score, body.note, new_curator=True)
        return {"render_ids": body.render_ids, "verdict": body.verdict, "score": body.score, "curator": name}

    @app.post("/api/preview")
    def preview(request: Request, body: RenderBody) -> Response:
        """A small render for the tune page; cheap by budget, and dropped when a newer one is asked for."""
        from renderer.pipeline import render_preview

        name = require_curator(request)
        params = params_from(body.params)
        photo = studio.photo(body.photo_id)
        guide = studio.guide(body.guide_id)[1] if body.guide_id is not None else None
        mine = latest_preview[name] = latest_preview.get(name, 0) + 1

        def still_wanted() -> None:
            if latest_preview.get(name) != mine:
                raise Superseded

        with preview_lock:
            still_wanted()
            out = render_preview(photo.image, params, studio.catalog.net, PREVIEW_WIDTH, guide=guide,
                                 max_seconds=PREVIEW_MAX_SECONDS, on_step=still_wanted).image
        buf = io.BytesIO()
        Image.fromarray(out).save(buf, format="PNG")
        return Response(buf.getvalue(), media_type="image/png")

    @app.post("/api/render")
    def full_render(request: Request, body: RenderBody) -> dict:
        require_curator(request)
        params = params_from(body.params)
        photo = studio.photo(body.photo_id)
        # a name of its own: two clicks make two recorded renders, never two records of one file
        digest = content_hash(params.to_json().encode())[:8]
        output = renders_dir() / f"web-{photo.id}-{digest}-{secrets.token_hex(4)}.png"
        with render_lock:
            render_id, _ = studio.render(photo, params, output, guide=body.guide_id, max_seconds=DEFAULT_MAX_SECONDS)
        return {"render_id": render_id}

    @app.post("/api/sweep")
    def sweep_around(request: Request, body: RenderBody) -> dict:
        require_curator(request)
        params = params_from(body.params)
        cat = studio.catalog
        photo_path = _path("photo", body.photo_id)
        guide = [(body.guide_id, _path("guide", body.guide_id))] if body.guide_id is not None else [(None, None)]
        tasks = plan([(body.photo_id, photo_path)], guide, params, neighbourhood(params, cat.net.layer_names),
                     renders_dir() / "sweeps", backbone=cat.net.name, weights=weights,
                     max_seconds=DEFAULT_MAX_SECONDS)
        job_id = len(jobs) + 1
        job = jobs[job_id] = Job(len(tasks))

        def step() -> None:
            job.done += 1
            if job.cancel:
                raise Cancelled

        def work() -> None:
            if job.cancel:
                return
            job.state, job.started = "running", time.monotonic()
            try:
                with render_lock:  # one network at a time: a sweep and a full render never share the cores
                    report = run_sweep(cat, tasks, on_task=step)
                job.state = "finished"
                log.info("sweep %d: %d rendered, %d failed", job_id, len(report.rendered), len(report.failed))
            except Cancelled:
                job.state = "cancelled"
            except Exception:
                job.state = "failed"
                log.exception("sweep %d failed", job_id)

        sweeps.submit(work)
        return {"queued": len(tasks), "job": job_id}

    @app.get("/api/jobs/{job_id}")
    def job_status(job_id: ItemId) -> dict:
        if job_id not in jobs:
            raise NotFound(f"no job {job_id}")
        return jobs[job_id].to_dict()

    @app.post("/api/jobs/{job_id}/cancel")
    def job_cancel(request: Request, job_id: ItemId) -> dict:
        require_curator(request)
        if job_id not in jobs:
            raise NotFound(f"no job {job_id}")
        jobs[job_id].cancel = True
        if jobs[job_id].state == "queued":
            jobs[job_id].state = "cancelled"
        return jobs[job_id].to_dict()

    @app.post("/api/upload")
    async def upload(request: Request, photo: UploadFile = File(...), csrf: str = Form("", max_length=200)
                     ) -> Response:
        require_curator(request, csrf)
        data = await photo.read(MAX_UPLOAD_BYTES + 1)  # one byte over the limit is enough to refuse
        try:
            fmt = check_upload(data)
        except UploadTooLarge as exc:
            raise HTTPException(413, str(exc)) from None
        except ValueError as exc:
            raise HTTPException(415, str(exc)) from None
        folder = home / "uploads"
        folder.mkdir(exist_ok=True)
        path = folder / f"{content_hash(data)[:32]}.{fmt.lower()}"
        path.write_bytes(data)
        try:
            registered = await run_in_threadpool(studio.photo, path)
        except ValueError as exc:
            raise HTTPException(415, str(exc)) from None
        return RedirectResponse(f"/tune/{registered.id}", status_code=303)

    return app
