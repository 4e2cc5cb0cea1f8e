"""The use cases every front end shares: register, recommend, render and record, tag, suggest.

The CLI and the web page call these and hold no orchestration of their own, so both answer the
same question the same way: a photo is always registered first, its own verdicts count (it is
its own closest curated neighbour), and the taste model always sees the photo.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from prismarec.db import Database, NotFound
from prismarec.db.models import Guide
from prismarec.db.store import (
    CuratorInfo,
    curator_exists,
    delete_photo,
    delete_render,
    find_renders,
    remove_curator,
    untag,
)
from prismarec.db.store import curators as list_curators
from prismarec.db.store import tag as store_tag
from prismarec.recommender import MIN_SIMILARITY
from prismarec.renderer.params import DEFAULT_MAX_SECONDS, RenderParams

if TYPE_CHECKING:  # the network side (torch, scikit-learn) is imported on first use: tagging needs none of it
    from prismarec.indexer.catalog import Catalog, GuideFile, Photo
    from prismarec.recommender.recommend import Recommendation
    from prismarec.recommender.suggest import Suggestion
    from prismarec.renderer.pipeline import RenderResult

    from .looks import Look
    from .sweep import SweepReport, SweepTask

PhotoRef = int | str | os.PathLike  # a registered photo's id, or a file


class Rendered(NamedTuple):
    render_id: int
    result: RenderResult
    photo_id: int


@dataclass
class AutoRender:
    """What `recommend_and_render` did for one photo; `skipped` when the folder already held its
    render with the chosen set (a re-run resumes instead of rendering twice)."""

    photo: str
    render_id: int
    output: str
    params: RenderParams
    guide_id: int | None
    recommendation: Recommendation
    skipped: bool = False

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
        from prismarec.db.paths import cache_dir
        from prismarec.indexer.catalog import Catalog
        from prismarec.indexer.embed import Embedder

        with self._lock:
            if self._catalog is None:
                self._catalog = Catalog(self.db, Embedder(self._backbone, self._weights, cache=cache_dir()))
            return self._catalog

    def photo(self, ref: PhotoRef) -> Photo:
        """A photo by id (NotFound when unknown) or by file (registered, so verdicts on it count later)."""
        if isinstance(ref, int):
            return self.catalog.photo(ref)
        return self.catalog.register(ref)

    def _photo(self, photo: PhotoRef | Photo) -> Photo:
        from prismarec.indexer.catalog import Photo

        return photo if isinstance(photo, Photo) else self.photo(photo)

    def _read(self, photo: PhotoRef | Photo) -> Photo:
        """A photo by id, or a file decoded without registering it (registered once nothing refuses)."""
        from prismarec.indexer.catalog import Photo

        if isinstance(photo, Photo):
            return photo
        return self.catalog.photo(photo) if isinstance(photo, int) else self.catalog.read(photo)

    def guide(self, ref: PhotoRef) -> tuple[int, np.ndarray]:
        """A guide by id or by file (registered), decoded once per process."""
        guide_id, image = self.catalog.register_guide(self.read_guide(ref))
        self._guides[guide_id] = image
        return guide_id, image

    def read_guide(self, ref: PhotoRef | GuideFile) -> GuideFile:
        """A guide by id (decoded once per process), or a file decoded without registering it."""
        from prismarec.indexer.catalog import GuideFile

        if isinstance(ref, GuideFile):
            return ref
        if not isinstance(ref, int):
            return self.catalog.read_guide(ref)
        with self.db.reading() as s:
            row = s.get(Guide, ref)
            if row is None:
                raise NotFound(f"no guide {ref}")
            path, sha = row.path, row.sha256
        if ref not in self._guides:
            self._guides[ref] = self.catalog.read_guide(path).image
        return GuideFile(ref, path, self._guides[ref], sha)

    def recommend(self, photo: PhotoRef | Photo, k: int = 5, min_similarity: float = MIN_SIMILARITY,
                  curator: str | None = None) -> Recommendation:
        """Recommend for a photo, registering it first (a file) so later verdicts on it count."""
        return self._recommend(self._photo(photo), k, min_similarity, curator)

    def _recommend(self, photo: Photo, k: int = 5, min_similarity: float = MIN_SIMILARITY,
                   curator: str | None = None) -> Recommendation:
        from prismarec.recommender.recommend import recommend_for_vector

        found = self.catalog.embedded(photo)
        return recommend_for_vector(self.catalog, found.embedding, k, image=found.image,
                                    min_similarity=min_similarity, curator=curator)

    def render(self, photo: PhotoRef | Photo, params: RenderParams, output: str | os.PathLike, *,
               guide: PhotoRef | None = None, on_step: Callable[[], None] | None = None,
               max_seconds: float | None = DEFAULT_MAX_SECONDS, overwrite: bool = False) -> Rendered:
        """Render, write the PNG and record it.

        Whatever can refuse (the photo and guide files, the parameters, the estimated time, the
        output) is checked before anything is written: a refused render leaves no row and no file.
        """
        from prismarec.renderer.pipeline import check_render

        from .outputs import check_output
        from .recording import render_and_record

        found = self._read(photo)
        guide_file = self.read_guide(guide) if guide is not None else None
        check_render(found.image, params, self.catalog.net, guide_file.image if guide_file else None, max_seconds)
        supersedes = check_output(self.db, output, overwrite=overwrite,
                                  inputs=(found.path, guide_file.path if guide_file else None))
        found = self.catalog.register(found)
        entry = self.catalog.register_guide(guide_file) if guide_file else None
        render_id, result = render_and_record(self.catalog, found, params, output, guide=entry, on_step=on_step,
                                              replace=overwrite, supersedes=supersedes)
        return Rendered(render_id, result, found.id)

    def recommend_and_render(self, photo: PhotoRef, output_dir: str | os.PathLike, *,
                             adjust: Callable[[RenderParams], RenderParams] | None = None,
                             guide: PhotoRef | GuideFile | None = None, auto_guide: bool = False,
                             min_similarity: float = MIN_SIMILARITY, curator: str | None = None,
                             max_seconds: float | None = DEFAULT_MAX_SECONDS,
                             taken: set[Path] | None = None) -> AutoRender:
        """Recommend parameters for a photo and render it into `output_dir` (`plan_auto`), here."""
        planned, task = self.plan_auto(photo, output_dir, adjust=adjust, guide=guide, auto_guide=auto_guide,
                                       min_similarity=min_similarity, curator=curator, max_seconds=max_seconds,
                                       taken=taken)
        return planned if task is None else self.render_planned([(planned, task)])[0]

    def plan_auto(self, photo: PhotoRef, output_dir: str | os.PathLike, *,
                  adjust: Callable[[RenderParams], RenderParams] | None = None,
                  guide: PhotoRef | GuideFile | None = None, auto_guide: bool = False,
                  min_similarity: float = MIN_SIMILARITY, curator: str | None = None,
                  max_seconds: float | None = DEFAULT_MAX_SECONDS,
                  taken: set[Path] | None = None) -> tuple[AutoRender, SweepTask | None]:
        """The recommendation for a photo and where its render goes, `<name>.png` in `output_dir` (or
        `<name>-2.png`, … when that name is a file, an earlier render's, or in `taken`: the names
        this batch used and its inputs), with the task that renders it; no task when the folder
        already holds this photo's render with the chosen set and guide (`skipped`). `adjust`
        overrides fields of the choice; `auto_guide` takes the guide the recommendation names
        (else `guide`). Refused (ValueError) before anything is written when it cannot render."""
        from prismarec.renderer.pipeline import check_render

        from .outputs import fresh_output
        from .sweep import SweepTask

        found = self.catalog.embedded(self._read(photo))
        rec = self._recommend(found, min_similarity=min_similarity, curator=curator)
        params = adjust(rec.params) if adjust else rec.params
        chosen = rec.guide_id if auto_guide and rec.guide_id is not None else guide
        guide_file = self.read_guide(chosen) if chosen is not None else None
        check_render(found.image, params, self.catalog.net, guide_file.image if guide_file else None, max_seconds)
        name = str(photo) if not isinstance(photo, int) else found.path
        folder = Path(output_dir)
        earlier = self._rendered_in(folder, found, guide_file, params)
        if earlier is not None:
            return AutoRender(name, earlier[0], earlier[1], params, guide_file.id if guide_file else None, rec,
                              skipped=True), None
        found = self.catalog.register(found)
        guide_id = self.catalog.register_guide(guide_file)[0] if guide_file else None
        taken = taken if taken is not None else {Path(found.path).resolve()}
        output = str(fresh_output(self.db, folder, Path(found.path).stem, taken))
        task = SweepTask(found.id, str(Path(found.path).resolve()), guide_id,
                         str(Path(guide_file.path).resolve()) if guide_file else None, params, output, (),
                         self.catalog.embedder.name, str(self._weights) if self._weights else None, max_seconds)
        return AutoRender(name, 0, output, params, guide_id, rec), task

    def render_planned(self, planned: list[tuple[AutoRender, SweepTask]], executor: Executor | None = None,
                       on_task: Callable[[], None] | None = None) -> list[AutoRender | Exception]:
        """Render what `plan_auto` planned — here, or on an executor (worker processes, a Dask
        cluster) — recording each render as it finishes; a failure comes back in its place."""
        from .sweep import run as run_tasks

        report = run_tasks(self.catalog, [task for _, task in planned], executor, on_task=on_task)
        failed = dict(report.failed)
        return [dataclasses.replace(auto, render_id=report.outputs[task.output]) if task.output in report.outputs
                else ValueError(failed.get(task.output, "not rendered")) for auto, task in planned]

    def plan_sweep(self, photos: list[PhotoRef], guides: list[PhotoRef | GuideFile], base: RenderParams,
                   grid: dict[str, list], output_dir: str | os.PathLike,
                   max_seconds: float | None = DEFAULT_MAX_SECONDS,
                   on_skip: Callable[[str], None] | None = None) -> list[SweepTask]:
        """Every combination of photos, guides and grid values (the book's PrismaMaster), each grid
        point checked (values, guide, time) on every photo before anything is written — a sweep
        that cannot render is refused (ValueError) here, not render by render later. Unreadable
        photo files are passed to `on_skip` and left out."""
        from prismarec.renderer.pipeline import check_render

        from .sweep import plan

        readable = []
        for ref in photos:
            try:
                readable.append(self._read(ref))
            except ValueError as exc:
                if on_skip is None:
                    raise
                on_skip(str(exc))
        guide_files = [self.read_guide(g) for g in guides]
        draft = plan([(i, p.path) for i, p in enumerate(readable)], [(i, g.path) for i, g in enumerate(guide_files)]
                     or [(None, None)], base, grid, output_dir)
        for task in draft:
            check_render(readable[task.photo_id].image, task.params, self.catalog.net,
                         None if task.guide_id is None else guide_files[task.guide_id].image, max_seconds)
        registered = [(self.catalog.register(p).id, str(Path(p.path).resolve())) for p in readable]
        guide_list = [(self.catalog.register_guide(g)[0], str(Path(g.path).resolve())) for g in guide_files]
        return plan(registered, guide_list or [(None, None)], base, grid, output_dir,
                    backbone=self.catalog.embedder.name, weights=str(self._weights) if self._weights else None,
                    max_seconds=max_seconds)

    def sweep(self, tasks: list[SweepTask], executor: Executor | None = None,
              on_task: Callable[[], None] | None = None) -> SweepReport:
        """Render a planned sweep (here, or on an executor) and draw each photo's contact sheet, an
        X/Y grid of the sweep's own axes, next to its renders."""
        from .contact_sheet import contact_sheet
        from .sweep import run

        report = run(self.catalog, tasks, executor, on_task=on_task)
        for photo_id in dict.fromkeys(t.photo_id for t in tasks):
            mine = [t for t in tasks if t.photo_id == photo_id]
            sheet_path, shape = contact_sheet(mine, Path(mine[0].output).parents[1] / "contact_sheet.png")
            report.sheets.append({"photo_id": photo_id, "path": str(sheet_path), "rows": shape[0],
                                  "columns": shape[1]})
        return report

    def _rendered_in(self, folder: Path, photo: Photo, guide: GuideFile | None,
                     params: RenderParams) -> tuple[int, str] | None:
        """(id, file) of an earlier render of this photo, guide and set whose file is in `folder`."""
        if photo.id is None or (guide is not None and guide.id is None):
            return None
        with self.db.reading() as s:
            for render in find_renders(s, photo.id, guide.id if guide else None, params):
                path = Path(render.output_path)
                if path.parent == folder.resolve() and path.is_file():
                    return render.id, render.output_path
        return None

    def check_curator(self, name: str | None) -> None:
        """Refuse an unknown curator name before any work is done."""
        if name is not None:
            with self.db.reading() as s:
                if not curator_exists(s, name):
                    raise ValueError(f"no curator named {name!r}")

    def tag(self, render_ids: list[int], curator: str, verdict: str, score: int | None = None,
            note: str | None = None, *, new_curator: bool = False, keep_earlier: bool = True) -> None:
        """One verdict on each render, all or none; a score or note not given keeps the earlier
        one unless `keep_earlier` is false."""
        with self.db.session() as s:
            for render_id in render_ids:
                store_tag(s, render_id, curator, verdict, score, note, new_curator=new_curator,
                          keep_earlier=keep_earlier)

    def untag(self, render_id: int, curator: str) -> bool:
        with self.db.session() as s:
            return untag(s, render_id, curator)

    def curators(self) -> list[CuratorInfo]:
        with self.db.reading() as s:
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

    def strip(self, photo: PhotoRef | Photo, curator: str | None = None, filters: int = 8) -> list[Look]:
        """The filter strip's looks for a photo: its recommendation and alternatives, then `filters`
        painting filters, those curators liked most first."""
        from prismarec.db.store import curated

        from .looks import liked_filters, strip_looks

        rec = self.recommend(photo, curator=curator)
        with self.db.reading() as s:
            liked = liked_filters(curated(s, curator=curator))
        looks = strip_looks(rec.params, rec.alternatives, rec.confidence, liked)
        return looks[: 1 + len(rec.alternatives) + filters]

    def suggest(self, n: int = 20, curator: str | None = None) -> list[Suggestion]:
        from prismarec.recommender.suggest import suggest

        return suggest(self.catalog, n, curator)

