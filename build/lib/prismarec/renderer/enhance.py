"""Pillow enhancements applied before the dream, with the book's default strengths."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

from .params import ENHANCEMENTS, RenderParams

# Book defaults: Sharpness 8.8, Brightness 1.8, Contrast 2.6, Color 7.6; CONTOUR boosts contrast 2.6 first.
DEFAULT_FACTORS = {"Sharpness": 8.8, "Brightness": 1.8, "Contrast": 2.6, "Color": 7.6, "CONTOUR": 2.6}

_ENHANCERS: dict[str, Callable[[Image.Image, float], Image.Image]] = {
    "Sharpness": lambda img, f: ImageEnhance.Sharpness(img).enhance(f),
    "Brightness": lambda img, f: ImageEnhance.Brightness(img).enhance(f),
    "Contrast": lambda img, f: ImageEnhance.Contrast(img).enhance(f),
    "Color": lambda img, f: ImageEnhance.Color(img).enhance(f),
    "CONTOUR": lambda img, f: ImageEnhance.Contrast(img).enhance(f).filter(ImageFilter.CONTOUR),
    "EDGES": lambda img, f: img.filter(ImageFilter.FIND_EDGES),
    "EMBOSS": lambda img, f: img.filter(ImageFilter.EMBOSS),
    "EEM": lambda img, f: img.filter(ImageFilter.EDGE_ENHANCE_MORE),
    "EE": lambda img, f: img.filter(ImageFilter.EDGE_ENHANCE),
}
assert tuple(_ENHANCERS) == ENHANCEMENTS


def list_enhancements() -> list[str]:
    return list(_ENHANCERS)


def enhance(image: np.ndarray, params: RenderParams) -> np.ndarray:
    """Apply `params.enhance` (None leaves the image as is)."""
    if params.enhance is None:
        return image
    factor = params.enhance_factor if params.enhance_factor is not None else DEFAULT_FACTORS.get(params.enhance, 1.0)
    return np.asarray(_ENHANCERS[params.enhance](Image.fromarray(image), factor))
