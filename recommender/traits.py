"""Generic photo statistics that a curator's taste may follow, whichever curator it is.

A taste learnt from a few dozen photos transfers to new scenes only through numbers that mean
the same on any photo. These are the usual ones — tone, colour, texture, layout — about thirty,
computed on a thumbnail in a few milliseconds; nothing here was chosen for one curator.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage import color, filters

from prismarec.renderer.images import to_gray

HUES = ("red", "yellow", "green", "cyan", "blue", "magenta")
NAMES = ("luma", "luma_std", "luma_p10", "luma_p90", "dark", "bright", "entropy", "saturation", "saturation_std",
         "colourfulness", "grey", "lightness_a", "lightness_b", "chroma", *(f"hue_{h}" for h in HUES),
         "edges", "edges_coarse", "gradient", "flat", "detail", "aspect", "centre_luma", "centre_saturation",
         "top_luma", "top_blue")


def photo_traits(image: np.ndarray) -> np.ndarray:
    """`NAMES`, in that order, of a small `(H, W, 3)` uint8 photo."""
    gray = to_gray(image).astype(np.float64)
    rgb = image / 255.0
    hsv = color.rgb2hsv(image)
    lab = color.rgb2lab(image)
    h, w = gray.shape
    histogram = np.histogram(gray, bins=32, range=(0, 1))[0] / gray.size
    rg, yb = rgb[..., 0] - rgb[..., 1], (rgb[..., 0] + rgb[..., 1]) / 2 - rgb[..., 2]
    colourfulness = np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())  # Hasler & Süsstrunk
    weights = hsv[..., 1] * (hsv[..., 2] > 0.1)
    hue_share = np.bincount(((hsv[..., 0] * 6 + 0.5).astype(int) % 6).ravel(), weights.ravel(), 6)
    hue_share = hue_share / max(weights.sum(), 1e-6)
    sobel = filters.sobel(gray)
    coarse = filters.sobel(ndimage.zoom(gray, 0.5, order=1))
    local_std = np.sqrt(np.maximum(ndimage.uniform_filter(gray**2, 5) - ndimage.uniform_filter(gray, 5) ** 2, 0))
    centre = (slice(h // 4, h - h // 4), slice(w // 4, w - w // 4))
    top = rgb[: max(1, h // 3)]
    return np.array([
        gray.mean(), gray.std(), np.percentile(gray, 10), np.percentile(gray, 90), (gray < 0.15).mean(),
        (gray > 0.85).mean(), -(histogram[histogram > 0] * np.log2(histogram[histogram > 0])).sum(),
        hsv[..., 1].mean(), hsv[..., 1].std(), colourfulness, (hsv[..., 1] < 0.08).mean(),
        lab[..., 1].mean() / 100, lab[..., 2].mean() / 100, np.hypot(lab[..., 1], lab[..., 2]).mean() / 100,
        *hue_share, (sobel > 0.05).mean(), (coarse > 0.05).mean(), sobel.mean(), (local_std < 0.02).mean(),
        np.abs(filters.laplace(gray)).mean(), np.log(w / h), gray[centre].mean() - gray.mean(),
        hsv[..., 1][centre].mean() - hsv[..., 1].mean(), top.mean() - rgb.mean(),
        (top[..., 2] - top[..., 0]).mean(),
    ])
