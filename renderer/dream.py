"""DeepDream: gradient ascent on one layer's activation, over octaves, with jitter and tiling.

Follows the book's `do_prisma`: image kept in 0-255 pixel units, step normalised by the
mean absolute gradient, a random roll of up to `jitter` pixels per step, `octave_n`
octaves each `octave_scale` smaller, clipping on output. Images of one shape share each
forward/backward pass; large images are processed in overlapping tiles.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager

import numpy as np
import torch
import torch.nn.functional as F

from .backbones import Backbone
from .params import RenderParams

TILE = 512  # largest side dreamt in one piece
MARGIN = 64  # context around each tile so its centre matches the untiled gradient

Objective = Callable[[torch.Tensor], torch.Tensor]


def amplify(act: torch.Tensor) -> torch.Tensor:
    """½‖activation‖² per image; its gradient is the activation itself (the book's L2 objective)."""
    return 0.5 * act.pow(2).sum()


def toward(guide_features: torch.Tensor) -> Objective:
    """Push each position toward the guide feature with the highest dot product.

    `guide_features` is `[C, M]`; the gradient at each position is that best-matching vector.
    """
    def objective(act: torch.Tensor) -> torch.Tensor:
        n, c = act.shape[:2]
        x = act.reshape(n, c, -1)
        with torch.no_grad():
            best = torch.einsum("ncp,cm->npm", x, guide_features).argmax(-1)  # [N, P]
            target = guide_features.T[best].permute(0, 2, 1)  # [N, C, P]
        return (x * target).sum()

    return objective


def _to_tensor(images: Sequence[np.ndarray], device: torch.device) -> torch.Tensor:
    batch = np.stack([np.asarray(im, np.float32) for im in images])
    return torch.from_numpy(batch).permute(0, 3, 1, 2).contiguous().to(device)


def guide_features(net: Backbone, guide: np.ndarray, layer: tuple[int, torch.nn.Module]) -> torch.Tensor:
    """The guide's activation at `layer` as `[C, H·W]`."""
    with torch.no_grad():
        x = net.normalize(_to_tensor([guide], net.device)).contiguous(memory_format=torch.channels_last)
        act = net.activation(x, layer)
    return act[0].reshape(act.shape[1], -1)


def gradient(net: Backbone, img: torch.Tensor, layer: tuple, objective: Objective) -> torch.Tensor:
    """d objective / d pixels for a batch `[N, 3, H, W]` in 0-255 units."""
    x = img.detach().contiguous(memory_format=torch.channels_last).requires_grad_(True)
    loss = objective(net.activation(net.normalize(x), layer))
    (grad,) = torch.autograd.grad(loss, x)
    return grad


def _tiled_gradient(net: Backbone, img: torch.Tensor, layer: tuple, objective: Objective,
                    tile: int, margin: int) -> torch.Tensor:
    h, w = img.shape[-2:]
    if h <= tile and w <= tile:
        return gradient(net, img, layer, objective)
    grad = torch.empty_like(img)
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
            ya, xa = max(y0 - margin, 0), max(x0 - margin, 0)
            yb, xb = min(y1 + margin, h), min(x1 + margin, w)
            g = gradient(net, img[..., ya:yb, xa:xb], layer, objective)
            grad[..., y0:y1, x0:x1] = g[..., y0 - ya : y1 - ya, x0 - xa : x1 - xa]
    return grad


def dream(net: Backbone, images: np.ndarray | Sequence[np.ndarray], params: RenderParams, *,
          guide: np.ndarray | None = None, tile: int = TILE, margin: int = MARGIN,
          on_step: Callable[[], None] | None = None) -> np.ndarray | list[np.ndarray]:
    """Dream `params.layer` into one `(H, W, 3)` uint8 image or a list of same-shaped ones.

    With `guide`, each position is pushed toward the guide's most similar feature
    instead of amplifying the layer. Returns uint8 images of the input shapes.
    Convolutions run in full float32 on every device: gradient ascent amplifies rounding,
    and cuDNN's default TF32 made a GPU render differ visibly from the CPU's and from itself
    in a batch.
    """
    with full_precision():
        return _dream(net, images, params, guide, tile, margin, on_step)


def full_precision() -> AbstractContextManager:
    """cuDNN convolutions in float32 (no TF32), for the dream and for timing it."""
    return torch.backends.cudnn.flags(enabled=True, benchmark=False, deterministic=False, allow_tf32=False)


def _dream(net: Backbone, images: np.ndarray | Sequence[np.ndarray], params: RenderParams,
           guide: np.ndarray | None, tile: int, margin: int, on_step: Callable[[], None] | None
           ) -> np.ndarray | list[np.ndarray]:
    single = isinstance(images, np.ndarray) and images.ndim == 3
    batch = [images] if single else list(images)
    if params.layer is None:
        return batch[0] if single else batch
    if len({im.shape for im in batch}) != 1:
        raise ValueError("images dreamt together must share one shape")
    layer = net.resolve(params.layer, params.post_relu)
    objective = amplify if guide is None else toward(guide_features(net, guide, layer))
    rng = np.random.default_rng(params.seed)

    base = _to_tensor(batch, net.device)
    octaves = [base]
    for _ in range(params.octave_n - 1):
        h, w = octaves[-1].shape[-2:]
        size = (max(1, round(h / params.octave_scale)), max(1, round(w / params.octave_scale)))
        octaves.append(F.interpolate(octaves[-1], size=size, mode="bilinear", align_corners=False))

    detail = torch.zeros_like(octaves[-1])
    for octave_base in reversed(octaves):
        if detail.shape != octave_base.shape:
            detail = F.interpolate(detail, size=octave_base.shape[-2:], mode="bilinear", align_corners=False)
        img = octave_base + detail
        for _ in range(params.iter_n):
            ox, oy = rng.integers(-params.jitter, params.jitter + 1, 2)
            img = torch.roll(img, (int(oy), int(ox)), (-2, -1))
            g = _tiled_gradient(net, img, layer, objective, tile, margin)
            scale = g.abs().mean((1, 2, 3), keepdim=True).clamp_min(1e-8)
            img = torch.roll(img + params.step_size / scale * g, (-int(oy), -int(ox)), (-2, -1))
            if on_step:
                on_step()
        detail = img - octave_base

    out = img.clamp(0, 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    return out[0] if single else list(out)
