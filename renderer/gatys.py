"""The book's PrismaTensor: Gatys-style neural style by optimising the image itself.

As the chapter's "一个有意思的实验" does it (after anishathalye/neural-style): VGG-19, content at
relu4_2, style as Gram matrices of relu1_1 … relu5_1 (equal weights), content / style / total
variation weights 5 / 100 / 100, Adam with a step of 10 in 0–255 pixel units, started from the
photo. The image is optimised at most `MAX_SIDE` pixels on its longer side (the chapter's 640),
which bounds memory, and scaled back to the render's size.

VGG-19 ImageNet weights come from a file named by `PRISMAREC_VGG19`, else torchvision's cache
(`vgg19-dcbb9e9d.pth`), else torchvision's download where a network allows; without them the
render is refused — never painted with random weights.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from .backbones import BackboneError, default_device, torchvision_state, weights_file

GATYS_MODEL = "vgg19-gatys"
VGG19_FILE = "vgg19-dcbb9e9d.pth"
CONTENT_LAYER = 22  # relu4_2 in torchvision's vgg19().features
STYLE_LAYERS = (1, 6, 11, 20, 29)  # relu1_1, relu2_1, relu3_1, relu4_1, relu5_1
CONTENT_WEIGHT, STYLE_WEIGHT, TV_WEIGHT = 5.0, 100.0, 100.0
LEARNING_RATE = 10.0  # in 0-255 pixel units, as the book's TensorFlow code
MAX_SIDE = 640
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def vgg19_weights_path(path: str | os.PathLike | None = None) -> Path | None:
    """The weights file: the one given (or `PRISMAREC_VGG19`), else torchvision's cache, else None."""
    return weights_file(path or os.environ.get("PRISMAREC_VGG19"), VGG19_FILE, "VGG-19")


def load_vgg19(path: str | None = None, device: str | None = None) -> nn.Module:
    """VGG-19's convolutional part up to relu5_1, with ImageNet weights, frozen, in eval mode. A
    file in torchvision's format loads (its `features.*` tensors; the classifier's are not needed).
    Loaded once per process and file."""
    found = vgg19_weights_path(path)
    return _load_vgg19(str(found) if found else None, str(device or default_device()))


@functools.cache
def _load_vgg19(found: str | None, device: str) -> nn.Module:
    from torchvision.models import VGG19_Weights, vgg19

    features = vgg19(weights=None).features  # the classifier is never used: only its convolutions load
    state, source = torchvision_state(found, VGG19_Weights.IMAGENET1K_V1, VGG19_FILE, "VGG-19 (for style=gatys)",
                                      "or name the file with PRISMAREC_VGG19")
    try:
        features.load_state_dict({k.removeprefix("features."): v for k, v in state.items()
                                  if k.startswith("features.")})
    except RuntimeError as exc:
        raise BackboneError(f"{source} is not a torchvision VGG-19 state dict: {exc}") from None
    features = features[: max(STYLE_LAYERS) + 1].eval().to(device)
    for p in features.parameters():
        p.requires_grad_(False)
    return features


PROBE_SIDE = 128
_PRICES: dict[str, float] = {}  # device -> seconds per pixel-iteration


def seconds_per_iteration(height: int, width: int) -> float:
    """Estimated seconds of one iteration on a height x width photo, from a timed probe (once per
    device); loading the weights here makes a render without them fail before it starts."""
    net = load_vgg19()
    dev = next(net.parameters()).device
    if str(dev) not in _PRICES:
        probe = torch.rand(1, 3, PROBE_SIDE, PROBE_SIDE, device=dev, requires_grad=True)
        timings = []
        for _ in range(3):
            start = time.perf_counter()
            sum(a.pow(2).mean() for a in _activations(net, probe).values()).backward()
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            timings.append(time.perf_counter() - start)
        _PRICES[str(dev)] = min(timings[1:]) / PROBE_SIDE**2
    scale = min(1.0, MAX_SIDE / max(height, width))
    return _PRICES[str(dev)] * height * width * scale**2


def _activations(net: nn.Module, x: torch.Tensor) -> dict[int, torch.Tensor]:
    wanted, out = {CONTENT_LAYER, *STYLE_LAYERS}, {}
    for i, layer in enumerate(net):
        x = layer(x)
        if i in wanted:
            out[i] = x
    return out


def _gram(a: torch.Tensor) -> torch.Tensor:
    flat = a.flatten(2)  # (1, C, H*W)
    return flat @ flat.transpose(1, 2) / a.numel()


def _fit(image: np.ndarray, max_side: int) -> np.ndarray:
    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS)) if scale < 1 else image


def gatys_style(photo: np.ndarray, style_image: np.ndarray, iterations: int, *,
                on_step: Callable[[], None] | None = None, weights: str | None = None) -> np.ndarray:
    """Paint `photo` (H, W, 3 uint8) in the style of `style_image`, returning the same size."""
    net = load_vgg19(weights)
    dev = next(net.parameters()).device
    mean = torch.tensor(MEAN, device=dev).view(1, 3, 1, 1) * 255
    std = torch.tensor(STD, device=dev).view(1, 3, 1, 1) * 255

    def tensor(image: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.array(image, np.float32)).to(dev).permute(2, 0, 1)[None]

    content = _fit(photo, MAX_SIDE)
    style = _fit(style_image, max(content.shape[:2]))
    with torch.no_grad():
        target = _activations(net, (tensor(content) - mean) / std)[CONTENT_LAYER]
        grams = {i: _gram(a) for i, a in _activations(net, (tensor(style) - mean) / std).items() if i in STYLE_LAYERS}
    image = tensor(content).requires_grad_(True)
    optimiser = torch.optim.Adam([image], lr=LEARNING_RATE)
    for _ in range(iterations):
        optimiser.zero_grad()
        acts = _activations(net, (image - mean) / std)
        loss = CONTENT_WEIGHT * 2 * (acts[CONTENT_LAYER] - target).pow(2).sum() / target.numel()
        loss = loss + STYLE_WEIGHT * sum(2 * (_gram(acts[i]) - grams[i]).pow(2).sum() / grams[i].numel()
                                         for i in STYLE_LAYERS) / len(STYLE_LAYERS)
        dy, dx = image[:, :, 1:] - image[:, :, :-1], image[:, :, :, 1:] - image[:, :, :, :-1]
        loss = loss + TV_WEIGHT * 2 * (dy.pow(2).sum() / dy.numel() + dx.pow(2).sum() / dx.numel())
        loss.backward()
        optimiser.step()
        if on_step:
            on_step()
    out = image.detach().clamp(0, 255).round().byte()[0].permute(1, 2, 0).cpu().numpy()
    h, w = photo.shape[:2]
    return out if out.shape[:2] == (h, w) else np.asarray(Image.fromarray(out).resize((w, h), Image.Resampling.LANCZOS))
