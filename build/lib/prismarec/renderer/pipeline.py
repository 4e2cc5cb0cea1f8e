"""The whole render: resize, gray, mask, keep map, blend, enhance, dream — timed stage by stage."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from . import images
from .backbones import Backbone
from .blend import blend, keep_map
from .cost import BudgetError, check_budget
from .dream import dream_at_scale, dream_shape
from .enhance import enhance
from .masks import make_mask
from .params import RenderParams, at_width, fields_of, output_width


@dataclass
class RenderResult:
    image: np.ndarray  # (H, W, 3) uint8
    mask: np.ndarray  # (H, W) uint8 0/255
    keep: np.ndarray  # (H, W) bool
    params: RenderParams
    backbone: str | None
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    style_model: str | None = None  # the network that painted the style stage, if any


class _Laps:
    """Seconds per stage, measured between calls; past `max_seconds` the next stage boundary or
    step stops the render (`BudgetError`), whatever the estimate said."""

    def __init__(self, max_seconds: float | None = None, on_step: Callable[[], None] | None = None) -> None:
        self.timings: dict[str, float] = {}
        self.clock = self.start = time.perf_counter()
        self.max_seconds, self.on_step = max_seconds, on_step

    def __call__(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = now - self.clock
        self.clock = now
        self.check(stage)

    def step(self) -> None:
        """Between the steps of a dream or a Gatys style: the caller's callback, then the clock."""
        if self.on_step:
            self.on_step()
        self.check("a step")

    def check(self, stage: str) -> None:
        spent = time.perf_counter() - self.start
        if self.max_seconds is not None and spent > self.max_seconds:
            raise BudgetError(f"stopped after {stage}: {spent:.0f} s spent, over the limit of {self.max_seconds:.0f} s "
                              "(lower size or the dream's steps, or raise the limit with --max-seconds)")


def check_render(photo: np.ndarray, params: RenderParams, net: Backbone | None, guide: np.ndarray | None,
                 max_seconds: float | None = None) -> None:
    """Fail before any work on a missing backbone, an unknown layer, a missing guide, a working
    image out of bounds, or an estimated time over `max_seconds`."""
    if params.layer is not None:
        if net is None:
            raise ValueError("a backbone is needed to dream; pass net or set layer=None")
        net.resolve(params.layer, params.post_relu)
    if params.guide_dream and guide is None:
        raise ValueError("guide_dream needs a guide image")
    if params.style in ("fast", "gatys") and guide is None:
        raise ValueError(f"style={params.style} needs a guide image: the guide is the style "
                         "(style=painting needs none)")
    images.work_shape(photo.shape, output_width(params, photo.shape), keep_size=params.keep_size)
    check_budget(net, params, photo.shape, max_seconds)


@dataclass
class Prepared:
    """Every stage before the dream, done."""

    image: np.ndarray  # the enhanced blend, styled when asked
    mask: np.ndarray
    keep: np.ndarray
    guide: np.ndarray | None  # fitted to the photo
    style_model: str | None


def prepare(photo: np.ndarray, params: RenderParams, guide: np.ndarray | None, laps: _Laps) -> Prepared:
    """Every stage before the dream: mask, keep map, blend, enhancement, style, at the output width
    (`output_width`), the windows scaled to it (`at_width`).

    The guide is scaled to cover the photo and centre-cropped, never stretched. Without a
    guide the whole photo is kept (and dreamt), as the book's controller does. The style stage
    paints (`renderer.style`) either the enhanced blend — the book's order — or, with
    `style_at=photo`, the photo itself before it is blended, so the subject keeps its shapes
    and the guide fills what the mask drops. The mask is always taken from the photo.
    """
    width = output_width(params, photo.shape)
    small = images.resize(photo, width, keep_size=params.keep_size)
    params = at_width(params, width)
    laps("resize")
    style_model = None
    if guide is None:
        mask = np.full(small.shape[:2], 255, np.uint8)
        keep = np.ones(small.shape[:2], bool)
        small_guide = None
    else:
        small_guide = images.fit_cover(guide, small.shape[1], small.shape[0])
        mask = make_mask(images.to_gray(small), params)
        laps("mask")
        keep = keep_map(mask, params)
    if params.style is not None and params.style_at == "photo":
        small, style_model = _style(small, guide, params, laps)
    mixed = blend(small, small_guide, keep, params)
    laps("blend")
    mixed = enhance(mixed, params)
    laps("enhance")
    if params.style is not None and params.style_at == "blend":
        mixed, style_model = _style(mixed, guide, params, laps)
    return Prepared(mixed, mask, keep, small_guide, style_model)


def _style(image: np.ndarray, guide: np.ndarray | None, params: RenderParams, laps: _Laps) -> tuple[np.ndarray, str]:
    from .style import apply_style

    painted = apply_style(image, guide, params, laps.step)
    laps("style")
    return painted


