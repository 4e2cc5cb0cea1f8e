import numpy as np

from prismarec.renderer.blend import blend, channel_keep, keep_map
from prismarec.renderer.images import fit_cover, resize, to_gray
from prismarec.renderer.masks import make_mask
from prismarec.renderer.params import RenderParams


def _inputs(photos):
    photo = resize(photos["chelsea"], 128)
    guide = fit_cover(photos["coffee"], photo.shape[1], photo.shape[0])
    params = RenderParams()
    keep = keep_map(make_mask(to_gray(photo), params), params)
    return photo, guide, keep, params


def test_blend_takes_photo_where_kept_and_guide_elsewhere(photos):
    photo, guide, keep, params = _inputs(photos)
    assert 0.05 < keep.mean() < 0.95
    out = blend(photo, guide, keep, params)
    np.testing.assert_array_equal(out[keep], photo[keep])
    np.testing.assert_array_equal(out[~keep], guide[~keep])


def test_no_guide_keeps_the_whole_photo(photos):
    photo, _, keep, params = _inputs(photos)
    assert not keep.all()
    np.testing.assert_array_equal(blend(photo, None, keep, params), photo)


def test_rb_rate_dither_is_seeded_and_stepped_per_channel(photos):
    photo, guide, keep, params = _inputs(photos)
    p = params.replace(rb_rate=0.8, seed=3)
    a, b = channel_keep(keep, p), channel_keep(keep, p)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, channel_keep(keep, p.replace(seed=4)))
    rates = a[keep].mean(axis=0)
    np.testing.assert_allclose(rates, [0.8, 0.7, 0.6], atol=0.02)
    assert not a[~keep].any()


def test_blend_equals_the_books_mix_without_dither(photos):
    from prismarec.scripts import book_reference as book

    photo, guide, keep, params = _inputs(photos)
    mask = make_mask(to_gray(photo), params)
    literal = book.do_convd_filter(params.n1, params.n2, params.n3, 1, photo, guide, mask,
                                   params.convd_median_factor, params.convd_big_factor)
    np.testing.assert_array_equal(blend(photo, guide, keep, params), literal)
