"""The whole render on real photos: proportions, guides, no-guide dreams, bounds, budgets, previews."""

import time

import numpy as np
import pytest
from PIL import Image

from prismarec.renderer.blend import keep_map
from prismarec.renderer.cost import BudgetError, estimate_seconds
from prismarec.renderer.images import fit_cover, resize, to_gray
from prismarec.renderer.masks import make_mask
from prismarec.renderer.params import RenderParams
from prismarec.renderer.pipeline import render, render_preview

CHAPTER = {"n1": 5, "n2": 25, "n3": 180, "convd_median_factor": 5.0, "convd_big_factor": 2.0}


def test_a_photo_keeps_its_proportions_by_default(photos):
    out = render(photos["rocket"], RenderParams(layer=None), None)  # rocket is 640x427
    assert out.image.shape == (427, 640, 3)  # size=auto: the photo's own resolution
    assert render(photos["rocket"], RenderParams(layer=None, size=480), None).image.shape == (320, 480, 3)
    square = render(photos["rocket"], RenderParams(layer=None, size=480, keep_size=False), None)
    assert square.image.shape == (480, 480, 3)


def test_guide_is_fitted_without_distortion(photos):
    guide = photos["astronaut"]  # 512x512: covering 480x320 scales to 480x480 and crops the middle rows
    fitted = fit_cover(guide, 480, 320)
    expected = resize(guide, 480)[80:400]
    assert fitted.shape == (320, 480, 3)
    assert np.abs(fitted.astype(int) - expected).mean() < 2.0
    params = RenderParams(layer=None, mask="otsu", size=480)
    out = render(photos["coffee"], params, None, guide=guide).image
    keep = keep_map(make_mask(to_gray(resize(photos["coffee"], 480)), params), params)
    np.testing.assert_array_equal(out[~keep], fitted[~keep])


def black(image: np.ndarray) -> float:
    return float((image.max(axis=2) < 8).mean())


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "rocket"])
def test_no_guide_dreams_the_whole_photo_without_black_holes(net, photos, name):
    photo = resize(photos[name], 160)
    plain = render(photos[name], RenderParams(layer=None, size=160), net).image
    np.testing.assert_array_equal(plain, photo)
    dreamt = render(photos[name], RenderParams(size=160, iter_n=5), net).image
    assert np.abs(dreamt.astype(int) - photo).mean() > 3  # the whole photo was dreamt
    assert black(dreamt) <= black(photo) + 0.03


def test_the_chapters_worked_example_renders(net, photos):
    params = RenderParams(**CHAPTER, mask="otsu+stdmean", size=160, iter_n=2, octave_n=2)
    assert RenderParams(**CHAPTER, iter_n=1500).iter_n == 1500
    out = render(photos["rocket"], params, net, guide=photos["coffee"])
    assert out.image.shape == (107, 160, 3) and 0 < out.keep.mean() < 1


def test_an_extreme_aspect_is_refused_before_any_work():
    sliver = np.full((20000, 3, 3), 128, np.uint8)
    started = time.perf_counter()
    with pytest.raises(ValueError, match="aspect"):
        render(sliver, RenderParams(layer=None, size=160), None)
    assert time.perf_counter() - started < 1.0
    assert render(sliver, RenderParams(layer=None, size=160, keep_size=False), None).image.shape == (160, 160, 3)


def test_a_runaway_render_is_refused_with_its_estimate(net, photos):
    huge = RenderParams(iter_n=5000, layer="inception_4c/output", size=4096)
    with pytest.raises(BudgetError, match=r"estimated at .* over the limit of 5 min.*--max-seconds"):
        render(photos["coffee"], huge, net, max_seconds=300)
    small = RenderParams(size=96, iter_n=2, octave_n=1)
    assert 0 < estimate_seconds(net, small, photos["coffee"].shape) < estimate_seconds(net, huge, (427, 640))
    assert render(photos["coffee"], small, net, max_seconds=300).image.shape == (64, 96, 3)


def test_a_render_that_runs_past_its_limit_is_stopped_mid_way(net, photos):
    slow_steps = RenderParams(size=96, iter_n=20, octave_n=1)  # estimated well under a second
    with pytest.raises(BudgetError, match="stopped after a step"):
        render(photos["coffee"], slow_steps, net, max_seconds=1.0, on_step=lambda: time.sleep(0.2))


@pytest.mark.parametrize("case", [
    {"layer": None, "mask": "otsu+features", "n2": 40, "rb_rate": 0.8},
    {"mask": "otsu", "iter_n": 4, "octave_n": 2, "step_size": 3.0},
    {"layer": None, "style": "painting", "painting": "4+10", "style_at": "photo"}])
def test_a_set_looks_the_same_at_every_size(net, photos, case):
    """A render at 1080 px scaled down to 480 is close to the 480-px render, much closer than the
    480-px render of another set is."""
    photo, guide = resize(photos["astronaut"], 1080), photos["coffee"]
    params = RenderParams(**case)
    large = render(photo, params.replace(size=1080), net, guide=guide).image
    small = render(photo, params.replace(size=480), net, guide=guide).image
    other = render(photo, params.replace(size=480, mask="stdmean", n1=2, painting="16"), net, guide=guide).image
    scaled = resize(large, 480).astype(int)
    same, apart = np.abs(scaled - small).mean(), np.abs(scaled - other).mean()
    assert same < 0.4 * apart, (same, apart)


def shrink(keep: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    img = Image.fromarray(keep.astype(np.uint8) * 255).resize((shape[1], shape[0]), Image.Resampling.BILINEAR)
    return np.asarray(img) > 127


@pytest.mark.parametrize("mask", ["otsu", "features", "stdmean", "otsu+features", "stdmean+features"])
@pytest.mark.parametrize("case", [{}, CHAPTER, {"n3": 120, "convd_big_factor": 1.0, "loop_factor": 0.4}])
def test_preview_keep_map_agrees_with_the_full_render(photos, mask, case):
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        params = RenderParams(mask=mask, layer=None, **case)
        full = render(photos[name], params, None, guide=photos["astronaut"])
        preview = render_preview(photos[name], params, None, 192, guide=photos["astronaut"])
        assert preview.image.shape[1] == 192
        agreement = (shrink(full.keep, preview.keep.shape) == preview.keep).mean()
        assert agreement >= 0.95, (name, agreement)


def test_a_preview_shows_the_renders_dream_not_a_smaller_ones(net, photos):
    """The preview dreams at the scale the render dreams at: scaled down, the render is closer to
    its preview than to the render of another dream. (Dreamt at the preview's 192 px, the
    difference was twice that to another set.)"""
    params = RenderParams(iter_n=4, octave_n=2, step_size=3.0)
    full = render(photos["chelsea"], params, net).image
    preview = render_preview(photos["chelsea"], params, net, 192).image
    other = render(photos["chelsea"], params.replace(seed=7, step_size=1.0, iter_n=8), net).image  # same layer
    scaled = resize(full, 192, height=preview.shape[0]).astype(int)
    same = np.abs(scaled - preview).mean()
    apart = np.abs(scaled - resize(other, 192, height=preview.shape[0])).mean()
    assert same < 0.5 * apart, (same, apart)
