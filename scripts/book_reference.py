"""A literal transcription of the book's PrismaWorker mask and keep formulas.

Kept only as the yardstick for parity tests and benchmarks: loops and full
`convolve2d` boxes exactly as the book wrote them (minus Python 2 and the
rb_rate dither, which the keep map leaves to `blend`).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.signal import convolve2d
from skimage import filters, segmentation
from skimage.feature import corner_harris, corner_peaks


def do_otsu(l_img: np.ndarray, cb: bool, dd: bool = True) -> np.ndarray:
    mask = l_img > filters.threshold_otsu(l_img) if dd else l_img < filters.threshold_otsu(l_img)
    clean_border = mask
    if cb:
        clean_border = segmentation.clear_border(mask).astype(int)
    clean_border_img = np.float32(clean_border * 255)
    return np.uint8(np.clip(clean_border_img, 0, 255))


def do_features(l_img: np.ndarray, loop_factor: float = 1.0) -> np.ndarray:
    """The dilated peak region of `find_features`, as 0/255."""
    coords = corner_peaks(corner_harris(l_img), min_distance=5)
    r_img_copy = np.zeros_like(l_img)
    r_img_copy[coords[:, 0], coords[:, 1]] = 1
    f_loop = int(l_img.shape[1] / 10 * loop_factor)
    for _ in np.arange(0, f_loop):
        r_img_copy = ndimage.binary_dilation(r_img_copy).astype(r_img_copy.dtype)
    return np.uint8(r_img_copy * 255)


def do_stdmean(l_img: np.ndarray, cb: bool, std_factor: float = 1.0) -> np.ndarray:
    mean_img = l_img.mean()
    std_img = l_img.std()
    mask1 = l_img > mean_img + (std_img * std_factor)
    mask2 = l_img < mean_img - (std_img * std_factor)
    out = []
    for mask in (mask1, mask2):
        clean_border = mask
        if cb:
            clean_border = segmentation.clear_border(mask).astype(int)
        out.append(np.uint8(np.clip(np.float32(clean_border * 255), 0, 255)))
    return np.uint8(np.clip(out[0].astype(np.int64) + out[1], 0, 255))


def together(masks: list[np.ndarray]) -> np.ndarray:
    total = masks[0].astype(np.int64)
    for m in masks[1:]:
        total = total + m
    return np.uint8(np.clip(total, 0, 255))


def keep_condition(clean_border_img: np.ndarray, n1: int, n2: int, n3: int,
                   convd_median_factor: float, convd_big_factor: float) -> np.ndarray:
    boxes = []
    for n in (n1, n2, n3):
        window = np.ones((n, n))
        window /= np.sum(window)
        boxes.append(convolve2d(clean_border_img, window, mode="same", boundary="fill"))
    small, median, big = boxes
    return np.logical_or(median > convd_median_factor * big.mean(),
                         np.logical_and(small > 0, big > convd_big_factor * big.mean()))


def mix(r_img: np.ndarray, guide_img: np.ndarray, keep: np.ndarray, rb_rate: float) -> np.ndarray:
    """The book's per-channel loop with its column-by-column binomial draws."""
    l_imgs = []
    for d in range(3):
        wn = [np.random.binomial(1, max(rb_rate, 0.0), r_img.shape[0]) for _ in np.arange(0, r_img.shape[1])]
        if rb_rate != 1:
            rb_rate -= 0.1
        w = np.stack(wn, axis=1)
        l_imgs.append(np.where(np.logical_and(keep, w == 1), r_img[:, :, d], guide_img[:, :, d]))
    return np.stack(l_imgs, axis=2).astype("uint8")
