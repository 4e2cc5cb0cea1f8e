"""The keep map (box means of the mask and the book's keep condition) and the photo/guide blend."""

from __future__ import annotations

import numpy as np

from .params import REFERENCE_WIDTH, RenderParams


def summed_area(mask: np.ndarray) -> np.ndarray:
    """Exact integer summed-area table with a zero first row and column, `(H+1, W+1)`."""
    dtype = np.int32 if mask.size * 255 < 2**31 else np.int64
    table = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), dtype)
    np.cumsum(mask, axis=0, dtype=dtype, out=table[1:, 1:])
    np.cumsum(table[1:, 1:], axis=1, out=table[1:, 1:])
    return table


def _clamped_columns(a: np.ndarray, offset: int, length: int) -> np.ndarray:
    """`a[:, clip(j + offset, 0, last)]` for j < length, from three slice copies (no gather)."""
    last = a.shape[1] - 1
    start = min(max(-offset, 0), length)
    stop = min(max(last - offset + 1, start), length)
    out = np.empty((a.shape[0], length), a.dtype)
    out[:, :start] = a[:, :1]
    out[:, start:stop] = a[:, start + offset : stop + offset]
    out[:, stop:] = a[:, last:]
    return out


def window_sum(table: np.ndarray, n: int) -> np.ndarray:
    """Exact integer sum over the n×n window of every pixel, zero outside the image.

    The window of output pixel i spans input rows i - n//2 … i + (n-1)//2, as scipy's "same".
    """
    if n < 1:
        raise ValueError(f"box size must be >= 1, got {n}")
    h, w = table.shape[0] - 1, table.shape[1] - 1
    rows = np.arange(h)
    strip = table[np.clip(rows + (n - 1) // 2 + 1, 0, h)] - table[np.clip(rows - n // 2, 0, h)]
    sums = _clamped_columns(strip, (n - 1) // 2 + 1, w)
    sums -= _clamped_columns(strip, -(n // 2), w)
    return sums


def box_mean(mask: np.ndarray, n: int) -> np.ndarray:
    """Mean over an n×n window, zero outside: `convolve2d(mask, ones((n, n))/n², "same", "fill")`.

    Exact integer sums from a summed-area table, so each pixel costs O(1) whatever `n` is.
    """
    return window_sum(summed_area(mask), n) / float(n * n)


def keep_map(mask: np.ndarray, params: RenderParams) -> np.ndarray:
    """True where the photo is kept: `median > f_m·mean(big)` or (`small > 0` and `big > f_b·mean(big)`).

    Compared on the exact window sums (thresholds scaled by n²), so no float image is built.
    """
    table = summed_area(mask)
    sums = {n: window_sum(table, n) for n in {params.n1, params.n2, params.n3}}
    small, median, big = sums[params.n1], sums[params.n2], sums[params.n3]
    big_mean = big.mean() / params.n3**2
    return np.greater(median, params.convd_median_factor * big_mean * params.n2**2) | (
        (small > 0) & np.greater(big, params.convd_big_factor * big_mean * params.n3**2)
    )


def channel_keep(keep: np.ndarray, params: RenderParams) -> np.ndarray:
    """Per-channel keep, `(H, W, 3)` bool (`(H, W, 1)` when all channels agree).

    Below `rb_rate` 1 each channel keeps at random with probability rb_rate, rb_rate−0.1,
    rb_rate−0.2 (R, G, B), reproducible from `seed`. The dither is drawn on a REFERENCE_WIDTH
    grid and scaled to the image (nearest), so its grain is the same at every size.
    """
    if params.rb_rate >= 1.0:
        return keep[:, :, None]
    rng = np.random.default_rng(params.seed)
    rates = np.clip(params.rb_rate - np.array([0.0, 0.1, 0.2]), 0.0, 1.0)
    h, w = keep.shape
    rh = max(1, round(h * REFERENCE_WIDTH / w))
    draw = rng.random((rh, REFERENCE_WIDTH, 3)) < rates
    return keep[:, :, None] & draw[np.arange(h) * rh // h][:, np.arange(w) * REFERENCE_WIDTH // w]


def blend(photo: np.ndarray, guide: np.ndarray | None, keep: np.ndarray, params: RenderParams) -> np.ndarray:
    """Photo pixels where kept, guide pixels elsewhere; without a guide, the whole photo.

    The book's worker blended with black when no guide was chosen, but its controller then
    dreamt the plain photo instead; the photo is what a render without a guide starts from.
    """
    if guide is None:
        return photo
    if guide.shape != photo.shape:
        raise ValueError(f"guide shape {guide.shape} differs from photo shape {photo.shape}")
    return np.where(channel_keep(keep, params), photo, guide)
