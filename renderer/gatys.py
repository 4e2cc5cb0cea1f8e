"""The book's PrismaTensor: Gatys-style neural style by optimising the image itself.

As the book's `PrismaTensor.py` does it (after anishathalye/neural-style): VGG-19, content at
relu4_2, style as Gram matrices of relu1_1 … relu5_1 (summed), its losses term for term —
content 5·‖F−P‖²/N, style 100·Σ‖G−A‖²/C² per layer, total variation 100·(‖∂y‖²/n_y + ‖∂x‖²/n_x)
(TensorFlow's `2·l2_loss` is the plain sum of squares) — Adam with a step of 100 in 0–255 pixel
units, and the iterate of least loss kept, not the last. It starts from the photo rather than
the book's faint noise (the same optimum, reached in fewer steps). The image is optimised at
most `MAX_SIDE` pixels on its longer side (the chapter's 640), which bounds memory, and scaled
back to the render's size.

The book's network is MatConvNet's VGG-19 fed 0–255 pixels less the mean; torchvision's is fed
pixels normalised by ImageNet's standard deviation, so its activations are on another scale and
the weights may need calibrating for it: `loss_terms` gives the three terms at the first step
(`python -m prismarec.scripts.gatys_balance` prints them for a weights file), to compare with the book's
balance.

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

from .backbones import default_device, torchvision_state
from .registry import BackboneError, weights_file

GATYS_MODEL = "vgg19-gatys"
VGG19_FILE = "vgg19-dcbb9e9d.pth"
CONTENT_LAYER = 22  # relu4_2 in torchvision's vgg19().features
STYLE_LAYERS = (1, 6, 11, 20, 29)  # relu1_1, relu2_1, relu3_1, relu4_1, relu5_1
CONTENT_WEIGHT, STYLE_WEIGHT, TV_WEIGHT = 5.0, 100.0, 100.0  # the book's K_ORG/K_GUIDE/K_TV_WEIGHT
LEARNING_RATE = 100.0  # in 0-255 pixel units: the book's K_LEARNING_RATE
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


class _Objective:
    """The book's loss for one photo and style image, on VGG-19."""

    def __init__(self, net: nn.Module, content: np.ndarray, style: np.ndarray):
        self.net = net
        dev = next(net.parameters()).device
        self.mean = torch.tensor(MEAN, device=dev).view(1, 3, 1, 1) * 255
        self.std = torch.tensor(STD, device=dev).view(1, 3, 1, 1) * 255
        with torch.no_grad():
            self.target = self.activations(self.tensor(content))[CONTENT_LAYER]
            self.grams = {i: _gram(a) for i, a in self.activations(self.tensor(style)).items() if i in STYLE_LAYERS}

    def tensor(self, image: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.array(image, np.float32)).to(self.mean.device).permute(2, 0, 1)[None]

    def activations(self, image: torch.Tensor) -> dict[int, torch.Tensor]:
        return _activations(self.net, (image - self.mean) / self.std)

    def terms(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        acts = self.activations(image)
        content = CONTENT_WEIGHT * (acts[CONTENT_LAYER] - self.target).pow(2).sum() / self.target.numel()
        style = STYLE_WEIGHT * sum((_gram(acts[i]) - self.grams[i]).pow(2).sum() / self.grams[i].numel()
                                   for i in STYLE_LAYERS)
        dy, dx = image[:, :, 1:] - image[:, :, :-1], image[:, :, :, 1:] - image[:, :, :, :-1]
        tv = TV_WEIGHT * (dy.pow(2).sum() / dy.numel() + dx.pow(2).sum() / dx.numel())
        return {"content": content, "style": style, "tv": tv}


def loss_terms(photo: np.ndarray, style_image: np.ndarray, weights: str | None = None) -> dict[str, float]:
    """The content, style and smoothness terms at the book's first step (the mean pixel plus noise
    of deviation 0.256), with the book's weights: how they balance on this network."""
    content = _fit(photo, MAX_SIDE)
    objective = _Objective(load_vgg19(weights), content, _fit(style_image, max(content.shape[:2])))
    noise = torch.randn((1, 3, *content.shape[:2]), generator=torch.Generator().manual_seed(0))
    start = objective.mean + 0.256 * noise.to(objective.mean.device)
    with torch.no_grad():
        return {k: float(v) for k, v in objective.terms(start).items()}


def gatys_style(photo: np.ndarray, style_image: np.ndarray, iterations: int, *,
                on_step: Callable[[], None] | None = None, weights: str | None = None) -> np.ndarray:
    """Paint `photo` (H, W, 3 uint8) in the style of `style_image`, returning the same size: the
    iterate of least loss, as the book keeps its best checkpoint."""
    content = _fit(photo, MAX_SIDE)
    objective = _Objective(load_vgg19(weights), content, _fit(style_image, max(content.shape[:2])))
    image = objective.tensor(content).requires_grad_(True)
    optimiser = torch.optim.Adam([image], lr=LEARNING_RATE)
    best, best_loss = image.detach().clone(), float("inf")
    for step in range(iterations + 1):
        optimiser.zero_grad()
        loss = sum(objective.terms(image).values())
        if loss.item() < best_loss:  # the loss of the image before this step
            best, best_loss = image.detach().clone(), loss.item()
        if step == iterations:
            break
        loss.backward()
        optimiser.step()
        if on_step:
            on_step()
    out = best.clamp(0, 255).round().byte()[0].permute(1, 2, 0).cpu().numpy()
    h, w = photo.shape[:2]
    return out if out.shape[:2] == (h, w) else np.asarray(Image.fromarray(out).resize((w, h), Image.Resampling.LANCZOS))
