"""FastAPI application for curators (served by `prismarec serve`, 127.0.0.1 by default).

Pages are rendered on the server; a little JavaScript adds keyboard shortcuts and the live
preview. Reading needs nothing; writing (verdicts, renders, sweeps, uploads) needs a curator's
sign-in token (`prismarec curator add NAME`) and a CSRF token bound to it.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from PIL import Image
from starlette.concurrency import run_in_threadpool

from db import Database, Guide, Photo, Render, data_home, renders_dir
from db.store import (
    RenderFilter,
    content_hash,
    curator_by_token,
    current_verdicts,
    embedding_of,
    list_renders,
    tag,
)
from indexer.catalog import Catalog
from recommender import recommend_for_vector
from recommender.suggest import suggest
from renderer.backbones import load_backbone
from renderer.cost import DEFAULT_MAX_SECONDS
from renderer.images import load_image
from renderer.params import ENHANCEMENTS, HELP, MASK_PARTS, RANGES, SLIDERS, RenderParams
from renderer.pipeline import render_preview
from studio.sweep import neighbourhood, plan
from studio.sweep import run as run_sweep

from .security import COOKIE, MAX_UPLOAD_BYTES, check_upload, csrf_ok, csrf_token, server_secret

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
PREVIEW_WIDTH = 192
SUGGESTED = 200  # photos the gallery's "to curate next" order covers
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


async def json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object; anything else is the client's error (422)."""
    try:
        body = await request.json()
    except ValueError:
        raise HTTPException(422, "the body must be JSON") from None
    if not isinstance(body, dict):
        raise HTTPException(422, "the body must be a JSON object")
    return body


def id_field(body: dict[str, Any], key: str) -> int | None:
    """An optional id in a JSON body: a whole number or absent (422 otherwise)."""
    value = body.get(key)
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise HTTPException(422, f"{key} must be a whole number, got {value!r}")
    return value


def _report_sweep(future: Future) -> None:
    if future.exception() is not None:
        log.error("queued sweep failed: %s", future.exception())
    else:
        report = future.result()
        log.info("queued sweep: %d rendered, %d failed", len(report.rendered), len(report.failed))


