"""Image embeddings: the backbone's global-average-pooled final features, L2-normalised.

Two roads to the same vectors. `embed` runs the torch network: batches, a GPU, and any process
that renders (it has the network loaded anyway). `Embedder` embeds a few photos through
onnxruntime from a copy of the network exported once per weights file, so a command that only
needs one photo's embedding (`recommend`) loads no torch: 1.6 s and most of a gigabyte saved.
The copy is checked against torch when it is made and used only if it agrees.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from prismarec.renderer.images import resize
from prismarec.renderer.onnx_sessions import onnx_session
from prismarec.renderer.registry import backbone_spec, resolve_backbone_name

if TYPE_CHECKING:
    import onnxruntime

    from prismarec.renderer.backbones import Backbone

log = logging.getLogger(__name__)

EMBED_SIZE = 224  # the networks' training resolution
EXPORT_VERSION = 1  # part of the exported file's name: a change to the export makes a new file
AGREEMENT = 1e-4  # the most an exported copy's vector may differ from torch's, per component
FEW = 4  # up to this many photos at once go through the exported copy; more are a batch for torch


def _pixels(images: Sequence[np.ndarray]) -> np.ndarray:
    """`(H, W, 3)` uint8 images -> float32 `[N, 3, 224, 224]` pixels (0-255), each resized alike."""
    return np.stack([resize(im, EMBED_SIZE, height=EMBED_SIZE) for im in images]).astype(np.float32).transpose(
        0, 3, 1, 2)


def embed(images: Sequence[np.ndarray], net: Backbone, *, batch_size: int = 16,
          on_batch: Callable[[int], None] | None = None) -> np.ndarray:
    """`(H, W, 3)` uint8 images -> float32 `[N, D]` unit vectors (GoogLeNet pool5 1024-d, Lite0 1280-d)."""
    import torch

    out = np.zeros((len(images), net.pooled_dim), np.float32)
    for start in range(0, len(images), batch_size):
        x = torch.from_numpy(_pixels(images[start : start + batch_size])).to(net.device)
        x = net.normalize(x).contiguous(memory_format=torch.channels_last)
        feats = torch.nn.functional.normalize(net.pooled(x), dim=1)
        out[start : start + len(x)] = feats.cpu().numpy()
        if on_batch:
            on_batch(len(x))
    return out


class Embedder:
    """One backbone's embeddings, and the torch network itself when a render needs it (`net`).

    A few photos go through the exported copy in `cache` (made on first use); batches, and any
    embedder whose network is loaded, go through torch. Without a cache folder, or where the
    export fails or disagrees with torch, everything goes through torch.
    """

    def __init__(self, backbone: str = "auto", weights: str | os.PathLike | None = None, *,
                 cache: Path | None = None, net: Backbone | None = None):
        self.name = net.name if net is not None else resolve_backbone_name(backbone, weights)
        self.pooled_dim = net.pooled_dim if net is not None else backbone_spec(self.name).pooled_dim
        self._backbone, self._weights, self._cache, self._net = backbone, weights, cache, net
        self._lock = threading.Lock()
        self._session: onnxruntime.InferenceSession | None | bool = None  # False: tried, torch it is

    @property
    def net(self) -> Backbone:
        """The torch network, loaded on first use."""
        from prismarec.renderer.backbones import load_backbone

        with self._lock:
            if self._net is None:
                self._net = load_backbone(self.name, self._weights)
            return self._net

    def __call__(self, images: Sequence[np.ndarray], *, batch_size: int = 16,
                 on_batch: Callable[[int], None] | None = None) -> np.ndarray:
        """Like `embed`: unit vectors, one row per image."""
        session = self._exported() if len(images) <= FEW and self._net is None else None
        if session is None:
            return embed(images, self.net, batch_size=batch_size, on_batch=on_batch)
        out = session.run(None, {"pixels": _pixels(images)})[0]
        if on_batch:
            on_batch(len(images))
        return out

    def _exported(self) -> onnxruntime.InferenceSession | None:
        with self._lock:
            if self._session is None:
                path = self._export_path()
                self._session = (path is not None and (path.exists() or self._export(path))
                                 and onnx_session(str(path), threads=1)) or False
            return self._session or None

    def _export_path(self) -> Path | None:
        """`cache/embed-NAME-KEY.onnx`, KEY naming the weights file's path, size and time; None
        where there is no cache or no weights file to key on (a download happens in torch)."""
        spec = backbone_spec(self.name)
        weights = spec.find_weights(self._weights) if spec.find_weights else None
        if self._cache is None or weights is None:
            return None
        stat = weights.stat()
        key = hashlib.sha256(f"{weights.resolve()}:{stat.st_size}:{stat.st_mtime_ns}:{EXPORT_VERSION}".encode())
        return self._cache / f"embed-{self.name}-{key.hexdigest()[:16]}.onnx"

    def _export(self, path: Path) -> bool:
        """Export the network's embedding to ONNX and keep it only if it agrees with torch."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=path.parent) as folder:
                draft = Path(folder) / path.name
                probe = _pixels(list(np.random.default_rng(0).integers(0, 256, (2, 240, 320, 3), dtype=np.uint8)))
                expected = _export_onnx(self.name, self._weights, draft, probe)
                got = onnx_session(str(draft), threads=1).run(None, {"pixels": probe})[0]
                difference = np.abs(got - expected).max()
                if difference > AGREEMENT:
                    log.warning("the exported %s differs from torch by %.2g: embedding through torch", self.name,
                                difference)
                    return False
                os.replace(draft, path)  # atomic: another process sees the whole file or none
            log.info("exported %s's embedding to %s", self.name, path)
            return True
        except Exception as exc:  # the export is a speed-up: torch still embeds
            log.warning("could not export %s for onnxruntime (%s): embedding through torch", self.name, exc)
            return False


def _export_onnx(name: str, weights: str | os.PathLike | None, path: Path, probe: np.ndarray) -> np.ndarray:
    """Write the network as published (no fused kernels, which ONNX cannot express) from pixels to
    unit vector; returns the torch embedding of `probe`, for the caller's check."""
    import torch

    from prismarec.renderer.backbones import load_backbone

    net = load_backbone(name, weights, "cpu", inference_form=False)

    class Embedding(torch.nn.Module):
        def forward(self, pixels: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.normalize(net.pooled(net.normalize(pixels)), dim=1)

    module, x = Embedding().eval(), torch.from_numpy(probe)
    with warnings.catch_warnings():  # the TorchScript exporter warns that it is the older one, and of traced sizes
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (x,), str(path), dynamo=False, input_names=["pixels"], output_names=["embedding"],
                          dynamic_axes={"pixels": {0: "n"}, "embedding": {0: "n"}})
    with torch.no_grad():
        return module(x).numpy()
