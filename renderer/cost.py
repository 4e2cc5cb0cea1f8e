"""How long a dream will take, estimated before it starts, so a runaway render is refused up front.

The dream's cost is nearly linear in pixel-steps (pixels of each octave × steps per octave),
so one timed gradient on a small probe image, per backbone, layer and device, prices them all.
"""

from __future__ import annotations

import time

import torch

from .backbones import Backbone
from .dream import MARGIN, TILE, amplify, full_precision, gradient
from .images import work_shape
from .params import RenderParams

PROBE_SIDE = 160
_PRICES: dict[tuple[str, str, str, bool], float] = {}  # seconds per pixel-step


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


def estimate_seconds(net: Backbone | None, params: RenderParams, photo_shape: tuple[int, ...]) -> float:
    """Estimated time of the costly stages for a photo of `photo_shape`: the dream and a Gatys
    style (the other stages take well under a second)."""
    height, width = work_shape(photo_shape, params.size, keep_size=params.keep_size)
    seconds = 0.0
    if params.layer is not None and net is not None:
        seconds += pixel_steps(params, height, width) * seconds_per_pixel_step(net, params.layer, params.post_relu)
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
            f"this render is estimated at {_duration(seconds)} (size={params.size}, iter_n={params.iter_n}, "
            f"octave_n={params.octave_n}, layer={params.layer}"
            f"{f', style_iters={params.style_iters}' if params.style == 'gatys' else ''}), over the limit of "
            f"{_duration(max_seconds)}; lower those, or raise the limit with --max-seconds")
    return seconds


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"