def create_app(db_url: str | None = None, backbone: str = "auto", weights: str | None = None) -> FastAPI:
    db = Database(db_url)
    home = data_home()
    secret = server_secret(home)
    templates = Jinja2Templates(directory=HERE / "templates")
    app = FastAPI(title="prismarec", docs_url=None, redoc_url=None)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    @app.middleware("http")
    async def same_origin_posts(request: Request, call_next):  # noqa: ANN001, ANN202
        """Refuse a POST whose browser-sent Origin is another site (CSRF defence in depth, login included)."""
        origin = request.headers.get("origin")
        if request.method == "POST" and origin and urlsplit(origin).netloc != request.headers.get("host"):
            return JSONResponse({"detail": "cross-site request refused"}, status_code=403)
        return await call_next(request)

    render_lock = threading.Lock()  # one render at a time: the network already uses every core
    sweeps = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sweep")

    @functools.cache
    def catalog() -> Catalog:
        return Catalog(db, load_backbone(backbone, weights))

    @functools.lru_cache(maxsize=16)
    def image_of(kind: str, item_id: int) -> np.ndarray:
        return load_image(_path(kind, item_id))

    def _path(kind: str, item_id: int) -> str:
        model = {"photo": Photo, "guide": Guide, "render": Render}[kind]
        with db.session() as s:
            row = s.get(model, item_id)
            if row is None:
                raise HTTPException(404, f"no {kind} {item_id}")
            return row.output_path if kind == "render" else row.path

    def viewer(request: Request) -> dict[str, Any]:
        token = request.cookies.get(COOKIE)
        with db.session() as s:
            who = curator_by_token(s, token)
            name = who.name if who else None
        return {"curator": name, "csrf": csrf_token(secret, token) if name else ""}

    def require_curator(request: Request, presented: str | None) -> str:
        token = request.cookies.get(COOKIE)
        name = viewer(request)["curator"]
        if name is None:
            raise HTTPException(401, "sign in with a curator token to make changes")
        if not csrf_ok(secret, token, presented or request.headers.get("x-csrf-token")):
            raise HTTPException(403, "missing or wrong CSRF token")
        return name

    def page(request: Request, name: str, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, {**viewer(request), **context})

    def params_from(data: Any) -> RenderParams:
        try:
            return RenderParams.from_dict(data if isinstance(data, dict) else {})
        except (ValueError, TypeError) as exc:
            raise HTTPException(422, str(exc)) from None

    # -- pages -------------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse)
    def gallery(request: Request, verdict: str | None = None, curator: str | None = None, layer: str | None = None,
                mask: str | None = None, guide: int | None = None, photo: int | None = None, sort: str = "date",
                page_no: int = 0) -> HTMLResponse:
        sort = sort if sort in ("score", "next") else "date"
        # "next": renders of the photos whose verdicts would teach the recommender most, those first
        order = tuple(x.photo_id for x in suggest(catalog(), SUGGESTED, curator or None)) if sort == "next" else ()
        flt = RenderFilter(verdict or None, curator or None, layer or None, mask or None, guide, photo, sort, order)
        with db.session() as s:
            rows = list_renders(s, flt, limit=60, offset=60 * page_no)
            items = [{"id": r.id, "photo_id": r.photo_id, "layer": r.layer, "mask": r.mask, "score": sc,
                      "verdicts": current_verdicts(s, r.id)} for r, sc in rows]
        return page(request, "gallery.html", items=items, f=flt, page_no=page_no)

    @app.get("/render/{render_id}", response_class=HTMLResponse)
    def review(request: Request, render_id: int) -> HTMLResponse:
        with db.session() as s:
            r = s.get(Render, render_id)
            if r is None:
                raise HTTPException(404, f"no render {render_id}")
            prev_id = s.query(Render.id).where(Render.id < render_id).order_by(Render.id.desc()).limit(1).scalar()
            next_id = s.query(Render.id).where(Render.id > render_id).order_by(Render.id).limit(1).scalar()
            info = {"id": r.id, "photo_id": r.photo_id, "guide_id": r.guide_id, "backbone": r.backbone,
                    "params": json.loads(r.params), "timings": json.loads(r.timings),
                    "verdicts": current_verdicts(s, r.id), "prev": prev_id, "next": next_id}
        return page(request, "review.html", r=info)

    @app.get("/tune/{photo_id}", response_class=HTMLResponse)
    def tune(request: Request, photo_id: int, params: str | None = None, guide: int | None = None) -> HTMLResponse:
        _path("photo", photo_id)
        start = params_from(json.loads(params)) if params else RenderParams()
        layers = catalog().net.layer_names
        return page(request, "tune.html", photo_id=photo_id, guide_id=guide, controls=controls(start, layers),
                    params=start.to_dict())

    @app.get("/sheet/{photo_id}", response_class=HTMLResponse)
    def sheet(request: Request, photo_id: int) -> HTMLResponse:
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

    @app.get("/similar/{photo_id}", response_class=HTMLResponse)
    def similar(request: Request, photo_id: int) -> HTMLResponse:
        cat = catalog()
        with db.session() as s:
            vector = embedding_of(s, photo_id, cat.net.name)
        if vector is None:
            raise HTTPException(404, f"photo {photo_id} has no {cat.net.name} embedding")
        rec = recommend_for_vector(cat, vector, k=5, image=image_of("photo", photo_id))
        return page(request, "similar.html", photo_id=photo_id, rec=rec, sets=[rec.params, *rec.alternatives])

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, error: str | None = None) -> HTMLResponse:
        return page(request, "login.html", error=error)

    @app.post("/login")
    def login(token: str = Form(...)) -> Response:
        with db.session() as s:
            who = curator_by_token(s, token.strip())
        if who is None:
            return RedirectResponse("/login?error=unknown+token", status_code=303)
        resp = RedirectResponse("/", status_code=303)
        resp.set_cookie(COOKIE, token.strip(), httponly=True, samesite="strict", max_age=30 * 86400)
        return resp

    @app.post("/logout")
    def logout(request: Request, csrf: str = Form("")) -> Response:
        require_curator(request, csrf)
        resp = RedirectResponse("/", status_code=303)
        resp.delete_cookie(COOKIE)
        return resp

    # -- files (looked up by id: no path from a URL ever reaches the file system) -------------------
    @app.get("/files/{kind}/{item_id}")
    def file(kind: str, item_id: int, w: int | None = None) -> Response:
        """The stored file, or with `w` a JPEG thumbnail of that width (for galleries)."""
        if kind not in ("photo", "guide", "render"):
            raise HTTPException(404, "unknown kind")
        path = Path(_path(kind, item_id))
        if not path.is_file():
            raise HTTPException(404, f"{kind} {item_id}: file is gone")
        if w is None:
            return FileResponse(path)
        with Image.open(path) as img:
            img.thumbnail((min(max(w, 32), 1024), 4096))
            buf = io.BytesIO()
            img.convert("RGB").save(buf, format="JPEG", quality=85)
        return Response(buf.getvalue(), media_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})

    # -- API ---------------------------------------------------------------------------------------
    @app.post("/api/renders/{render_id}/verdict")
    async def verdict(request: Request, render_id: int) -> JSONResponse:
        name = require_curator(request, None)
        return JSONResponse(_tag([render_id], name, await json_object(request)))

    @app.post("/api/verdicts")
    async def bulk_verdict(request: Request) -> JSONResponse:
        name = require_curator(request, None)
        body = await json_object(request)
        ids = body.get("render_ids")
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids) or not ids:
            raise HTTPException(422, "render_ids must be a non-empty list of ids")
        return JSONResponse(_tag(ids, name, body))

    def _tag(ids: list[int], name: str, body: dict) -> dict:
        try:
            with db.session() as s:
                for render_id in ids:
                    tag(s, render_id, name, body.get("verdict"), body.get("score"), body.get("note"))
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return {"render_ids": ids, "verdict": body.get("verdict"), "score": body.get("score"), "curator": name}

    @app.post("/api/preview")
    async def preview(request: Request) -> Response:
        body = await json_object(request)
        params = params_from(body.get("params"))
        photo = image_of("photo", id_field(body, "photo_id") or 0)
        guide_id = id_field(body, "guide_id")
        guide = image_of("guide", guide_id) if guide_id else None

        def work() -> bytes:
            with render_lock:
                out = render_preview(photo, params, catalog().net, PREVIEW_WIDTH, guide=guide,
                                     max_seconds=DEFAULT_MAX_SECONDS).image
            buf = io.BytesIO()
            Image.fromarray(out).save(buf, format="PNG")
            return buf.getvalue()

        try:
            png = await run_in_threadpool(work)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return Response(png, media_type="image/png")

    @app.post("/api/render")
    async def full_render(request: Request) -> JSONResponse:
        require_curator(request, None)
        body = await json_object(request)
        params = params_from(body.get("params"))
        photo_path = _path("photo", id_field(body, "photo_id") or 0)
        guide_id = id_field(body, "guide_id")
        guide = (guide_id, image_of("guide", guide_id)) if guide_id else None

        def work() -> int:
            cat = catalog()
            photo = cat.register(photo_path)
            output = renders_dir() / f"web-{photo.id}-{content_hash(params.to_json().encode())[:12]}.png"
            with render_lock:
                return cat.render(photo, params, output, guide=guide, max_seconds=DEFAULT_MAX_SECONDS)[0]

        try:
            render_id = await run_in_threadpool(work)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return JSONResponse({"render_id": render_id})

    @app.post("/api/sweep")
    async def sweep_around(request: Request) -> JSONResponse:
        require_curator(request, None)
        body = await json_object(request)
        params = params_from(body.get("params"))
        cat = catalog()
        photo_id = id_field(body, "photo_id") or 0
        photo_path = _path("photo", photo_id)
        guide_id = id_field(body, "guide_id")
        guide = [(guide_id, _path("guide", guide_id))] if guide_id else [(None, None)]
        tasks = plan([(photo_id, photo_path)], guide, params, neighbourhood(params, cat.net.layer_names),
                     renders_dir() / "sweeps", backbone=cat.net.name, weights=weights,
                     max_seconds=DEFAULT_MAX_SECONDS)
        sweeps.submit(run_sweep, cat, tasks).add_done_callback(_report_sweep)
        return JSONResponse({"queued": len(tasks)})

    @app.post("/api/upload")
    async def upload(request: Request, photo: UploadFile = File(...), csrf: str = Form("")) -> Response:
        require_curator(request, csrf)
        data = await photo.read(MAX_UPLOAD_BYTES + 1)  # one byte over the limit is enough to refuse
        try:
            fmt = check_upload(data)
        except ValueError as exc:
            raise HTTPException(413 if "limit" in str(exc) else 415, str(exc)) from None
        folder = home / "uploads"
        folder.mkdir(exist_ok=True)
        path = folder / f"{content_hash(data)[:32]}.{fmt.lower()}"
        path.write_bytes(data)
        try:
            registered = await run_in_threadpool(catalog().register, path)
        except ValueError as exc:
            raise HTTPException(415, str(exc)) from None
        return RedirectResponse(f"/tune/{registered.id}", status_code=303)

    return app
