import dataclasses

import pytest

from renderer.params import RenderParams, parse_assignments, parse_value


def test_defaults_are_the_books():
    p = RenderParams()
    assert (p.mask, p.dd, p.cb, p.n1, p.n2, p.n3) == ("otsu", True, False, 5, 28, 1)
    assert (p.convd_median_factor, p.convd_big_factor, p.rb_rate) == (1.5, 0.0, 1.0)
    assert (p.layer, p.iter_n, p.octave_n, p.octave_scale, p.step_size, p.jitter, p.size) == (
        "conv2/3x3_reduce", 10, 4, 1.4, 1.5, 32, 480)


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
    from renderer.params import HELP, field_names

    assert set(HELP) == set(field_names())
