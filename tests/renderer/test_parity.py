"""make_mask and keep_map equal a literal transcription of the book's formulas, exactly."""

import itertools

import numpy as np
import pytest

from renderer import box_mean, keep_map, make_mask
from renderer.images import resize, to_gray
from renderer.params import RenderParams
from scripts import book_reference as book


def gray_of(photo: np.ndarray, size: int) -> np.ndarray:
    return to_gray(resize(photo, size))


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "rocket"])
@pytest.mark.parametrize(("dd", "cb"), list(itertools.product([True, False], repeat=2)))
def test_otsu_matches_book(photos, name, dd, cb):
    gray = gray_of(photos[name], 160)
    ours = make_mask(gray, RenderParams(mask="otsu", dd=dd, cb=cb))
    np.testing.assert_array_equal(ours, book.do_otsu(gray, cb, dd))


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "rocket"])
@pytest.mark.parametrize(("cb", "std_factor"), [(False, 1.0), (True, 1.0), (True, 0.3), (False, 2.0)])
def test_stdmean_matches_book(photos, name, cb, std_factor):
    gray = gray_of(photos[name], 160)
    ours = make_mask(gray, RenderParams(mask="stdmean", cb=cb, std_factor=std_factor))
    np.testing.assert_array_equal(ours, book.do_stdmean(gray, cb, std_factor))


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "rocket"])
@pytest.mark.parametrize("loop_factor", [0.0, 0.3, 0.88, 1.0])
def test_features_matches_book_dilation_loop(photos, name, loop_factor):
    gray = gray_of(photos[name], 120)
    ours = make_mask(gray, RenderParams(mask="features", loop_factor=loop_factor))
    assert ours.any()
    np.testing.assert_array_equal(ours, book.do_features(gray, loop_factor))


def test_combination_saturates_instead_of_wrapping(photos):
    gray = gray_of(photos["astronaut"], 160)
    params = RenderParams(mask="otsu+stdmean+features", loop_factor=0.3)
    ours = make_mask(gray, params)
    parts = [book.do_otsu(gray, False), book.do_stdmean(gray, False), book.do_features(gray, 0.3)]
    np.testing.assert_array_equal(ours, book.together(parts))
    assert set(np.unique(ours)) == {0, 255}


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8, 28, 61, 120, 160, 301])
def test_box_mean_equals_convolve2d(photos, n):
    from scipy.signal import convolve2d

    mask = book.do_otsu(gray_of(photos["coffee"], 150), False)
    ref = convolve2d(mask, np.ones((n, n)) / n**2, mode="same", boundary="fill")
    np.testing.assert_allclose(box_mean(mask, n), ref, rtol=0, atol=1e-9)


CASES = [  # n1, n2, n3, median factor, big factor
    (5, 28, 1, 1.5, 0.0), (1, 1, 1, 1.0, 1.0), (4, 9, 16, 0.5, 1.0), (3, 12, 30, 2.0, 0.5),
    (7, 25, 60, 1.2, 0.8), (2, 6, 45, 5.0, 0.0), (6, 31, 2, 0.0, 0.3), (5, 25, 120, 1.5, 1.0),
]


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "rocket"])
@pytest.mark.parametrize("mask_name", ["otsu", "stdmean", "otsu+features"])
@pytest.mark.parametrize("case", CASES)
def test_keep_map_equals_book_bit_for_bit(photos, name, mask_name, case):
    n1, n2, n3, fm, fb = case
    params = RenderParams(mask=mask_name, n1=n1, n2=n2, n3=n3, convd_median_factor=fm, convd_big_factor=fb,
                          loop_factor=0.2)
    mask = make_mask(gray_of(photos[name], 140), params)
    expected = book.keep_condition(mask, n1, n2, n3, fm, fb)
    np.testing.assert_array_equal(keep_map(mask, params), expected)