def render(photo: np.ndarray, params: RenderParams, net: Backbone | None, *, guide: np.ndarray | None = None,
           on_step: Callable[[], None] | None = None, max_seconds: float | None = None) -> RenderResult:
    """Render a `(H, W, 3)` uint8 photo (and optional guide) into the artwork, as wide as
    `params.size` says (`output_width`).

    `net` may be None only when `params.layer` is None (no dream). With `max_seconds`, a
    render estimated to take longer is refused (`BudgetError`) before it starts, and one that
    runs past it anyway is stopped at the next stage or step.
    """
    check_render(photo, params, net, guide, max_seconds)
    laps = _Laps(max_seconds, on_step)
    done = prepare(photo, params, guide, laps)
    out = _dream(net, done, params, laps.step)
    laps("dream")
    return RenderResult(out, done.mask, done.keep, params, net.name if net and params.layer else None, laps.timings,
                        done.style_model)


def _dream(net: Backbone | None, done: Prepared, params: RenderParams, on_step: Callable[[], None] | None
           ) -> np.ndarray:
    if params.layer is None:
        return done.image
    steer = done.guide if params.guide_dream else None
    return dream_at_scale(net, [done.image], params, guide=steer, on_step=on_step)[0]


PREVIEW_PREPARE_MAX = 960  # widest working image whose mask and keep map a preview computes in full


def render_preview(photo: np.ndarray, params: RenderParams, net: Backbone | None, width: int, *,
                   guide: np.ndarray | None = None, max_seconds: float | None = None,
                   on_step: Callable[[], None] | None = None) -> RenderResult:
    """A small render that shows the full one: mask, keep map, blend and style are computed at the
    render's width (up to PREVIEW_PREPARE_MAX), the dream at the scale the render dreams at
    (`dream_shape`: the same patterns, not a smaller preview's), then reduced to `width`.
    `on_step` is called between dream steps (it may raise to stop a preview nobody wants any more).
    A Gatys style takes minutes and is refused."""
    if params.style == "gatys":
        raise ValueError("style=gatys takes minutes and has no preview: render it in full")
    full = output_width(params, photo.shape)
    small = params.replace(size=min(width, full))
    height, _ = images.work_shape(photo.shape, full, keep_size=params.keep_size)
    dreamt_at = params.replace(size=dream_shape(height, full)[1] if params.layer is not None else small.size)
    check_render(photo, dreamt_at, net, guide, max_seconds)
    laps = _Laps(max_seconds, on_step)
    done = prepare(photo, params.replace(size=min(full, PREVIEW_PREPARE_MAX)), guide, laps)
    h, w = images.work_shape(done.image.shape, dreamt_at.size)
    done.image = images.resize(done.image, w, height=h)
    done.guide = None if done.guide is None else images.resize(done.guide, w, height=h)
    out = _dream(net, done, params, laps.step)
    laps("dream")
    h, w = images.work_shape(done.image.shape, small.size)
    keep = images.resize(done.keep.astype(np.uint8) * 255, w, height=h) > 127
    return RenderResult(images.resize(out, w, height=h), done.mask, keep, small,
                        net.name if net and params.layer else None, laps.timings, done.style_model)


DREAM_FIELDS = (*fields_of("dream"), "seed")  # everything `dream()` reads: the jitter is seeded too


def dream_key(params: RenderParams) -> tuple:
    """Renders whose dream settings agree can share one batched forward/backward."""
    return tuple(getattr(params, name) for name in DREAM_FIELDS)


def render_many(jobs: Sequence[tuple[np.ndarray, RenderParams, np.ndarray | None]], net: Backbone | None, *,
                max_seconds: float | None = None) -> list[RenderResult | Exception]:
    """Render several (photo, params, guide) jobs; on a GPU, same-shaped, same-setting dreams run as
    one batch. On the CPU each dream runs alone: batches there measured 0.67-0.93x the one-by-one
    rate (`scripts/bench_render.py`). A job's failure is returned in its place instead of stopping
    the others.
    """
    results: list[RenderResult | Exception] = []
    batches: dict[tuple, list[int]] = {}
    steers: dict[tuple, np.ndarray | None] = {}
    for i, (photo, params, guide) in enumerate(jobs):
        try:
            check_render(photo, params, net, guide, max_seconds)
            laps = _Laps(max_seconds)
            done = prepare(photo, params, guide, laps)
        except Exception as exc:  # reported per job
            results.append(exc)
            continue
        results.append(RenderResult(done.image, done.mask, done.keep, params, None, laps.timings, done.style_model))
        if params.layer is not None:
            alone = params.guide_dream or net.device.type == "cpu"  # guided dreams steer each image alone
            key = (dream_key(params), done.image.shape, i if alone else None)
            batches.setdefault(key, []).append(i)
            steers[key] = done.guide if params.guide_dream else None
    for key, members in batches.items():
        done = [results[i] for i in members]
        start = time.perf_counter()
        try:
            outs = dream_at_scale(net, [r.image for r in done], done[0].params, guide=steers[key])
        except Exception as exc:  # reported per job
            for i in members:
                results[i] = exc
            continue
        share = (time.perf_counter() - start) / len(members)
        for res, out in zip(done, outs, strict=True):
            res.image, res.backbone = out, net.name
            res.timings["dream"] = share
    return results
