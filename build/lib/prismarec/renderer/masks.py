"""Masks that decide which photo pixels survive: a registry of the book's mask functions.

Every mask is `uint8` with values 0 or 255 and the shape of the gray image.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage
from skimage import feature, filters, segmentation

from .params import RenderParams, mask_parts

MaskFn = Callable[[np.ndarray, RenderParams], np.ndarray]


def _to_mask(selected: np.ndarray, clear: bool) -> np.ndarray:
    if clear:
        selected = segmentation.clear_border(selected)
    return np.where(selected, np.uint8(255), np.uint8(0))


def otsu_mask(gray: np.ndarray, params: RenderParams) -> np.ndarray:
    """Otsu threshold; keep the bright side when `dd`, the dark side otherwise."""
    t = filters.threshold_otsu(gray)
    return _to_mask(gray > t if params.dd else gray < t, params.cb)


def stdmean_mask(gray: np.ndarray, params: RenderParams) -> np.ndarray:
    """Pixels outside mean ± std_factor·std, each band border-cleared separately when `cb`."""
    mean, std = gray.mean(), gray.std()
    high = _to_mask(gray > mean + std * params.std_factor, params.cb)
    low = _to_mask(gray < mean - std * params.std_factor, params.cb)
    return np.maximum(high, low)


# scikit-image 0.13, which the book ran, kept only peaks above 10 % of the strongest
# response; today's default keeps every local maximum and the grown mask covers the photo.
CORNER_THRESHOLD_REL = 0.1


def features_mask(gray: np.ndarray, params: RenderParams) -> np.ndarray:
    """Harris corner peaks grown by `int(width/10·loop_factor)` cross dilations.

    Repeated dilation with the 3x3 cross reaches exactly the pixels within that L1
    (taxicab) distance of a peak, so one distance transform replaces the loop.
    """
    coords = feature.corner_peaks(feature.corner_harris(gray), min_distance=5, threshold_rel=CORNER_THRESHOLD_REL)
    radius = int(gray.shape[1] / 10 * params.loop_factor)
    if len(coords) == 0:
        return np.zeros(gray.shape, np.uint8)
    not_peak = np.ones(gray.shape, bool)
    not_peak[coords[:, 0], coords[:, 1]] = False
    distance = ndimage.distance_transform_cdt(not_peak, metric="taxicab")
    return np.where(distance <= radius, np.uint8(255), np.uint8(0))


def all_mask(gray: np.ndarray, params: RenderParams) -> np.ndarray:
    return np.full(gray.shape, 255, np.uint8)


MASKS: dict[str, MaskFn] = {"otsu": otsu_mask, "features": features_mask, "stdmean": stdmean_mask, "all": all_mask}


def list_masks() -> list[str]:
    return list(MASKS)


def make_mask(gray: np.ndarray, params: RenderParams) -> np.ndarray:
    """The mask named by `params.mask`; '+' combinations add and saturate at 255."""
    total = np.zeros(gray.shape, np.uint16)
    for part in mask_parts(params.mask):
        total += MASKS[part](gray, params)
    return np.minimum(total, 255).astype(np.uint8)
