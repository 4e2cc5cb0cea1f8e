import dataclasses

import pytest

from prismarec.renderer.params import (
    REFERENCE_WIDTH,
    RenderParams,
    at_width,
    output_width,
    parse_assignments,
    parse_value,
)


def test_defaults_are_the_books_stated_at_its_width():
    p = RenderParams()
    assert (p.mask, p.dd, p.cb, p.n1, p.n2, p.n3) == ("otsu", True, False, 5, 28, 1)
    assert (p.convd_median_factor, p.convd_big_factor, p.rb_rate) == (1.5, 0.0, 1.0)
    assert (p.layer, p.iter_n, p.octave_n, p.octave_scale, p.step_size, p.jitter) == (
        "conv2/3x3_reduce", 10, 4, 1.4, 1.5, 32)
    assert REFERENCE_WIDTH == 480 and p.size == "auto"  # windows in the book's pixels; output the photo's


@pytest.mark.parametrize(("size", "shape", "width"), [
    ("auto", (512, 512), 512), ("auto", (3024, 4032), 1080), ("auto", (4032, 3024), 810),
    ("full", (3024, 4032), 4032), (640, (3024, 4032), 640)])
def test_size_resolves_to_the_photos_own_width_up_to_1080_on_the_long_side(size, shape, width):
    assert output_width(RenderParams(size=size), shape) == width


def test_sizes_outside_the_choices_are_refused_by_name():
    for bad in ("big", 16, 9000, 1.5, True):
        with pytest.raises(ValueError, match="size"):
            RenderParams(size=bad)


def test_windows_scale_from_the_books_width():
    p = at_width(RenderParams(n1=5, n2=28, n3=1, jitter=32), 1080)
    assert (p.n1, p.n2, p.n3, p.jitter, p.size) == (11, 63, 2, 72, 1080)


def test_sets_stored_before_version_5_keep_their_look():
    """Their windows were pixels of their own width: restated at 480 px, a 128-px set renders as before."""
    stored = RenderParams(n1=5, n2=28, jitter=8).to_dict() | {"size": 128}
    params, notes = RenderParams.from_stored(stored, version=4)
    assert (params.n1, params.n2, params.jitter, params.size) == (19, 105, 30, 128) and not notes
    assert (at_width(params, 128).n1, at_width(params, 128).n2, at_width(params, 128).jitter) == (5, 28, 8)
    same, _ = RenderParams.from_stored(RenderParams(n1=5).to_dict() | {"size": 480}, version=4)
    assert same.n1 == 5 and RenderParams.from_stored(stored, version=5)[0].n1 == 5


def test_frozen_and_replace():
    p = RenderParams()
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.n1 = 3  # type: ignore[misc]
    assert p.replace(n1=3).n1 == 3 and p.n1 == 5


def test_json_round_trip():
    p = RenderParams(mask="otsu+features", enhance="Color", enhance_factor=2.0, layer=None, rb_rate=0.85, seed=7)
    assert RenderParams.from_json(p.to_json()) == p
    assert RenderParams.from_dict(p.to_dict()) == p


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"n1": 0}, "n1"), ({"rb_rate": 1.5}, "rb_rate"), ({"size": 10_000}, "size"), ({"iter_n": 2.5}, "iter_n"),
     ({"mask": "otsu+nope"}, "mask"), ({"enhance": "Blur"}, "enhance"), ({"dd": "yes"}, "dd"),
     ({"convd_median_factor": -1}, "convd_median_factor"), ({"n2": True}, "n2")],
)
def test_invalid_values_name_the_field(changes, field):
    with pytest.raises(ValueError, match=field):
        RenderParams(**changes)


def test_unknown_key_rejected():
    with pytest.raises(ValueError, match="unknown parameter.*bogus"):
        RenderParams.from_dict({"bogus": 1})


def test_parse_values():
    assert [parse_value(v) for v in ("None", "true", "False", "3", "0.5", "conv2/3x3")] == [
        None, True, False, 3, 0.5, "conv2/3x3"]
    assert parse_assignments(["n1=3", "layer=None"]) == {"n1": 3, "layer": None}
    with pytest.raises(ValueError, match="key=value"):
        parse_assignments(["n1"])


def test_every_parameter_is_explained():
    from prismarec.renderer.params import HELP, field_names

    assert list(HELP) == field_names()
    assert all(len(text.split()) >= 3 for text in HELP.values())  # a sentence, not a restated name
    assert len(set(HELP.values())) == len(HELP)  # no two fields share one explanation
