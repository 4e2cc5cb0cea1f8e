"""The use cases every front end shares: register, recommend, render and record, tag, suggest.

The CLI and the web page call these and hold no orchestration of their own, so both answer the
same question the same way: a photo is always registered first, its own verdicts count (it is
its own closest curated neighbour), and the taste model always sees the photo.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from db import Database, NotFound
from db.models import Guide
from db.store import CuratorInfo, curator_exists, delete_photo, delete_render, remove_curator, untag
from db.store import curators as list_curators
from db.store import tag as store_tag
from recommender import MIN_SIMILARITY
from renderer.params import DEFAULT_MAX_SECONDS, RenderParams

if TYPE_CHECKING:  # the network side (torch, scikit-learn) is imported on first use: tagging needs none of it
    from indexer.catalog import Catalog, Photo
    from recommender.recommend import Recommendation
    from recommender.suggest import Suggestion
    from renderer.pipeline import RenderResult

PhotoRef = int | str | os.PathLike  # a registered photo's id, or a file


@dataclass
class AutoRender:
    """What `recommend_and_render` did for one photo."""

    photo: str
    render_id: int
    output: str
    params: RenderParams
    guide_id: int | None
    recommendation: Recommendation

    def to_dict(self) -> dict:
        rec = self.recommendation
        return {"photo": self.photo, "render_id": self.render_id, "output": self.output,
                "fallback": rec.fallback, "source": rec.source, "confidence": rec.confidence,
                "params": self.params.to_dict(), "guide_id": self.guide_id}


class Studio:
    """One database and one backbone (loaded on first use, shared by threads)."""

    def __init__(self, db: Database, backbone: str = "auto", weights: str | os.PathLike | None = None, *,
                 catalog: Catalog | None = None):
        self.db, self._backbone, self._weights = db, backbone, weights
        self._catalog = catalog
        self._lock = threading.Lock()
        self._guides: dict[int, np.ndarray] = {}

    @property
    def catalog(self) -> Catalog:
        from indexer.catalog import Catalog
        from renderer.backbones import load_backbone

        with self._lock:
            if self._catalog is None:
                self._catalog = Catalog(self.db, load_backbone(self._backbone, self._weights))
            return self._catalog

    def photo(self, ref: PhotoRef) -> Photo:
        """A photo by id (NotFound when unknown) or by file (registered, so verdicts on it count later)."""
        if isinstance(ref, int):
            return self.catalog.photo(ref)
        return self.catalog.register(ref)

    def _photo(self, photo: PhotoRef | Photo) -> Photo:
        from indexer.catalog import Photo

        return photo if isinstance(photo, Photo) else self.photo(photo)

    def guide(self, ref: PhotoRef) -> tuple[int, np.ndarray]:
        """A guide by id or by file, decoded once per process."""
        if isinstance(ref, int):
            if ref not in self._guides:
                with self.db.session() as s:
                    row = s.get(Guide, ref)
                    if row is None:
                        raise NotFound(f"no guide {ref}")
                    path = row.path
                self._guides[ref] = self.catalog.register_guide(path)[1]
            return ref, self._guides[ref]
        guide_id, image = self.catalog.register_guide(ref)
        self._guides[guide_id] = image
        return guide_id, image

    def recommend(self, photo: PhotoRef | Photo, k: int = 5, min_similarity: float = MIN_SIMILARITY,
                  curator: str | None = None) -> Recommendation:
        from recommender.recommend import recommend_for_vector

        found = self._photo(photo)
        return recommend_for_vector(self.catalog, found.embedding, k, image=found.image,
                                    min_similarity=min_similarity, curator=curator)

    def render(self, photo: PhotoRef | Photo, params: RenderParams, output: str | os.PathLike, *,
               guide: PhotoRef | None = None, on_step: Callable[[], None] | None = None,
               max_seconds: float | None = DEFAULT_MAX_SECONDS) -> tuple[int, RenderResult]:
        """Render, write the PNG and record it; returns the render id and the result."""
        from .recording import render_and_record

        return render_and_record(self.catalog, self._photo(photo), params, output, on_step=on_step,
                                 max_seconds=max_seconds, guide=self.guide(guide) if guide is not None else None)

    def recommend_and_render(self, photo: PhotoRef, output: str | os.PathLike, *,
                             adjust: Callable[[RenderParams], RenderParams] | None = None,
                             guide: PhotoRef | None = None, auto_guide: bool = False,
                             min_similarity: float = MIN_SIMILARITY, curator: str | None = None,
                             max_seconds: float | None = DEFAULT_MAX_SECONDS) -> AutoRender:
        """Recommend parameters for a photo and render it; `adjust` overrides fields of the choice,
        `auto_guide` takes the guide the recommendation names (else `guide`): the deciding render's, or
        the one the chosen set was liked with most."""
        from .recording import render_and_record

        found = self.photo(photo)
        rec = self.recommend(found, min_similarity=min_similarity, curator=curator)
        params = adjust(rec.params) if adjust else rec.params
        chosen = rec.guide_id if auto_guide and rec.guide_id is not None else guide
        entry = self.guide(chosen) if chosen is not None else None
        render_id, _ = render_and_record(self.catalog, found, params, output, guide=entry, max_seconds=max_seconds)
        return AutoRender(str(photo) if not isinstance(photo, int) else found.path, render_id, str(output), params,
                          entry[0] if entry else None, rec)

    def check_curator(self, name: str | None) -> None:
        """Refuse an unknown curator name before any work is done."""
        if name is not None:
            with self.db.session() as s:
                if not curator_exists(s, name):
                    raise ValueError(f"no curator named {name!r}")

    def tag(self, render_ids: list[int], curator: str, verdict: str, score: int | None = None,
            note: str | None = None, *, new_curator: bool = False) -> None:
        """One verdict on each render, all or none."""
        with self.db.session() as s:
            for render_id in render_ids:
                store_tag(s, render_id, curator, verdict, score, note, new_curator=new_curator)

    def untag(self, render_id: int, curator: str) -> bool:
        with self.db.session() as s:
            return untag(s, render_id, curator)

    def curators(self) -> list[CuratorInfo]:
        with self.db.session() as s:
            return list_curators(s)

    def remove_curator(self, name: str) -> None:
        with self.db.session() as s:
            remove_curator(s, name)

    def delete_render(self, render_id: int) -> None:
        """Delete a render, its verdicts and its file."""
        with self.db.session() as s:
            output = delete_render(s, render_id)
        Path(output).unlink(missing_ok=True)

    def delete_photo(self, photo_id: int) -> int:
        """Delete a photo from the catalogue with its renders (files included) and verdicts; the
        photo's own file is the user's and stays. Returns how many renders went."""
        with self.db.session() as s:
            outputs = delete_photo(s, photo_id)
        for output in outputs:
            Path(output).unlink(missing_ok=True)
        return len(outputs)

    def suggest(self, n: int = 20, curator: str | None = None) -> list[Suggestion]:
        from recommender.suggest import suggest

        return suggest(self.catalog, n, curator)

