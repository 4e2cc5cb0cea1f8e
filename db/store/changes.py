"""Counters of removals (embeddings, verdicts): what caches built from the database compare against."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..models import Change

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
