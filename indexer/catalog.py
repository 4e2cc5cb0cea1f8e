"""The photo catalogue: register photos and guides by content, embed them, keep the index in step.

Every write goes to the database first and then to the FAISS index; if a process dies in
between, the next `VectorIndex.open` adds what is missing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from db import Database, NotFound
from db.models import Photo as PhotoRow
from db.store import (
    add_embedding,
    add_guide,
    add_photo,
    content_hash,
    embedding_of,
    has_embedding,
    photo_by_hash,
)
from renderer.backbones import Backbone
from renderer.images import ImageError, load_image, read_image_file

from .embed import embed
from .vector_index import VectorIndex

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


@dataclass
class Photo:
    """A registered photo, decoded."""

    id: int
    path: str
    image: np.ndarray
    embedding: np.ndarray


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already known by content
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, why)


def image_files(paths: Iterable[str | os.PathLike]) -> Iterator[Path]:
    """Files given directly, and image files found under given folders (sorted)."""
    for p in map(Path, paths):
        if p.is_dir():
            yield from sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
        else:
            yield p


class Catalog:
    def __init__(self, db: Database, net: Backbone, index_folder: Path | None = None):
        self.db, self.net = db, net
        self.index = VectorIndex(db, net.name, net.pooled_dim, index_folder)

    def register(self, path: str | os.PathLike) -> Photo:
        """Register (or find) a photo by content and make sure it is embedded and indexed."""
        data, image = read_image_file(path)
        return self._register(str(path), data, image)

    def _register(self, path: str, data: bytes, image: np.ndarray, vector: np.ndarray | None = None,
                  update_index: bool = True) -> Photo:
        sha = content_hash(data)
        with self.db.session() as s:
            photo, _ = add_photo(s, sha, str(Path(path).resolve()), image.shape[1], image.shape[0])
            stored = embedding_of(s, photo.id, self.net.name)
            photo_id = photo.id
        if stored is not None:
            return Photo(photo_id, path, image, stored)
        if vector is None:
            vector = embed([image], self.net)[0]
        with self.db.session() as s:
            if not has_embedding(s, photo_id, self.net.name):  # another process may have just added it
                add_embedding(s, photo_id, self.net.name, vector)
        if update_index:
            self.index.refresh()
        return Photo(photo_id, path, image, vector)

    def ingest(self, paths: Iterable[str | os.PathLike], *, batch_size: int = 16,
               on_file: Callable[[int], None] | None = None) -> IngestReport:
        """Register and embed many files in batches; unreadable ones are reported, never fatal."""
        report = IngestReport()
        pending: list[tuple[str, bytes, np.ndarray]] = []
        seen: set[str] = set()  # hashes already taken in this run

        def flush() -> None:
            vectors = embed([im for _, _, im in pending], self.net, batch_size=batch_size)
            for (path, data, image), vec in zip(pending, vectors, strict=True):
                self._register(path, data, image, vec, update_index=False)
                report.added.append(path)
            if on_file:
                on_file(len(pending))
            pending.clear()

        for path in image_files(paths):
            try:
                data = path.read_bytes()
            except OSError as exc:
                report.failed.append((str(path), exc.strerror or str(exc)))
                if on_file:
                    on_file(1)
                continue
            sha = content_hash(data)
            if sha in seen or self._known(sha):
                report.skipped.append(str(path))
                if on_file:
                    on_file(1)
                continue
            try:
                pending.append((str(path), data, load_image(data, name=str(path))))
                seen.add(sha)
            except ImageError as exc:
                report.failed.append((str(path), str(exc)))
                if on_file:
                    on_file(1)
                continue
            if len(pending) >= batch_size:
                flush()
        if pending:
            flush()
        self.index.refresh()
        return report

    def _known(self, sha: str) -> bool:
        with self.db.session() as s:
            photo = photo_by_hash(s, sha)
            return photo is not None and has_embedding(s, photo.id, self.net.name)

    def register_guide(self, path: str | os.PathLike) -> tuple[int, np.ndarray]:
        data, image = read_image_file(path)
        with self.db.session() as s:
            guide = add_guide(s, content_hash(data), str(Path(path).resolve()), image.shape[1], image.shape[0])
            return guide.id, image

    def photo(self, photo_id: int) -> Photo:
        """A registered photo by id, read from its file (embedded now if this backbone has not yet)."""
        with self.db.session() as s:
            row = s.get(PhotoRow, photo_id)
            if row is None:
                raise NotFound(f"no photo {photo_id}")
            path = row.path
        data, image = read_image_file(path)
        return self._register(path, data, image)
