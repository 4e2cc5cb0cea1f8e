"""How long a render will take, estimated before it starts, so a runaway render is refused up front.

The dream's cost is nearly linear in pixel-steps (pixels of each octave × steps per octave),
so one timed gradient on a small probe image, per backbone, layer and device, prices them all.
The other stages are linear in pixels: a timed probe of the mask, keep map, blend and
enhancement, and one of each style network, price them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from .backbones import Backbone
from .dream import MARGIN, TILE, amplify, dream_shape, full_precision, gradient
from .images import work_shape
from .params import RenderParams, output_width

PROBE_SIDE = 160
_PRICES: dict[tuple[str, str, str, bool], float] = {}  # seconds per pixel-step
_COSTS: dict[str, tuple[float, float]] = {}  # fixed seconds and seconds per pixel of a stage


class BudgetError(ValueError):
    """A render estimated to take longer than the caller allows."""


def _tiled_length(n: int) -> int:
    """Pixels along one side that the network sees, margins of overlapping tiles included."""
    if n <= TILE:
        return n
    return sum(min(start + TILE + MARGIN, n) - max(start - MARGIN, 0) for start in range(0, n, TILE))


def pixel_steps(params: RenderParams, height: int, width: int) -> float:
    """Pixels processed by all gradient steps of all octaves (tile margins included)."""
    total = 0
    for i in range(params.octave_n):
        h, w = max(1, round(height / params.octave_scale**i)), max(1, round(width / params.octave_scale**i))
        total += h * w if h <= TILE and w <= TILE else _tiled_length(h) * _tiled_length(w)
    return params.iter_n * total


def seconds_per_pixel_step(net: Backbone, layer: str, post_relu: bool) -> float:
    """Timed once per backbone, device and layer (best of two probes after a warm-up)."""
    key = (net.name, str(net.device), layer, post_relu)
    if key not in _PRICES:
        resolved = net.resolve(layer, post_relu)
        probe = torch.rand(1, 3, PROBE_SIDE, PROBE_SIDE, device=net.device) * 255
        timings = []
        for _ in range(3):
            start = time.perf_counter()
            with full_precision():
                gradient(net, probe, resolved, amplify)
            if net.device.type == "cuda":
                torch.cuda.synchronize(net.device)
            timings.append(time.perf_counter() - start)
        _PRICES[key] = min(timings[1:]) / PROBE_SIDE**2
    return _PRICES[key]


def _price(key: str, work: Callable[[np.ndarray], object]) -> tuple[float, float]:
    """(fixed seconds, seconds per pixel) of `work`, from probe photos of two sizes (best of two
    runs each after a warm-up), timed once per process. The price per pixel is the larger
    probe's average: the networks cost more per pixel on large images (memory, not arithmetic)."""
    if key not in _COSTS:
        sides, times = (PROBE_SIDE, 4 * PROBE_SIDE), []
        for side in sides:
            probe = np.asarray(np.random.default_rng(0).integers(0, 256, (side, side, 3)), np.uint8)
            runs = []
            for _ in range(3):
                start = time.perf_counter()
                work(probe)
                runs.append(time.perf_counter() - start)
            times.append(min(runs[1:]))
        per_pixel = times[1] / sides[1] ** 2
        _COSTS[key] = (max(times[0] - per_pixel * sides[0] ** 2, 0.0), per_pixel)
    return _COSTS[key]


def _seconds(key: str, work: Callable[[np.ndarray], object], pixels: float) -> float:
    fixed, per_pixel = _price(key, work)
    return fixed + per_pixel * pixels


def _stages(mask: str) -> Callable[[np.ndarray], object]:
    def stages(photo: np.ndarray) -> None:
        from .pipeline import render

        render(photo, RenderParams(size="full", mask=mask, layer=None, enhance="Sharpness"), None,
               guide=np.ascontiguousarray(photo[::-1]))

    return stages


def _style(style: str) -> Callable[[np.ndarray], object]:
    def paint(photo: np.ndarray) -> None:
        from .style import apply_style

        apply_style(photo, photo, RenderParams(style=style))

    return paint


def estimate_seconds(net: Backbone | None, params: RenderParams, photo_shape: tuple[int, ...]) -> float:
    """Estimated time of a render of a photo of `photo_shape`: the stages on every pixel, the style
    networks and the dream (at its own scale, `dream_shape`)."""
    height, width = work_shape(photo_shape, output_width(params, photo_shape), keep_size=params.keep_size)
    stages = f"stages {params.mask}", _stages(params.mask)  # the mask is the costliest of them
    seconds = _seconds(*stages, height * width + photo_shape[0] * photo_shape[1] / 30)
    if params.layer is not None and net is not None:
        small = dream_shape(height, width)
        seconds += pixel_steps(params, *small) * seconds_per_pixel_step(net, params.layer, params.post_relu)
        if small != (height, width):  # what the dream added, scaled up to every pixel
            seconds += _price(*stages)[1] * height * width
    if params.style in ("fast", "painting"):
        from .style import painted_shape

        ph, pw = painted_shape(height, width)
        scaling = 0 if (ph, pw) == (height, width) else height * width  # the painting scaled back up
        seconds += _seconds(params.style, _style(params.style), ph * pw)
        seconds += _price(*stages)[1] * scaling / 4
    if params.style == "gatys":
        from .gatys import seconds_per_iteration

        seconds += params.style_iters * seconds_per_iteration(height, width)
    return seconds


def check_budget(net: Backbone | None, params: RenderParams, photo_shape: tuple[int, ...],
                 max_seconds: float | None) -> float:
    """The estimate; BudgetError when it exceeds `max_seconds` (None: no limit)."""
    seconds = estimate_seconds(net, params, photo_shape) if max_seconds is not None else 0.0
    if max_seconds is not None and seconds > max_seconds:
        raise BudgetError(
            f"this render is estimated at {_duration(seconds)} (size={params.size}, style={params.style}, "
            f"iter_n={params.iter_n}, octave_n={params.octave_n}, layer={params.layer}"
            f"{f', style_iters={params.style_iters}' if params.style == 'gatys' else ''}), over the limit of "
            f"{_duration(max_seconds)}; lower those, or raise the limit with --max-seconds")
    return seconds


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"
