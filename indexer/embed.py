"""Image embeddings: the backbone's global-average-pooled final features, L2-normalised."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from prismarec.renderer.backbones import Backbone
from prismarec.renderer.images import resize

EMBED_SIZE = 224  # the networks' training resolution


def embed(images: Sequence[np.ndarray], net: Backbone, *, batch_size: int = 16,
          on_batch: Callable[[int], None] | None = None) -> np.ndarray:
    """`(H, W, 3)` uint8 images -> float32 `[N, D]` unit vectors (GoogLeNet pool5 1024-d, Lite0 1280-d)."""
    out = np.zeros((len(images), net.pooled_dim), np.float32)
    for start in range(0, len(images), batch_size):
        chunk = [resize(im, EMBED_SIZE, height=EMBED_SIZE) for im in images[start : start + batch_size]]
        x = torch.from_numpy(np.stack(chunk).astype(np.float32)).permute(0, 3, 1, 2).to(net.device)
        x = net.normalize(x).contiguous(memory_format=torch.channels_last)
        feats = torch.nn.functional.normalize(net.pooled(x), dim=1)
        out[start : start + len(chunk)] = feats.cpu().numpy()
        if on_batch:
            on_batch(len(chunk))
    return out
