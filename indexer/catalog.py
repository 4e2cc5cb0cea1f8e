"""The photo catalogue: register photos by content, embed them, keep the index in step, record renders.

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

from db import Database
from db.store import (
    add_embedding,
    add_guide,
    add_photo,
    add_render,
    content_hash,
    embedding_of,
    has_embedding,
    photo_by_hash,
)
from renderer.backbones import Backbone
from renderer.images import ImageError, load_image, read_image_file, save_png
from renderer.params import RenderParams
from renderer.pipeline import RenderResult, render

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


def png_metadata(params: RenderParams, backbone: str | None) -> dict[str, str]:
    """What every render's PNG carries: its full parameters and the backbone that dreamt it."""
    return {"prismarec:params": params.to_json(), "prismarec:backbone": backbone or "none"}


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

    def render(self, photo: Photo, params: RenderParams, output: str | os.PathLike, *,
               guide: tuple[int, np.ndarray] | None = None, on_step: Callable[[], None] | None = None,
               max_seconds: float | None = None) -> tuple[int, RenderResult]:
        """Render, write the PNG (atomically, parameters in its metadata), then record it; returns the id.

        A render estimated to take longer than `max_seconds` is refused before it starts.
        """
        guide_id, guide_image = guide if guide else (None, None)
        result = render(photo.image, params, self.net, guide=guide_image, on_step=on_step, max_seconds=max_seconds)
        save_png(result.image, output, png_metadata(params, result.backbone))
        return self.record(photo.id, guide_id, params, result.backbone, output, result.timings), result

    def record(self, photo_id: int, guide_id: int | None, params: RenderParams, backbone: str | None,
               output: str | os.PathLike, timings: dict[str, float]) -> int:
        """Store a render whose PNG is already written; returns its id."""
        with self.db.session() as s:
            return add_render(s, photo_id, guide_id, params, backbone, str(Path(output).resolve()), timings).id
