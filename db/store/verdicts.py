"""Verdicts: tagging (one current verdict per curator and render, history kept) and what learning reads."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from prismarec.renderer.params import RenderParams

from ..models import VERDICTS, Curator, Render, Verdict
from .changes import VERDICTS_WITHDRAWN, bump, removals
from .curators import curator, curator_exists
from .renders import stored_params


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


def current_verdicts(s: Session, render_id: int) -> list[tuple[str, str, int | None, str | None]]:
    """(curator, verdict, score, note) of a render's current verdicts."""
    rows = s.execute(select(Curator.name, Verdict.verdict, Verdict.score, Verdict.note).join(Curator)
                     .where(Verdict.render_id == render_id, Verdict.current.is_(True)).order_by(Curator.name))
    return [tuple(r) for r in rows]
