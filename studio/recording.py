"""Rendering with a record: the PNG written atomically with its parameters, then a database row."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from db import Database
from db.store import add_render
from indexer.catalog import Catalog, Photo
from renderer.images import save_png
from renderer.params import RenderParams
from renderer.pipeline import RenderResult, render


def png_metadata(result: RenderResult) -> dict[str, str]:
    """What every render's PNG carries: its full parameters and the networks that dreamt and painted it."""
    return {"prismarec:params": result.params.to_json(), "prismarec:backbone": result.backbone or "none",
            "prismarec:style_model": result.style_model or "none"}


def record(db: Database, photo_id: int, guide_id: int | None, result: RenderResult,
           output: str | os.PathLike) -> int:
    """Store a render whose PNG is already written; returns its id."""
    with db.session() as s:
        return add_render(s, photo_id, guide_id, result.params, result.backbone, str(Path(output).resolve()),
                          result.timings, result.style_model).id


def render_and_record(catalog: Catalog, photo: Photo, params: RenderParams, output: str | os.PathLike, *,
                      guide: tuple[int, np.ndarray] | None = None, on_step: Callable[[], None] | None = None,
                      max_seconds: float | None = None) -> tuple[int, RenderResult]:
    """Render, write the PNG, then record it; returns the render id and the result.

    A render estimated to take longer than `max_seconds` is refused before it starts.
    """
    guide_id, guide_image = guide if guide else (None, None)
    result = render(photo.image, params, catalog.net, guide=guide_image, on_step=on_step, max_seconds=max_seconds)
    save_png(result.image, output, png_metadata(result))
    return record(catalog.db, photo.id, guide_id, result, output), result
