"""The whole render: resize, gray, mask, keep map, blend, enhance, dream — timed stage by stage."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import images
from .backbones import Backbone
from .blend import blend, keep_map
from .dream import dream
from .enhance import enhance
from .masks import make_mask
from .params import RenderParams


@dataclass
class RenderResult:
    image: np.ndarray  # (H, W, 3) uint8
    mask: np.ndarray  # (H, W) uint8 0/255
    keep: np.ndarray  # (H, W) bool
    params: RenderParams
    backbone: str | None
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage


def render(photo: np.ndarray, params: RenderParams, net: Backbone | None, *, guide: np.ndarray | None = None,
           on_step: Callable[[], None] | None = None) -> RenderResult:
    """Render a `(H, W, 3)` uint8 photo (and optional guide) into the artwork.

    `net` may be None only when `params.layer` is None (no dream).
    """
    if params.layer is not None and net is None:
        raise ValueError("a backbone is needed to dream; pass net or set layer=None")
    if params.layer is not None:
        net.resolve(params.layer)  # fail on an unknown layer before any work
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = now - clock
        clock = now

    small = images.resize(photo, params.size, keep_size=params.keep_size)
    small_guide = None if guide is None else images.resize(guide, small.shape[1], height=small.shape[0])
    gray = images.to_gray(small)
    lap("resize")
    mask = make_mask(gray, params)
    lap("mask")
    keep = keep_map(mask, params)
    mixed = blend(small, small_guide, keep, params)
    lap("blend")
    mixed = enhance(mixed, params)
    lap("enhance")
    steer = small_guide if params.guide_dream else None
    if params.guide_dream and steer is None:
        raise ValueError("guide_dream needs a guide image")
    out = dream(net, mixed, params, guide=steer, on_step=on_step) if params.layer is not None else mixed
    lap("dream")
    return RenderResult(out, mask, keep, params, net.name if net and params.layer else None, timings)
