"""Database operations shared by the CLI, the recommender and the web page."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from prismarec.renderer.params import PARAMS_VERSION, RenderParams
from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .models import Change, Curator, Embedding, Guide, Photo, Render, Verdict
from .session import NotFound

log = logging.getLogger(__name__)

VERDICTS = ("good", "bad")


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def params_hash(params: RenderParams) -> str:
    """SHA-256 of the values that differ from the defaults (sorted JSON): one set, one hash, and a
    new field with a default changes no stored hash (1 and 1.0 are one value)."""
    default = _DEFAULT.to_dict()
    changed = {name: value for name, value in params.to_dict().items() if value != default[name]}
    return hashlib.sha256(json.dumps(changed, sort_keys=True).encode()).hexdigest()


_DEFAULT = RenderParams()


def photo_by_hash(s: Session, sha256: str) -> Photo | None:
    return s.scalar(select(Photo).where(Photo.sha256 == sha256))


def add_photo(s: Session, sha256: str, path: str, width: int, height: int) -> tuple[Photo, bool]:
    """The photo with these bytes, created if new; the flag says whether it was created."""
    photo = photo_by_hash(s, sha256)
    if photo is not None:
        return photo, False
    photo = Photo(sha256=sha256, path=path, width=width, height=height)
    s.add(photo)
    s.flush()
    return photo, True


def add_guide(s: Session, sha256: str, path: str, width: int, height: int) -> Guide:
    guide = s.scalar(select(Guide).where(Guide.sha256 == sha256))
    if guide is None:
        guide = Guide(sha256=sha256, path=path, width=width, height=height)
        s.add(guide)
        s.flush()
    return guide


def has_embedding(s: Session, photo_id: int, backbone: str) -> bool:
    found = select(Embedding.id).where(Embedding.photo_id == photo_id, Embedding.backbone == backbone)
    return s.scalar(found) is not None


def add_embedding(s: Session, photo_id: int, backbone: str, vector: np.ndarray) -> Embedding:
    vec = np.ascontiguousarray(vector, dtype="<f4")
    emb = Embedding(photo_id=photo_id, backbone=backbone, dim=int(vec.shape[0]), vector=vec.tobytes())
    s.add(emb)
    s.flush()
    return emb


def embedding_matrix(s: Session, backbone: str, after_id: int = 0, limit: int | None = None, *,
                     photo_ids: Iterable[int] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(photo ids, embedding ids, float32 [N, D]) for one backbone, embedding ids > after_id in
    order, at most `limit` of them (of `photo_ids` only, when given)."""
    q = select(Embedding.photo_id, Embedding.id, Embedding.vector).where(
        Embedding.backbone == backbone, Embedding.id > after_id)
    if photo_ids is not None:
        q = q.where(Embedding.photo_id.in_(list(photo_ids)))
    return _as_arrays(s.execute(q.order_by(Embedding.id).limit(limit)).all())


SAMPLE_BATCH = 10_000  # ids per query when fetching a sample (under every database's bound-parameter limit)


def embedding_sample(s: Session, backbone: str, count: int, seed: int = 0) -> np.ndarray:
    """`count` of a backbone's vectors chosen at random, float32 [N, D].

    The ids are drawn first and the vectors read in batches into one array: sorting the rows
    themselves at random would hold every chosen vector two or three times at once (a 10⁶-photo
    index trains on 160 000, 0.8 GB each time)."""
    ids = np.array(s.scalars(select(Embedding.id).where(Embedding.backbone == backbone)).all(), np.int64)
    chosen = np.sort(np.random.default_rng(seed).choice(ids, min(count, len(ids)), replace=False))
    out: np.ndarray | None = None
    for start in range(0, len(chosen), SAMPLE_BATCH):
        part = chosen[start : start + SAMPLE_BATCH].tolist()
        vectors = _as_arrays(s.execute(select(Embedding.photo_id, Embedding.id, Embedding.vector)
                                       .where(Embedding.id.in_(part)).order_by(Embedding.id)).all())[2]
        if out is None:
            out = np.empty((len(chosen), vectors.shape[1]), np.float32)
        out[start : start + len(vectors)] = vectors
    return out if out is not None else np.zeros((0, 0), np.float32)


