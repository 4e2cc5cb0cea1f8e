"""The yardstick for the dream's speed: the classic google/deepdream notebook loop, ported to
PyTorch on the same backbone and layer.

As the notebook (and the book's `do_prisma`) does it: the image lives in a NumPy array,
octaves come from `scipy.ndimage.zoom`, and every step rolls the array, copies it into the
network, runs forward and backward with the L2 objective (`dst.diff[:] = dst.data`), copies
the gradient back, takes the normalised step, rolls back and clips. No tiles, no batches.
`scripts/bench_render.py` times it next to `renderer.dream` in one run.
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage as nd
import torch

from prismarec.renderer.backbones import Backbone
from prismarec.renderer.params import RenderParams


def make_step(net: Backbone, src: np.ndarray, layer: tuple, step_size: float, jitter: int,
              rng: np.random.Generator) -> np.ndarray:
    ox, oy = rng.integers(-jitter, jitter + 1, 2)
    src = np.roll(np.roll(src, ox, -1), oy, -2)
    x = torch.from_numpy(src[None].copy()).to(net.device).requires_grad_(True)
    act = net.activation(net.normalize(x), layer)
    act.backward(act.detach())  # the notebook's objective_L2: dst.diff[:] = dst.data
    g = x.grad[0].cpu().numpy()
    src = src + step_size / np.abs(g).mean() * g
    src = np.roll(np.roll(src, -ox, -1), -oy, -2)
    return np.clip(src, 0, 255)


def notebook_dream(net: Backbone, image: np.ndarray, params: RenderParams) -> np.ndarray:
    """Dream `params.layer` into an (H, W, 3) uint8 image, the notebook's way."""
    layer = net.resolve(params.layer, params.post_relu)
    rng = np.random.default_rng(params.seed)
    octaves = [image.astype(np.float32).transpose(2, 0, 1)]
    for _ in range(params.octave_n - 1):
        octaves.append(nd.zoom(octaves[-1], (1, 1 / params.octave_scale, 1 / params.octave_scale), order=1))
    detail = np.zeros_like(octaves[-1])
    for octave_base in reversed(octaves):
        h, w = octave_base.shape[-2:]
        if detail.shape[-2:] != (h, w):
            detail = nd.zoom(detail, (1, h / detail.shape[1], w / detail.shape[2]), order=1)
        src = octave_base + detail
        for _ in range(params.iter_n):
            src = make_step(net, src, layer, params.step_size, params.jitter, rng)
        detail = src - octave_base
    return np.uint8(np.clip(src, 0, 255).transpose(1, 2, 0).round())
