"""The server-rendered pages: gallery, review, tune, contact sheet, similar, sign-in, and stored files."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from PIL import Image

from prismarec.db import Guide, NotFound, Render
from prismarec.db.store import RenderFilter, curator_by_token, current_verdicts, list_renders
from prismarec.renderer.params import RenderParams, field_specs, parse_json

from .context import ItemId, OptionalId, SiteDep
from .security import COOKIE, Holder

SUGGESTED = 200  # photos the gallery's "to curate next" order covers
PageNo = Query(0, ge=0, le=100_000)

router = APIRouter()


def controls(params: RenderParams, layers: list[str]) -> list[dict[str, Any]]:
    """One control per parameter, from the parameter table (`renderer.params.field_specs`)."""
    out = []
    for name, spec in field_specs().items():
        value = getattr(params, name)
        control: dict[str, Any] = {"name": name, "value": value, "help": spec["help"]}
        options = layers if name == "layer" else spec.get("choices")
        if options is not None and "range" in spec:  # words or any number in range (size: auto, full, a width)
            control |= {"kind": "datalist", "options": list(options)}
        elif options is not None:
            control |= {"kind": "select", "options": [*(["None"] if spec["optional"] else []), *options]}
        elif spec["kind"] == "bool":
            control |= {"kind": "checkbox"}
        elif "slider" in spec and not spec["optional"]:
            low, high = spec["slider"]
            control |= {"kind": "range", "min": low, "max": high, "step": 1 if spec["kind"] == "int" else 0.01,
                        "limits": spec["range"]}
        else:  # wide ranges and optional numbers (empty means None)
            control |= {"kind": "number", "value": "" if value is None else value}
        out.append(control)
    return out


@router.get("/", response_class=HTMLResponse)
def gallery(request: Request, site: SiteDep, verdict: str | None = None, curator: str | None = None,
            layer: str | None = None, mask: str | None = None, guide: OptionalId = None,
            photo: OptionalId = None, sort: str = "date", page_no: int = PageNo,
            name: str | None = Query(None, max_length=200)) -> HTMLResponse:
    sort = sort if sort in ("score", "next") else "date"
    # "next": renders of the photos whose verdicts would teach the recommender most, those first
    order = tuple(x.photo_id for x in site.studio.suggest(SUGGESTED, curator or None)) if sort == "next" else ()
    flt = RenderFilter(verdict or None, curator or None, layer or None, mask or None, guide, photo, sort, order,
                       name or None)
    with site.db.reading() as s:
        rows = list_renders(s, flt, limit=60, offset=60 * page_no)
        items = [{"id": r.id, "photo_id": r.photo_id, "photo_name": Path(r.photo.path).name, "layer": r.layer,
                  "mask": r.mask, "score": sc, "verdicts": current_verdicts(s, r.id)} for r, sc in rows]
        guides = [(g.id, Path(g.path).name) for g in s.query(Guide).order_by(Guide.id.desc()).limit(200)]
    return site.page(request, "gallery.html", items=items, f=flt, page_no=page_no, guides=guides)


@router.get("/render/{render_id}", response_class=HTMLResponse)
def review(request: Request, site: SiteDep, render_id: ItemId) -> HTMLResponse:
    with site.db.reading() as s:
        r = s.get(Render, render_id)
        if r is None:
            raise NotFound(f"no render {render_id}")
        prev_id = s.query(Render.id).where(Render.id < render_id).order_by(Render.id.desc()).limit(1).scalar()
        next_id = s.query(Render.id).where(Render.id > render_id).order_by(Render.id).limit(1).scalar()
        info = {"id": r.id, "photo_id": r.photo_id, "guide_id": r.guide_id, "backbone": r.backbone,
                "style_model": r.style_model,
                "params": json.loads(r.params), "timings": json.loads(r.timings),
                "verdicts": current_verdicts(s, r.id), "prev": prev_id, "next": next_id}
    me = site.viewer(request)["curator"]
    mine = next(({"verdict": v, "score": sc, "note": n} for c, v, sc, n in info["verdicts"] if c == me), None)
    return site.page(request, "review.html", r=info, mine=mine)


@router.get("/tune/{photo_id}", response_class=HTMLResponse)
def tune(request: Request, site: SiteDep, photo_id: ItemId, params: str | None = None,
         guide: OptionalId = None) -> HTMLResponse:
    photo_name = Path(site.path("photo", photo_id)).name
    try:
        start = RenderParams.from_dict(parse_json(params)) if params else RenderParams()
    except (ValueError, TypeError) as exc:
        raise HTTPException(422, f"params must be a JSON object of render parameters ({exc})") from None
    with site.db.reading() as s:
        guides = [(g.id, Path(g.path).name) for g in s.query(Guide).order_by(Guide.id.desc()).limit(200)]
    return site.page(request, "tune.html", photo_id=photo_id, photo_name=photo_name, guide_id=guide, guides=guides,
                     controls=controls(start, site.studio.catalog.net.layer_names), params=start.to_dict())


def canonical(value: Any) -> str:
    """One label per value, whatever JSON made of it: 1 and 1.0 are `1`, null is `None`."""
    if value is None or isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return f"{value:g}"
    return str(value)


def _in_order(label: str) -> tuple:
    """Numbers in numeric order (2 before 10), then words."""
    try:
        return (0, float(label), "")
    except ValueError:
        return (1, 0.0, label)


def xy_panels(cells: list[dict], guide_names: dict[int | None, str]) -> tuple[list[str], list[dict]]:
    """Lay renders out as X/Y grids: X is the last parameter that varies, Y the one before; any
    further varying parameters split the sheet into panels, each with its legend. A cell holds
    every render with those values (several, when they differ only in what is not shown). Renders
    that form no grid (every panel a single render: hand-picked sets, not a sweep) share one grid
    and carry the other values as captions."""
    def value(c: dict, key: str) -> str:
        return guide_names.get(c["guide"], "none") if key == "guide" else canonical(c["params"][key])

    keys = [*RenderParams().to_dict(), "guide"]
    varying = [k for k in keys if len({value(c, k) for c in cells}) > 1]
    x_key = varying[-1] if varying else None
    y_key = varying[-2] if len(varying) > 1 else None
    rest = varying[:-2]
    if len({tuple(value(c, k) for k in rest) for c in cells}) == len(cells) > 1:  # no grid: captions instead
        for c in cells:
            c["caption"] = ", ".join(f"{k}={value(c, k)}" for k in rest)
        rest = []
    panels: dict[tuple, dict] = {}
    for c in cells:
        legend = tuple(f"{k}={value(c, k)}" for k in rest)
        panel = panels.setdefault(legend, {"legend": legend, "xs": [], "ys": [], "cells": {}})
        x, y = value(c, x_key) if x_key else "", value(c, y_key) if y_key else ""
        for axis, v in (("xs", x), ("ys", y)):
            if v not in panel[axis]:
                panel[axis].append(v)
        panel["cells"].setdefault((y, x), []).append(c)
    for panel in panels.values():
        panel["xs"].sort(key=_in_order)
        panel["ys"].sort(key=_in_order)
    return [k for k in (y_key, x_key) if k], list(panels.values())


@router.get("/sheet/{photo_id}", response_class=HTMLResponse)
def sheet(request: Request, site: SiteDep, photo_id: ItemId, job: OptionalId = None) -> HTMLResponse:
    """A photo's renders as X/Y grids of the parameters that vary (`xy_panels`); with `job`, only
    that sweep's renders, so the grid is the sweep's own axes whatever else the photo has."""
    photo_name = Path(site.path("photo", photo_id)).name
    only = set((site.jobs[job].result or {}).get("render_ids", [])) if job is not None else None
    with site.db.reading() as s:
        rows = list_renders(s, RenderFilter(photo_id=photo_id), limit=400)
        cells = [{"id": r.id, "params": json.loads(r.params), "guide": r.guide_id,
                  "verdicts": current_verdicts(s, r.id)} for r, _ in rows[::-1] if only is None or r.id in only]
        guide_names = {g.id: Path(g.path).name for g in s.query(Guide).where(
            Guide.id.in_({c["guide"] for c in cells if c["guide"] is not None}))}
    axes, panels = xy_panels(cells, guide_names)
    return site.page(request, "sheet.html", photo_id=photo_id, photo_name=photo_name, axes=axes, panels=panels)


@router.get("/similar/{photo_id}", response_class=HTMLResponse)
def similar(request: Request, site: SiteDep, photo_id: ItemId) -> HTMLResponse:
    rec = site.studio.recommend(photo_id, k=5)
    return site.page(request, "similar.html", photo_id=photo_id, rec=rec, sets=[rec.params, *rec.alternatives])


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, site: SiteDep, error: str | None = None) -> HTMLResponse:
    return site.page(request, "login.html", error=error)


@router.post("/login")
def login(request: Request, site: SiteDep, token: str = Form(..., max_length=200)) -> Response:
    client = request.client.host if request.client else "?"
    if site.sign_ins.blocked(client):
        raise HTTPException(429, "too many failed sign-ins; wait a minute")
    with site.db.reading() as s:
        who = curator_by_token(s, token.strip())
        holder = Holder(who.id, who.name, who.token_hash) if who and who.token_hash else None
    if holder is None:
        site.sign_ins.failed(client)
        return RedirectResponse("/login?error=unknown+token", status_code=303)
    resp = RedirectResponse("/", status_code=303)
    resp.set_cookie(COOKIE, site.sessions.start(holder), httponly=True, samesite="strict",
                    max_age=int(site.sessions.lifetime_s))
    return resp


@router.post("/logout")
def logout(request: Request, site: SiteDep, csrf: str = Form("", max_length=200)) -> Response:
    site.require_curator(request, csrf)
    site.sessions.revoke(request.cookies.get(COOKIE))
    resp = RedirectResponse("/", status_code=303)
    resp.delete_cookie(COOKIE)
    return resp


@router.get("/files/{kind}/{item_id}")
def file(site: SiteDep, kind: Literal["photo", "guide", "render"], item_id: ItemId,
         w: int | None = Query(None, ge=1, le=10**6)) -> Response:
    """The stored file, or with `w` a JPEG thumbnail of that width (for galleries)."""
    path = Path(site.path(kind, item_id))
    if not path.is_file():
        raise NotFound(f"{kind} {item_id}: file is gone")
    if w is None:
        return FileResponse(path)
    with Image.open(path) as img:
        img.thumbnail((min(max(w, 32), 1024), 4096))
        buf = io.BytesIO()
        img.convert("RGB").save(buf, format="JPEG", quality=85)
    return Response(buf.getvalue(), media_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})
