"""Parameter sweeps — the book's PrismaMaster, resumable and parallel.

Every combination of photos, guides and grid values is rendered and recorded. A render whose
photo, guide and parameters are already in the database (and whose file exists) is skipped,
so an interrupted sweep finishes the rest when run again. Work runs in this process, in a
pool of local processes (`workers`), or on any `concurrent.futures` executor — such as a
Dask cluster's `Client.get_executor()` for sweeps bigger than one machine.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from prismarec.db.store import find_renders
from prismarec.indexer.catalog import Catalog
from prismarec.renderer.images import load_image, save_png
from prismarec.renderer.params import RANGES, RenderParams, field_names, parse_value
from prismarec.renderer.pipeline import RenderResult, dream_key, render_many

from .recording import png_metadata, record

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepTask:
    photo_id: int
    photo_path: str
    guide_id: int | None
    guide_path: str | None
    params: RenderParams
    output: str
    label: tuple[tuple[str, Any], ...]  # the varying values, in grid order
    backbone: str = "auto"
    weights: str | None = None
    max_seconds: float | None = None  # a render estimated to take longer fails instead of running
    restores: int | None = None  # an earlier render of this task whose file is gone: drawn again, same id


@dataclass
class SweepReport:
    rendered: list[int] = field(default_factory=list)  # new render ids
    skipped: list[int] = field(default_factory=list)  # render ids found from an earlier run
    failed: list[tuple[str, str]] = field(default_factory=list)  # (output, why)
    outputs: dict[str, int] = field(default_factory=dict)  # each task's output -> its render id
    sheets: list[dict] = field(default_factory=list)  # per photo: photo_id, path, rows, columns


def parse_grid(items: Iterable[str]) -> dict[str, list[Any]]:
    """`["layer=a,b", "rb_rate=0.85,1"]` -> `{"layer": ["a", "b"], "rb_rate": [0.85, 1]}`."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep or not values:
            raise ValueError(f"expected --grid key=v1,v2,..., got {item!r}")
        if key not in field_names():
            raise ValueError(f"unknown parameter {key!r} in --grid; valid: {', '.join(field_names())}")
        if key in grid:
            raise ValueError(f"--grid {key} given twice")
        grid[key] = [parse_value(v) for v in values.split(",")]
    return grid


