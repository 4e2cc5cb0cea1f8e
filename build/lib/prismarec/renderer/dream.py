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
from .images import resize
from .params import REFERENCE_WIDTH, RenderParams, at_width

TILE = 512  # largest side dreamt in one piece
MARGIN = 64  # context around each tile so its centre matches the untiled gradient
ALIGN = 64  # tiles start on the network's coarsest grid and end where the image's parity keeps it

Objective = Callable[[torch.Tensor], torch.Tensor]  # activation -> d objective / d activation


def amplify(act: torch.Tensor) -> torch.Tensor:
    """The gradient of the book's L2 objective, ½‖activation‖²: the activation itself."""
    return act.detach()


def toward(guide_features: torch.Tensor) -> Objective:
    """Push each position toward the guide feature with the highest dot product.

    `guide_features` is `[C, M]`; the gradient returned at each position is that best-matching vector.
    """
    def objective(act: torch.Tensor) -> torch.Tensor:
        n, c = act.shape[:2]
        x = act.detach().reshape(n, c, -1)
        best = torch.einsum("ncp,cm->npm", x, guide_features).argmax(-1)  # [N, P]
        return guide_features.T[best].permute(0, 2, 1).reshape(act.shape)

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
    act = net.activation(net.normalize(x), layer)
    (grad,) = torch.autograd.grad(act, x, grad_outputs=objective(act))
    return grad


def _window(start: int, stop: int, size: int, margin: int) -> tuple[int, int]:
    """The span dreamt for pixels [start, stop) of an axis of `size`: `margin` of context, widened
    so that every strided layer's "same" padding, which depends on the parity of its input size,
    falls as it does on the whole image (else a tile's features sit half a stride off)."""
    lo = max(start - margin, 0) // ALIGN * ALIGN
    hi = min(stop + margin, size)
    return lo, hi + (size - hi) % ALIGN


def _tiled_gradient(net: Backbone, img: torch.Tensor, layer: tuple, objective: Objective,
                    tile: int, margin: int) -> torch.Tensor:
    h, w = img.shape[-2:]
    if h <= tile and w <= tile:
        return gradient(net, img, layer, objective)
    grad = torch.empty_like(img)
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
            (ya, yb), (xa, xb) = _window(y0, y1, h, margin), _window(x0, x1, w, margin)
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


def dream_shape(height: int, width: int) -> tuple[int, int]:
    """Where the dream runs for an image of this shape: at its own size up to REFERENCE_WIDTH
    wide, else scaled down to that width."""
    if width <= REFERENCE_WIDTH:
        return height, width
    return max(1, round(height * REFERENCE_WIDTH / width)), REFERENCE_WIDTH


def dream_at_scale(net: Backbone, images: Sequence[np.ndarray], params: RenderParams, *,
                   guide: np.ndarray | None = None, on_step: Callable[[], None] | None = None) -> list[np.ndarray]:
    """The dream of same-shaped images as a set states it, at any output size.

    The book dreams its 480-pixel image; the patterns a layer draws have a size in pixels, so a
    wider image dreamt in full would show other, finer patterns (and cost its area in time). A
    wider image is dreamt at REFERENCE_WIDTH and what the dream added (dreamt − input) is
    scaled up and added to it: the render keeps every pixel of the blend under the same dream at
    every size. Narrower images (previews, thumbnails) are dreamt at their size, jitter scaled.
    """
    h, w = images[0].shape[:2]
    dh, dw = dream_shape(h, w)
    work = at_width(params, dw)
    if (dh, dw) == (h, w):
        return dream(net, list(images), work, guide=guide, on_step=on_step)
    small = [resize(im, dw, height=dh) for im in images]
    steer = None if guide is None else resize(guide, dw, height=dh)
    dreamt = dream(net, small, work, guide=steer, on_step=on_step)
    detail = _to_tensor([d.astype(np.float32) - s for d, s in zip(dreamt, small, strict=True)], torch.device("cpu"))
    detail = F.interpolate(detail, size=(h, w), mode="bilinear", align_corners=False).permute(0, 2, 3, 1).numpy()
    return [np.clip(im + d + 0.5, 0, 255).astype(np.uint8) for im, d in zip(images, detail, strict=True)]


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
        # The image stays rolled between steps: each step rolls it only by the change of jitter.
        img, shift = (octave_base + detail).contiguous(memory_format=torch.channels_last), (0, 0)
        for _ in range(params.iter_n):
            ox, oy = rng.integers(-params.jitter, params.jitter + 1, 2)
            img, shift = torch.roll(img, (int(oy) - shift[0], int(ox) - shift[1]), (-2, -1)), (int(oy), int(ox))
            g = _tiled_gradient(net, img, layer, objective, tile, margin)
            img.addcmul_(g, params.step_size / g.abs().mean((1, 2, 3), keepdim=True).clamp_min(1e-8))
            if on_step:
                on_step()
        img = torch.roll(img, (-shift[0], -shift[1]), (-2, -1))
        detail = img - octave_base

    out = img.clamp(0, 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    return out[0] if single else list(out)