def _as_arrays(rows: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
    vectors = np.stack([np.frombuffer(r.vector, "<f4") for r in rows])  # already float32: no second copy
    return np.array([r.photo_id for r in rows], np.int64), np.array([r.id for r in rows], np.int64), vectors


EMBEDDINGS_REMOVED, VERDICTS_WITHDRAWN = "embeddings_removed", "verdicts_withdrawn"


def bump(s: Session, name: str, by: int = 1) -> None:
    """Count a removal, so caches built before it notice (`embedding_signature`, `verdict_signature`)."""
    if by:
        changed = s.execute(update(Change).where(Change.name == name).values(value=Change.value + by)).rowcount
        if not changed:
            s.add(Change(name=name, value=by))
            s.flush()


def removals(s: Session, name: str) -> int:
    return int(s.scalar(select(Change.value).where(Change.name == name)) or 0)


def embedding_count(s: Session, backbone: str) -> int:
    """How many embeddings a backbone has (a full count: for rebuilds, not for every query)."""
    return int(s.scalar(select(func.count(Embedding.id)).where(Embedding.backbone == backbone)))


def embedding_signature(s: Session, backbone: str) -> tuple[int, int]:
    """(largest id, removals) of a backbone's embeddings: what an index file must match to be
    current. Both are index lookups, so checking costs the same at 10³ photos as at 10⁶."""
    top = s.scalar(select(func.max(Embedding.id)).where(Embedding.backbone == backbone))
    return int(top or 0), removals(s, EMBEDDINGS_REMOVED)


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


def curator(s: Session, name: str) -> Curator:
    """The curator of that name, created if new; safe when processes create the same one at once."""
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 64:
        raise ValueError(f"curator name must be 1-64 characters, got {name!r}")
    name = name.strip()
    found = s.scalar(select(Curator).where(Curator.name == name))
    if found is None:
        try:
            with s.begin_nested():  # another process may insert the same name between our select and insert
                found = Curator(name=name)
                s.add(found)
        except IntegrityError:
            found = s.scalar(select(Curator).where(Curator.name == name))
    return found


def check_score(score: object) -> int | None:
    """A score is None or a whole number 1-5 (not 3.7, not true)."""
    if score is None:
        return None
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise ValueError(f"score must be a whole number from 1 to 5, got {score!r}")
    return score


def tag(s: Session, render_id: int, curator_name: str, verdict: str, score: int | None = None,
        note: str | None = None, *, new_curator: bool = True, keep_earlier: bool = True) -> Verdict:
    """Record a verdict; it replaces the same curator's earlier verdict on that render (kept as history).

    A score or note not given (None) carries over from the earlier verdict unless `keep_earlier`
    is false: changing good to bad does not silently drop the 4/5 and the note given with it.
    The render row is locked first, so two simultaneous verdicts on one render queue instead of
    both staying current (a partial unique index guarantees one current verdict per curator).
    With `new_curator` false an unknown name is refused instead of created (a typo is not a curator).
    """
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be good or bad, got {verdict!r}")
    score = check_score(score)
    if note is not None and not isinstance(note, str):
        raise ValueError(f"note must be text, got {note!r}")
    if not isinstance(render_id, int) or isinstance(render_id, bool):
        raise ValueError(f"render id must be a whole number, got {render_id!r}")
    if s.get(Render, render_id, with_for_update=True) is None:
        raise ValueError(f"no render with id {render_id}")
    if not new_curator and not curator_exists(s, curator_name):
        raise ValueError(f"no curator named {curator_name!r} (add them with `prismarec curator add`)")
    who = curator(s, curator_name)
    earlier = s.scalar(select(Verdict).where(Verdict.render_id == render_id, Verdict.curator_id == who.id,
                                             Verdict.current.is_(True)))
    if earlier is not None and keep_earlier:
        score = earlier.score if score is None else score
        note = earlier.note if note is None else note
    _retire(s, render_id, who.id)
    v = Verdict(render_id=render_id, curator_id=who.id, verdict=verdict, score=score, note=note, current=True)
    s.add(v)
    s.flush()
    return v


def _retire(s: Session, render_id: int, curator_id: int) -> int:
    """Make a curator's current verdict on a render history; returns how many were current."""
    return s.execute(update(Verdict).where(Verdict.render_id == render_id, Verdict.curator_id == curator_id,
                                           Verdict.current.is_(True)).values(current=False)).rowcount


def untag(s: Session, render_id: int, curator_name: str) -> bool:
    """Withdraw a curator's verdict on a render (it stays in the history); false when there was none."""
    who = s.scalar(select(Curator).where(Curator.name == curator_name))
    withdrawn = _retire(s, render_id, who.id) if who is not None else 0
    bump(s, VERDICTS_WITHDRAWN, withdrawn)
    return withdrawn > 0


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


@dataclass(frozen=True)
class CuratorInfo:
    name: str
    verdicts: int  # current ones
    can_sign_in: bool


def curators(s: Session) -> list[CuratorInfo]:
    counts = dict(s.execute(select(Verdict.curator_id, func.count(Verdict.id)).where(Verdict.current.is_(True))
                            .group_by(Verdict.curator_id)).all())
    return [CuratorInfo(c.name, counts.get(c.id, 0), c.token_hash is not None)
            for c in s.scalars(select(Curator).order_by(Curator.name))]


def remove_curator(s: Session, name: str) -> None:
    """Revoke a curator's sign-in; one with no verdicts at all is deleted, others keep their verdicts."""
    who = s.scalar(select(Curator).where(Curator.name == name))
    if who is None:
        raise ValueError(f"no curator named {name!r}")
    if s.scalar(select(func.count(Verdict.id)).where(Verdict.curator_id == who.id)):
        who.token_hash = None
    else:
        s.delete(who)


@dataclass(frozen=True)
class CuratedRender:
    """A render with one current verdict, flattened for the recommender."""

    photo_id: int
    render_id: int
    guide_id: int | None
    params: RenderParams
    verdict: str
    score: int | None
    curator: str


def curated(s: Session, photo_ids: Iterable[int] | None = None, curator: str | None = None) -> list[CuratedRender]:
    """Current verdicts on renders of the given photos (all photos when None), of one curator or all."""
    q = (select(Render.photo_id, Render.id, Render.guide_id, Render.params, Verdict.verdict, Verdict.score,
                Curator.name, Render.params_version)
         .join(Verdict, Verdict.render_id == Render.id).join(Curator, Curator.id == Verdict.curator_id)
         .where(Verdict.current.is_(True)).order_by(Render.id))
    if photo_ids is not None:
        q = q.where(Render.photo_id.in_(list(photo_ids)))
    if curator is not None:
        q = q.where(Curator.name == curator)
    return [CuratedRender(r[0], r[1], r[2], stored_params(r[1], r[3], r[7]), r[4], r[5], r[6]) for r in s.execute(q)]


def untagged(s: Session, photo_ids: Iterable[int], curator: str | None = None) -> list[tuple[int, RenderParams]]:
    """(photo id, parameters) of the renders of these photos that carry no current verdict (of that
    curator): a curator who tagged some of a photo's renders saw these and passed them over."""
    tagged = select(Verdict.id).where(Verdict.render_id == Render.id, Verdict.current.is_(True))
    if curator is not None:
        tagged = tagged.join(Curator, Curator.id == Verdict.curator_id).where(Curator.name == curator)
    q = (select(Render.photo_id, Render.id, Render.params, Render.params_version)
         .where(Render.photo_id.in_(list(photo_ids)), ~tagged.exists()).order_by(Render.id))
    return [(r[0], stored_params(r[1], r[2], r[3])) for r in s.execute(q)]


def curated_photo_ids(s: Session, curator: str | None = None) -> list[int]:
    """Photos with at least one current verdict (of that curator), for searching among them only."""
    q = select(Render.photo_id).join(Verdict, Verdict.render_id == Render.id).where(Verdict.current.is_(True))
    if curator is not None:
        q = q.join(Curator, Curator.id == Verdict.curator_id).where(Curator.name == curator)
    return list(s.scalars(q.distinct()))


def verdict_signature(s: Session) -> tuple[int, int]:
    """(newest verdict id, verdicts withdrawn or deleted): what anything learnt from verdicts must
    match. A new verdict raises the id; untagging and deletions count as withdrawals. O(1)."""
    return int(s.scalar(select(func.max(Verdict.id))) or 0), removals(s, VERDICTS_WITHDRAWN)


def curator_exists(s: Session, name: str) -> bool:
    return s.scalar(select(Curator.id).where(Curator.name == name)) is not None


def stored_params(render_id: int, text: str, version: int | None) -> RenderParams:
    """A render's recorded parameters under today's rules; what changed is logged, never refused."""
    params, notes = RenderParams.from_stored(text, version)
    for note in notes:
        log.warning("render %d: stored parameters: %s", render_id, note)
    return params


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_curator_token(s: Session, name: str) -> str:
    """Create (or re-key) a curator and return their new sign-in token; only its hash is stored."""
    token = secrets.token_urlsafe(24)
    curator(s, name).token_hash = hash_token(token)
    return token


def curator_by_token(s: Session, token: str | None) -> Curator | None:
    if not token:
        return None
    return s.scalar(select(Curator).where(Curator.token_hash == hash_token(token)))


def embedding_of(s: Session, photo_id: int, backbone: str) -> np.ndarray | None:
    blob = s.scalar(select(Embedding.vector).where(Embedding.photo_id == photo_id, Embedding.backbone == backbone))
    return None if blob is None else np.frombuffer(blob, "<f4").astype(np.float32)


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


def current_verdicts(s: Session, render_id: int) -> list[tuple[str, str, int | None, str | None]]:
    """(curator, verdict, score, note) of a render's current verdicts."""
    rows = s.execute(select(Curator.name, Verdict.verdict, Verdict.score, Verdict.note).join(Curator)
                     .where(Verdict.render_id == render_id, Verdict.current.is_(True)).order_by(Curator.name))
    return [tuple(r) for r in rows]