def neighbourhood(params: RenderParams, layers: list[str]) -> dict[str, list[Any]]:
    """A small grid around the current values ("sweep from here"): this layer and the next one,
    this rate and 0.1 less, half, same and double the medium window."""
    grid: dict[str, list[Any]] = {}
    if params.layer in layers:
        i = layers.index(params.layer)
        grid["layer"] = layers[i : i + 2]
    grid["rb_rate"] = sorted({params.rb_rate, round(max(0.0, params.rb_rate - 0.1), 2)}, reverse=True)
    grid["n2"] = sorted({max(1, params.n2 // 2), params.n2, min(RANGES["n2"][1], params.n2 * 2)})
    return grid


def _slug(value: Any) -> str:
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", str(value)).strip("_") or "none"


def plan(photos: list[tuple[int, str]], guides: list[tuple[int | None, str | None]], base: RenderParams,
         grid: dict[str, list[Any]], outdir: Path, *, backbone: str = "auto", weights: str | None = None,
         max_seconds: float | None = None) -> list[SweepTask]:
    """All tasks of the sweep, validated up front; file names carry only what varies."""
    keys = list(grid)
    combos = [dict(zip(keys, values, strict=True)) for values in itertools.product(*grid.values())]
    params_list = [base.replace(**combo) for combo in combos]  # raises on a bad value before any work
    varying = [k for k in keys if len(grid[k]) > 1]
    stems = [Path(p).stem for _, p in photos]
    tasks = []
    for (photo_id, photo_path), stem in zip(photos, stems, strict=True):
        folder = outdir / (stem if stems.count(stem) == 1 else f"{stem}-{photo_id}")
        for guide_id, guide_path in guides:
            guide_name = Path(guide_path).stem if guide_path else "none"
            for combo, params in zip(combos, params_list, strict=True):
                name = "_".join(f"{k.replace('_', '')}-{_slug(combo[k])}" for k in varying) or "render"
                label = ((("guide", guide_name),) if len(guides) > 1 else ()) + tuple((k, combo[k]) for k in varying)
                tasks.append(SweepTask(photo_id, photo_path, guide_id, guide_path, params,
                                       str(folder / guide_name / f"{name}.png"), label, backbone, weights,
                                       max_seconds))
    return tasks


def render_group(tasks: list[SweepTask]) -> list[RenderResult | Exception]:
    """Render tasks that share photo, guide and dream settings (one batched dream) and write their PNGs.

    Runs in any worker; the backbone loads once per process. Each task's outcome comes back in
    its place: the result, without its pixels (they are in the PNG), or the exception that stopped it.
    """
    from prismarec.renderer.backbones import load_backbone

    first = tasks[0]
    try:
        net = load_backbone(first.backbone, first.weights) if first.params.layer is not None else None
        photo = load_image(first.photo_path)
        guide = load_image(first.guide_path) if first.guide_path else None
    except Exception as exc:  # the whole group shares the failure
        return [exc] * len(tasks)
    outcomes: list[RenderResult | Exception] = []
    jobs = [(photo, t.params, guide) for t in tasks]
    for task, result in zip(tasks, render_many(jobs, net, max_seconds=first.max_seconds), strict=True):
        if isinstance(result, Exception):
            outcomes.append(result)
            continue
        try:
            save_png(result.image, task.output, png_metadata(result), replace=False)
            outcomes.append(replace(result, image=np.empty(0, np.uint8), mask=np.empty(0, np.uint8),
                                    keep=np.empty(0, bool)))
        except OSError as exc:
            outcomes.append(exc)
    return outcomes


def batches(tasks: list[SweepTask], size: int) -> list[list[SweepTask]]:
    """Groups of up to `size` tasks that can share a batched dream."""
    groups: dict[tuple, list[SweepTask]] = {}
    for t in tasks:
        key = (t.photo_path, t.guide_path, dream_key(t.params), t.params.size, t.params.keep_size)
        groups.setdefault(key, []).append(t)
    return [g[i : i + size] for g in groups.values() for i in range(0, len(g), size)]


def default_batch() -> int:
    """Batch dreams on a GPU; on a CPU one image at a time keeps progress smooth at the same speed."""
    import torch

    return 8 if torch.cuda.is_available() else 1


def _limit_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def local_pool(workers: int) -> ProcessPoolExecutor:
    """Worker processes sharing the cores; each loads the model on its first task."""
    threads = max(1, (os.cpu_count() or 1) // workers)
    return ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_limit_threads,
                               initargs=(threads,))


@contextmanager
def executor_for(workers: int = 1, dask: str | None = None) -> Iterator[Executor | None]:
    """Where renders run: this process (None), `workers` local processes, or a Dask cluster
    (`local`, or a scheduler address) — shut down, and the Dask client closed, on leaving."""
    if dask:
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=workers, threads_per_worker=1) if dask == "local" else None
        with Client(cluster or dask) as client, client.get_executor() as executor:
            yield executor
        if cluster is not None:
            cluster.close()
    elif workers > 1:
        with local_pool(workers) as pool:
            yield pool
    else:
        yield None


def run(catalog: Catalog, tasks: list[SweepTask], executor: Executor | None = None,
        on_task: Callable[[], None] | None = None, batch: int | None = None) -> SweepReport:
    """Render what is not done yet, record each render as it finishes, carry on past failures."""
    report = SweepReport()
    pending = []
    with catalog.db.reading() as s:
        for task in tasks:
            earlier = find_renders(s, task.photo_id, task.guide_id, task.params)
            done = next((r for r in earlier if Path(r.output_path).is_file()), None)
            if done is not None:
                report.skipped.append(done.id)
                report.outputs[task.output] = done.id
                if on_task:
                    on_task()
                continue
            lost = next((r.id for r in earlier if r.output_path == str(Path(task.output).resolve())), None)
            pending.append(replace(task, restores=lost))

    def finish(group: list[SweepTask], outcomes: list) -> None:
        for task, outcome in zip(group, outcomes, strict=True):
            if isinstance(outcome, Exception):
                log.warning("render %s failed: %s", task.output, outcome)
                report.failed.append((task.output, f"{type(outcome).__name__}: {outcome}"))
            elif task.restores is not None:  # its record already points at the file drawn again
                report.rendered.append(task.restores)
                report.outputs[task.output] = task.restores
            else:
                report.rendered.append(record(catalog.db, task.photo_id, task.guide_id, outcome, task.output))
                report.outputs[task.output] = report.rendered[-1]
            if on_task:
                on_task()

    groups = batches(pending, batch or default_batch())
    if executor is None:
        for group in groups:
            finish(group, render_group(group))
    else:
        futures = {executor.submit(render_group, group): group for group in groups}
        for future in as_completed(futures):
            group = futures[future]
            try:
                outcomes = future.result()
            except Exception as exc:  # a worker that died takes its group with it, not the sweep
                outcomes = [exc] * len(group)
            finish(group, outcomes)
    return report
