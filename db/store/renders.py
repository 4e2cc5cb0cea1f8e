"""Renders: their parameters (hashed by what differs from the defaults), lookups, listing, deletion."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from prismarec.renderer.params import PARAMS_VERSION, RenderParams

from ..models import VERDICTS, Curator, Photo, Render, Verdict
from ..session import NotFound
from .changes import EMBEDDINGS_REMOVED, VERDICTS_WITHDRAWN, bump

log = logging.getLogger(__name__)

def params_hash(params: RenderParams) -> str:
    """SHA-256 of the values that differ from the defaults (sorted JSON): one set, one hash, and a
    new field with a default changes no stored hash (1 and 1.0 are one value)."""
    default = _DEFAULT.to_dict()
    changed = {name: value for name, value in params.to_dict().items() if value != default[name]}
    return hashlib.sha256(json.dumps(changed, sort_keys=True).encode()).hexdigest()


_DEFAULT = RenderParams()


def add_render(s: Session, photo_id: int, guide_id: int | None, params: RenderParams, backbone: str | None,
               output_path: str, timings: dict[str, float], style_model: str | None = None) -> Render:
    render = Render(photo_id=photo_id, guide_id=guide_id, params=params.to_json(), params_version=PARAMS_VERSION,
                    params_hash=params_hash(params), backbone=backbone, style_model=style_model, layer=params.layer,
                    mask=params.mask, output_path=output_path, timings=json.dumps(timings))
    s.add(render)
    s.flush()
    return render


def render_writing_to(s: Session, path: str) -> int | None:
    """The id of a render recorded with this output file (an absolute path), if any."""
    return s.scalar(select(Render.id).where(Render.output_path == path).limit(1))


def find_renders(s: Session, photo_id: int, guide_id: int | None, params: RenderParams) -> list[Render]:
    """Earlier renders of the same photo, guide and parameters, oldest first (for resumable batches)."""
    guide_match = Render.guide_id.is_(None) if guide_id is None else Render.guide_id == guide_id
    return list(s.scalars(select(Render).where(Render.photo_id == photo_id, guide_match,
                                               Render.params_hash == params_hash(params)).order_by(Render.id)))


def delete_render(s: Session, render_id: int) -> str:
    """Delete a render and its verdicts; returns its file's path, for the caller to remove."""
    render = s.get(Render, render_id)
    if render is None:
        raise NotFound(f"no render {render_id}")
    bump(s, VERDICTS_WITHDRAWN, len(render.verdicts))
    s.delete(render)
    return render.output_path


def delete_photo(s: Session, photo_id: int) -> list[str]:
    """Delete a photo with its embeddings, renders and their verdicts; returns the renders' paths."""
    photo = s.get(Photo, photo_id)
    if photo is None:
        raise NotFound(f"no photo {photo_id}")
    renders = list(s.scalars(select(Render).where(Render.photo_id == photo_id)))
    bump(s, EMBEDDINGS_REMOVED, len(photo.embeddings))
    bump(s, VERDICTS_WITHDRAWN, sum(len(r.verdicts) for r in renders))
    for render in renders:
        s.delete(render)
    s.flush()
    s.delete(photo)
    return [r.output_path for r in renders]


def stored_params(render_id: int, text: str, version: int | None) -> RenderParams:
    """A render's recorded parameters under today's rules; what changed is logged, never refused."""
    params, notes = RenderParams.from_stored(text, version)
    for note in notes:
        log.warning("render %d: stored parameters: %s", render_id, note)
    return params


@dataclass(frozen=True)
class RenderFilter:
    """Gallery filters; None means any."""

    verdict: str | None = None  # good | bad | untagged
    curator: str | None = None
    layer: str | None = None
    mask: str | None = None
    guide_id: int | None = None  # 0 means "no guide"
    photo_id: int | None = None
    sort: str = "date"  # date | score | next (photos to curate next first, in `photo_order`)
    photo_order: tuple[int, ...] = ()  # with sort "next": only these photos, in this order
    name: str | None = None  # part of the photo's file path


def list_renders(s: Session, f: RenderFilter, limit: int = 60, offset: int = 0) -> list[tuple[Render, float | None]]:
    """Renders with their mean current score, filtered and sorted for the gallery."""
    score = (select(func.avg(Verdict.score)).where(Verdict.render_id == Render.id, Verdict.current.is_(True))
             .correlate(Render).scalar_subquery())
    q = select(Render, score.label("score"))
    if f.verdict in VERDICTS or f.curator:
        judged = select(Verdict.render_id).join(Curator).where(Verdict.current.is_(True))
        if f.verdict in VERDICTS:
            judged = judged.where(Verdict.verdict == f.verdict)
        if f.curator:
            judged = judged.where(Curator.name == f.curator)
        q = q.where(Render.id.in_(judged))
    elif f.verdict == "untagged":
        q = q.where(~Render.id.in_(select(Verdict.render_id).where(Verdict.current.is_(True))))
    if f.layer:
        q = q.where(Render.layer == f.layer)
    if f.mask:
        q = q.where(Render.mask == f.mask)
    if f.guide_id is not None:
        q = q.where(Render.guide_id.is_(None) if f.guide_id == 0 else Render.guide_id == f.guide_id)
    if f.photo_id is not None:
        q = q.where(Render.photo_id == f.photo_id)
    if f.name:
        q = q.where(Render.photo_id.in_(select(Photo.id).where(Photo.path.contains(f.name, autoescape=True))))
    order: tuple = (Render.id.desc(),)
    if f.sort == "score":
        order = (score.desc().nulls_last(), Render.id.desc())
    elif f.sort == "next":
        if not f.photo_order:
            return []
        q = q.where(Render.photo_id.in_(f.photo_order))
        order = (case({pid: i for i, pid in enumerate(f.photo_order)}, value=Render.photo_id), Render.id.desc())
    return [(r, sc) for r, sc in s.execute(q.order_by(*order).limit(limit).offset(offset)).all()]
