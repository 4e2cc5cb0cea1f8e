"""Photos, guides and their embeddings: registration by content, and the vectors the index reads."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Embedding, Guide, Photo
from .changes import EMBEDDINGS_REMOVED, removals


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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


def embedding_count(s: Session, backbone: str) -> int:
    """How many embeddings a backbone has (a full count: for rebuilds, not for every query)."""
    return int(s.scalar(select(func.count(Embedding.id)).where(Embedding.backbone == backbone)))


def embedding_signature(s: Session, backbone: str) -> tuple[int, int]:
    """(largest id, removals) of a backbone's embeddings: what an index file must match to be
    current. Both are index lookups, so checking costs the same at 10³ photos as at 10⁶."""
    top = s.scalar(select(func.max(Embedding.id)).where(Embedding.backbone == backbone))
    return int(top or 0), removals(s, EMBEDDINGS_REMOVED)


def embedding_of(s: Session, photo_id: int, backbone: str) -> np.ndarray | None:
    blob = s.scalar(select(Embedding.vector).where(Embedding.photo_id == photo_id, Embedding.backbone == backbone))
    return None if blob is None else np.frombuffer(blob, "<f4").astype(np.float32)
