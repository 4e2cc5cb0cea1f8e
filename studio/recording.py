"""Rendering with a record: the PNG written atomically with its parameters, then a database row."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from prismarec.db import Database
from prismarec.db.store import add_render, delete_render
from prismarec.indexer.catalog import Catalog, Photo
from prismarec.renderer.images import RENDER_KEY, save_png
from prismarec.renderer.params import RenderParams
from prismarec.renderer.pipeline import RenderResult, render

from .outputs import fresh_output


def png_metadata(result: RenderResult) -> dict[str, str]:
    """What every render's PNG carries: its full parameters and the networks that dreamt and painted it."""
    return {RENDER_KEY: result.params.to_json(), "prismarec:backbone": result.backbone or "none",
            "prismarec:style_model": result.style_model or "none"}


def record(db: Database, photo_id: int, guide_id: int | None, result: RenderResult,
           output: str | os.PathLike, supersedes: int | None = None) -> int:
    """Store a render whose PNG is already written; returns its id. `supersedes` is a render
    without verdicts whose file this one replaced: its record goes, so no two point at one file."""
    with db.session() as s:
        if supersedes is not None:
            delete_render(s, supersedes)
        return add_render(s, photo_id, guide_id, result.params, result.backbone, str(Path(output).resolve()),
                          result.timings, result.style_model).id


def save_fresh(db: Database, result: RenderResult, folder: Path, stem: str, taken: set[Path]) -> Path:
    """Write a render under the first free name `fresh_output` gives; a name another process
    claims between the choice and the write moves this one to the next name."""
    while True:
        path = fresh_output(db, folder, stem, taken)
        try:
            return save_png(result.image, path, png_metadata(result), replace=False)
        except FileExistsError:
            continue


def render_and_record(catalog: Catalog, photo: Photo, params: RenderParams, output: str | os.PathLike, *,
                      guide: tuple[int, np.ndarray] | None = None, on_step: Callable[[], None] | None = None,
                      max_seconds: float | None = None, replace: bool = False,
                      supersedes: int | None = None) -> tuple[int, RenderResult]:
    """Render, write the PNG, then record it; returns the render id and the result.

    A render estimated to take longer than `max_seconds` is refused before it starts; an
    existing file at `output` is replaced only with `replace` (FileExistsError otherwise).
    """
    guide_id, guide_image = guide if guide else (None, None)
    result = render(photo.image, params, catalog.net, guide=guide_image, on_step=on_step, max_seconds=max_seconds)
    save_png(result.image, output, png_metadata(result), replace=replace)
    return record(catalog.db, photo.id, guide_id, result, output, supersedes), result
