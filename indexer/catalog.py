"""The photo catalogue: register photos and guides by content, embed them, keep the index in step.

Every write goes to the database first and then to the FAISS index; if a process dies in
between, the next `VectorIndex.open` adds what is missing.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import select

from prismarec.db import Database, NotFound
from prismarec.db.models import Guide as GuideRow
from prismarec.db.models import Photo as PhotoRow
from prismarec.db.store import (
    add_embedding,
    add_guide,
    add_photo,
    content_hash,
    embedding_of,
    has_embedding,
    photo_by_hash,
)
from prismarec.renderer.images import ImageError, is_render, load_image, read_image_file

from .embed import Embedder
from .vector_index import VectorIndex

if TYPE_CHECKING:
    from prismarec.renderer.backbones import Backbone

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


@dataclass(frozen=True)
class Photo:
    """A photo, decoded. `stored` says whether it is registered and embedded in this backbone;
    until then `id` is None (or the row of a photo another backbone embedded)."""

    id: int | None
    path: str
    image: np.ndarray
    embedding: np.ndarray | None
    sha256: str
    stored: bool = True


@dataclass(frozen=True)
class GuideFile:
    """A guide image, decoded; `id` is None until it is registered."""

    id: int | None
    path: str
    image: np.ndarray
    sha256: str


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already known by content
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, why)


def image_files(paths: Iterable[str | os.PathLike]) -> Iterator[Path]:
    """Files given directly, and image files found under given folders (sorted). A folder's
    own renders (PNGs carrying their parameters) are artworks, not photos, and are passed over."""
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
            yield from (f for f in found if not is_render(f))
        else:
            yield p


@functools.lru_cache(maxsize=8)
def _decoded(path: str, mtime_ns: int, size: int) -> np.ndarray:
    """A file's image, decoded once per version of the file (read-only: it is shared)."""
    image = load_image(path)
    image.flags.writeable = False
    return image


class Catalog:
    """Photos and guides by content, their embeddings in the database and the index."""

    def __init__(self, db: Database, net: Backbone | Embedder, index_folder: Path | None = None):
        self.db = db
        self.embedder = net if isinstance(net, Embedder) else Embedder(net=net)
        self.index = VectorIndex(db, self.embedder.name, self.embedder.pooled_dim, index_folder)

    @property
    def net(self) -> Backbone:
        """The torch network (loaded on first use): renders need it, embeddings may not."""
        return self.embedder.net

    def read(self, path: str | os.PathLike) -> Photo:
        """A photo file decoded and looked up by content, writing nothing (so a refused command
        leaves no trace): embedded only if it is registered in this backbone already."""
        data, image = read_image_file(path)
        sha = content_hash(data)
        with self.db.reading() as s:
            row = photo_by_hash(s, sha)
            stored = embedding_of(s, row.id, self.embedder.name) if row is not None else None
            photo_id = row.id if row is not None else None
        return Photo(photo_id, str(path), image, stored, sha, stored=stored is not None)

    def embedded(self, photo: Photo) -> Photo:
        """The photo with its embedding, computed now if it has none (nothing is stored)."""
        if photo.embedding is not None:
            return photo
        return replace(photo, embedding=self.embedder([photo.image])[0])

    def register(self, ref: str | os.PathLike | Photo) -> Photo:
        """Register (or find) a photo by content and make sure it is embedded and indexed."""
        photo = self.embedded(ref if isinstance(ref, Photo) else self.read(ref))
        if photo.stored:
            return photo
        photo_id = self._store(photo.path, photo.sha256, photo.image.shape, photo.embedding)
        return replace(photo, id=photo_id, stored=True)

    def _store(self, path: str, sha: str, shape: tuple[int, ...], vector: np.ndarray,
               update_index: bool = True) -> int:
        with self.db.session() as s:
            row, _ = add_photo(s, sha, str(Path(path).resolve()), shape[1], shape[0])
            if not has_embedding(s, row.id, self.embedder.name):  # another process may have just added it
                add_embedding(s, row.id, self.embedder.name, vector)
            photo_id = row.id
        if update_index:
            self.index.refresh()
        return photo_id

    def ingest(self, paths: Iterable[str | os.PathLike], *, batch_size: int = 16,
               on_file: Callable[[int], None] | None = None) -> IngestReport:
        """Register and embed many files in batches; unreadable ones are reported, never fatal."""
        report = IngestReport()
        pending: list[tuple[str, bytes, np.ndarray]] = []
        seen: set[str] = set()  # hashes already taken in this run

        def flush() -> None:
            vectors = self.embedder([im for _, _, im in pending], batch_size=batch_size)
            for (path, data, image), vec in zip(pending, vectors, strict=True):
                self._store(path, content_hash(data), image.shape, vec, update_index=False)
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
        with self.db.reading() as s:
            photo = photo_by_hash(s, sha)
            return photo is not None and has_embedding(s, photo.id, self.embedder.name)

    def read_guide(self, path: str | os.PathLike) -> GuideFile:
        """A guide file decoded and looked up by content, writing nothing."""
        data, image = read_image_file(path)
        sha = content_hash(data)
        with self.db.reading() as s:
            guide_id = s.scalar(select(GuideRow.id).where(GuideRow.sha256 == sha))
        return GuideFile(guide_id, str(path), image, sha)

    def register_guide(self, ref: str | os.PathLike | GuideFile) -> tuple[int, np.ndarray]:
        guide = ref if isinstance(ref, GuideFile) else self.read_guide(ref)
        if guide.id is not None:
            return guide.id, guide.image
        with self.db.session() as s:
            row = add_guide(s, guide.sha256, str(Path(guide.path).resolve()), guide.image.shape[1],
                            guide.image.shape[0])
            return row.id, guide.image

    def photo(self, photo_id: int) -> Photo:
        """A registered photo by id: its file decoded but not hashed (the row holds the hash), and
        kept decoded while the file is unchanged, so a page's preview ticks read nothing again;
        embedded now if this backbone has not yet."""
        with self.db.reading() as s:
            row = s.get(PhotoRow, photo_id)
            if row is None:
                raise NotFound(f"no photo {photo_id}")
            path, sha = row.path, row.sha256
            vector = embedding_of(s, photo_id, self.embedder.name)
        if vector is None:
            return self.register(path)
        try:
            stat = os.stat(path)
        except OSError:
            raise NotFound(f"photo {photo_id}: its file is gone") from None
        return Photo(photo_id, path, _decoded(path, stat.st_mtime_ns, stat.st_size), vector, sha)
