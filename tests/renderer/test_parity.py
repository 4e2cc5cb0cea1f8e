"""make_mask and keep_map equal a literal transcription of the book's formulas, exactly."""

import itertools

import numpy as np
import pytest

from prismarec.renderer.blend import box_mean, keep_map
from prismarec.renderer.images import resize, to_gray
from prismarec.renderer.masks import make_mask
from prismarec.renderer.params import RenderParams
from prismarec.scripts import book_reference as book


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
def test_features_is_the_books_grown_corner_region(photos, name, loop_factor):
    """The region equals the book's (book-era corner threshold, dilation loop); the book then
    multiplied it by the photo's luminance, prismarec keeps it at 255."""
    small = resize(photos[name], 120)
    gray = to_gray(small)
    ours = make_mask(gray, RenderParams(mask="features", loop_factor=loop_factor))
    _, region = book.find_features(small, gray, loop_factor)
    assert region.any()
    np.testing.assert_array_equal(ours, np.uint8(region * 255))
    literal = book.do_features(small, gray, loop_factor)
    assert not literal[region == 0].any() and (ours >= literal).all()


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "rocket"])
def test_features_mask_covers_part_of_the_photo_as_in_the_books_era(photos, name):
    """Today's corner_peaks default keeps every local maximum (hundreds of corners) and the grown
    mask would cover the whole photo; the book-era threshold leaves room for the guide."""
    gray = gray_of(photos[name], 480)
    for loop_factor in (0.4, 1.0):
        coverage = (make_mask(gray, RenderParams(mask="features", loop_factor=loop_factor)) > 0).mean()
        assert coverage < 0.9, (loop_factor, coverage)


def test_combination_saturates_where_the_book_wrapped(photos):
    small = resize(photos["astronaut"], 160)
    gray = to_gray(small)
    params = RenderParams(mask="otsu+stdmean+features", loop_factor=0.3)
    ours = make_mask(gray, params)
    _, region = book.find_features(small, gray, 0.3)
    parts = [book.do_otsu(gray, False), book.do_stdmean(gray, False), np.uint8(region * 255)]
    saturated = np.minimum(sum(p.astype(np.int64) for p in parts), 255)
    np.testing.assert_array_equal(ours, saturated)
    assert set(np.unique(ours)) == {0, 255}
    assert (book.together(parts) < 255).sum() > (ours < 255).sum()  # wrapped sums lose pixels


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8, 28, 61, 120, 160, 301])
def test_box_mean_equals_convolve2d(photos, n):
    from scipy.signal import convolve2d

    mask = book.do_otsu(gray_of(photos["coffee"], 150), False)
    ref = convolve2d(mask, np.ones((n, n)) / n**2, mode="same", boundary="fill")
    np.testing.assert_allclose(box_mean(mask, n), ref, rtol=0, atol=1e-9)


CASES = [  # n1, n2, n3, median factor, big factor
    (5, 28, 1, 1.5, 0.0), (1, 1, 1, 1.0, 1.0), (4, 9, 16, 0.5, 1.0), (3, 12, 30, 2.0, 0.5),
    (7, 25, 60, 1.2, 0.8), (2, 6, 45, 5.0, 0.0), (6, 31, 2, 0.0, 0.3), (5, 25, 120, 1.5, 1.0),
    (5, 25, 180, 5.0, 2.0),  # the chapter's worked example
]


def assert_equal_but_ties(ours: np.ndarray, expected: np.ndarray, mask: np.ndarray, case: tuple) -> None:
    """Equal everywhere except pixels whose window sits exactly on a threshold, where the
    book's float rounding (1 ulp either way) decides and prismarec's exact sums say 'not above'."""
    n1, n2, n3, fm, fb = case
    differ = ours != expected
    if differ.any():
        median, big = box_mean(mask, n2), box_mean(mask, n3)
        tie = np.isclose(median, fm * big.mean(), rtol=1e-12, atol=0) | np.isclose(big, fb * big.mean(), rtol=1e-12,
                                                                                      atol=0)
        assert tie[differ].all(), f"{(differ & ~tie).sum()} pixels differ without a tie"


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "rocket"])
@pytest.mark.parametrize("mask_name", ["otsu", "stdmean", "otsu+features"])
@pytest.mark.parametrize("case", CASES)
def test_keep_map_equals_the_books_literal_formulas(photos, name, mask_name, case):
    n1, n2, n3, fm, fb = case
    params = RenderParams(mask=mask_name, n1=n1, n2=n2, n3=n3, convd_median_factor=fm, convd_big_factor=fb,
                          loop_factor=0.2)
    mask = make_mask(gray_of(photos[name], 140), params)
    assert_equal_but_ties(keep_map(mask, params), book.keep_condition(mask, n1, n2, n3, fm, fb), mask, case)


@pytest.mark.slow
def test_chapter_example_keep_map_on_a_full_size_photo(photos):
    case = (5, 25, 180, 5.0, 2.0)
    params = RenderParams(mask="otsu+stdmean", n1=5, n2=25, n3=180, convd_median_factor=5.0, convd_big_factor=2.0)
    mask = make_mask(gray_of(photos["coffee"], 480), params)
    assert mask.shape == (320, 480)
    assert_equal_but_ties(keep_map(mask, params), book.keep_condition(mask, *case), mask, case)
