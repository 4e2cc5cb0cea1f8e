"""A literal transcription of the book's PrismaWorker masks, keep rule and blend (Python 3, NumPy 1.x+).

Kept only as the yardstick for parity tests and benchmarks. What the book wrote, including
what prismarec does differently on purpose:

* `corner_peaks` with `threshold_rel=0.1`, the default of the scikit-image 0.13 the book ran
  (today's default keeps every local maximum);
* the `features` mask is the grown corner region multiplied by the photo, then converted to
  luminance, so dark corners fade out of it;
* mask combinations are summed in uint8, which wraps past 255 before the clip;
* the blend draws a binomial column by column from NumPy's global state, with the rate
  stepping down by 0.1 per channel and no clamp (a rate below 0.2 raises on the blue channel).
"""

from __future__ import annotations

import numpy as np
import PIL.Image
from scipy import ndimage
from scipy.signal import convolve2d
from skimage import filters, segmentation
from skimage.feature import corner_harris, corner_peaks

BOOK_ERA_THRESHOLD_REL = 0.1  # scikit-image 0.13's corner_peaks default


def find_features(r_img: np.ndarray, l_img: np.ndarray, loop_factor: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(the grown corner region times the photo, float (H, W, 3); the grown region itself, 0/1)."""
    coords = corner_peaks(corner_harris(l_img), min_distance=5, threshold_rel=BOOK_ERA_THRESHOLD_REL)
    r_img_copy = np.zeros_like(l_img)
    rd_img = np.float32(r_img)
    r_img_copy[coords[:, 0], coords[:, 1]] = 1
    f_loop = int(rd_img.shape[1] / 10 * loop_factor)
    for _ in np.arange(0, f_loop):
        r_img_copy = ndimage.binary_dilation(r_img_copy).astype(r_img_copy.dtype)
    region = r_img_copy
    r_img_copy_d = [rd_img[:, :, d] * r_img_copy for d in range(3)]
    return np.stack(r_img_copy_d, axis=2), region


def do_features(r_img: np.ndarray, l_img: np.ndarray, loop_factor: float = 1.0) -> np.ndarray:
    mask, _ = find_features(r_img, l_img, loop_factor)
    mask = PIL.Image.fromarray(np.uint8(mask)).convert("L")
    return np.uint8(np.clip(mask, 0, 255))


def do_otsu(l_img: np.ndarray, cb: bool, dd: bool = True) -> np.ndarray:
    mask = l_img > filters.threshold_otsu(l_img) if dd else l_img < filters.threshold_otsu(l_img)
    clean_border = mask
    if cb:
        clean_border = segmentation.clear_border(mask).astype(int)
    clean_border_img = np.float32(clean_border * 255)
    return np.uint8(np.clip(clean_border_img, 0, 255))


def do_stdmean(l_img: np.ndarray, cb: bool, std_factor: float = 1.0) -> np.ndarray:
    mean_img = l_img.mean()
    std_img = l_img.std()
    mask1 = l_img > mean_img + (std_img * std_factor)
    mask2 = l_img < mean_img - (std_img * std_factor)
    clean_border = mask1
    if cb:
        clean_border = segmentation.clear_border(mask1).astype(int)
    clean_border_img1 = np.uint8(np.clip(np.float32(clean_border * 255), 0, 255))
    clean_border = mask2
    if cb:
        clean_border = segmentation.clear_border(mask2).astype(int)
    clean_border_img2 = np.uint8(np.clip(np.float32(clean_border * 255), 0, 255))
    clean_border_img = clean_border_img1 + clean_border_img2
    return np.uint8(np.clip(clean_border_img, 0, 255))


def together(masks: list[np.ndarray]) -> np.ndarray:
    """`together_mask_func`: uint8 masks summed (wrapping past 255), then clipped."""
    clean_border_img = None
    for border_img in masks:
        clean_border_img = border_img if clean_border_img is None else clean_border_img + border_img
    return np.uint8(np.clip(clean_border_img, 0, 255))


def do_convd_filter(n1: int, n2: int, n3: int, rb_rate: float, r_img: np.ndarray, guide_img: np.ndarray,
                    clean_border_img: np.ndarray, convd_median_factor: float, convd_big_factor: float) -> np.ndarray:
    """The three box filters, the keep rule and the per-channel dithered blend, as the book."""
    n = n1
    small_window = np.ones((n, n))
    small_window /= np.sum(small_window)
    clean_border_small = convolve2d(clean_border_img, small_window, mode="same", boundary="fill")
    n = n2
    median_window = np.ones((n, n))
    median_window /= np.sum(median_window)
    clean_border_convd_median = convolve2d(clean_border_img, median_window, mode="same", boundary="fill")
    n = n3
    big_window = np.ones((n, n))
    big_window /= np.sum(big_window)
    clean_border_convd_big = convolve2d(clean_border_img, big_window, mode="same", boundary="fill")

    l_imgs = []
    for d in range(3):
        rd_img = r_img[:, :, d]
        gd_img = guide_img[:, :, d]
        wn = []
        for _ in np.arange(0, rd_img.shape[1]):
            wn.append(np.random.binomial(1, rb_rate, rd_img.shape[0]))
        if rb_rate != 1:
            rb_rate -= 0.1
        w = np.stack(wn, axis=1)
        d_img = np.where(np.logical_or(
            np.logical_and(clean_border_convd_median > convd_median_factor * clean_border_convd_big.mean(), w == 1),
            np.logical_and(np.logical_and(clean_border_small > 0, w == 1),
                           clean_border_convd_big > convd_big_factor * clean_border_convd_big.mean(),
                           )), rd_img, gd_img)
        l_imgs.append(d_img)
    return np.stack(l_imgs, axis=2).astype("uint8")


def keep_condition(clean_border_img: np.ndarray, n1: int, n2: int, n3: int, convd_median_factor: float,
                   convd_big_factor: float) -> np.ndarray:
    """The keep map inside `do_convd_filter`: blend white over black without dither, read one channel."""
    white = np.full((*clean_border_img.shape, 3), 255, np.uint8)
    out = do_convd_filter(n1, n2, n3, 1, white, np.zeros_like(white), clean_border_img, convd_median_factor,
                          convd_big_factor)
    return out[:, :, 0] == 255
