"""Curators: names, sign-in tokens (only their hashes are stored), removal."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import Curator, Verdict


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


def curator_exists(s: Session, name: str) -> bool:
    return s.scalar(select(Curator.id).where(Curator.name == name)) is not None


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
