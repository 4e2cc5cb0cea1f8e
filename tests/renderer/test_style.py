"""The style stage on real photos: the fast network paints at the photo's own size, its strength
moves the look from the photo's toward the guide's; Gatys loads VGG-19 from a torchvision-format
file and refuses clearly without one."""

import numpy as np
import pytest
import torch
from skimage.color import deltaE_ciede2000, rgb2lab

from prismarec.renderer import gatys
from prismarec.renderer.params import RenderParams
from prismarec.renderer.pipeline import render, render_preview
from prismarec.renderer.registry import BackboneError
from prismarec.renderer.style import FAST_MODEL


def delta_e(a: np.ndarray, b: np.ndarray) -> float:
    return float(deltaE_ciede2000(rgb2lab(a), rgb2lab(b)).mean())


def test_fast_style_paints_at_the_photos_own_size(photos):
    plain = RenderParams(layer=None, mask="all", size=481)  # 481x320: sides the network must pad to fit
    styled = plain.replace(style="fast")
    base = render(photos["chelsea"], plain, None).image
    result = render(photos["chelsea"], styled, None, guide=photos["astronaut"])
    assert result.image.shape == base.shape == (320, 481, 3)
    assert result.style_model == FAST_MODEL and "style" in result.timings
    assert delta_e(result.image, base) > 10  # painted, not copied


def test_style_strength_moves_from_the_photos_look_to_the_guides(photos):
    params = RenderParams(layer=None, mask="all", size=256, style="fast")
    base = render(photos["coffee"], params.replace(style=None), None).image
    far = {s: delta_e(render(photos["coffee"], params.replace(style_strength=s), None,
                             guide=photos["astronaut"]).image, base) for s in (0.0, 0.5, 1.0)}
    assert far[0.0] < far[0.5] < far[1.0]


def test_style_with_a_dream_and_in_a_preview(photos, net):
    params = RenderParams(style="fast", size=160, iter_n=2, octave_n=2)
    full = render(photos["rocket"], params, net, guide=photos["chelsea"])
    assert full.style_model == FAST_MODEL and full.backbone == net.name
    preview = render_preview(photos["rocket"], params, net, 96, guide=photos["chelsea"])
    assert preview.style_model == FAST_MODEL and preview.image.shape[1] == 96
    with pytest.raises(ValueError, match="no preview"):
        render_preview(photos["rocket"], params.replace(style="gatys"), net, 96, guide=photos["chelsea"])


def test_a_style_needs_a_guide(photos):
    with pytest.raises(ValueError, match="needs a guide image"):
        render(photos["rocket"], RenderParams(layer=None, style="fast"), None)
    with pytest.raises(ValueError, match="style must be None or one of fast, gatys"):
        RenderParams(style="van gogh")


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory):
    """A VGG-19 weights file in torchvision's format (random values: it tests loading, not looks)."""
    from torchvision.models import vgg19

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "vgg19-test.pth"
    torch.save({f"features.{k}": v for k, v in vgg19(weights=None).features.state_dict().items()}, path)
    return path


def test_gatys_runs_with_a_torchvision_weights_file_and_keeps_its_least_loss(photos, vgg_file, monkeypatch):
    monkeypatch.setenv("PRISMAREC_VGG19", str(vgg_file))
    steps = []
    photo, style = photos["chelsea"][::6, ::6], photos["astronaut"][::8, ::8]  # 50x76, 64x64
    out = gatys.gatys_style(photo, style, 30, on_step=lambda: steps.append(1))
    assert out.shape == photo.shape and out.dtype == np.uint8 and len(steps) == 30
    objective = gatys._Objective(gatys.load_vgg19(), photo, gatys._fit(style, max(photo.shape[:2])))

    def loss(image: np.ndarray) -> float:
        with torch.no_grad():
            return float(sum(objective.terms(objective.tensor(image)).values()))

    assert loss(out) < loss(photo)  # Adam's steps of 100 found a better image, and it was kept
    terms = gatys.loss_terms(photo, style)
    assert set(terms) == {"content", "style", "tv"} and all(v > 0 for v in terms.values())
    result = render(photo, RenderParams(layer=None, mask="all", size=64, style="gatys", style_iters=2), None,
                    guide=photos["astronaut"])
    assert result.style_model == gatys.GATYS_MODEL


def test_a_failed_weights_download_leaves_nothing_behind(monkeypatch, tmp_path):
    from torchvision.models import VGG19_Weights

    monkeypatch.delenv("PRISMAREC_VGG19", raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    folder = tmp_path / "hub" / "checkpoints"

    def cut_off(*args, **kwargs):
        folder.mkdir(parents=True)
        (folder / f"{gatys.VGG19_FILE}.partial").write_bytes(b"half a file")
        raise OSError("connection reset")

    monkeypatch.setattr(VGG19_Weights.IMAGENET1K_V1.__class__, "get_state_dict", cut_off)
    with pytest.raises(BackboneError, match="could not be downloaded"):
        gatys.load_vgg19()
    assert not folder.exists()


def test_gatys_refuses_clearly_without_weights(monkeypatch, tmp_path):
    from torchvision.models import VGG19_Weights

    monkeypatch.setenv("PRISMAREC_VGG19", str(tmp_path / "missing.pth"))
    with pytest.raises(BackboneError, match="does not exist"):
        gatys.load_vgg19()
    monkeypatch.delenv("PRISMAREC_VGG19")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))  # an empty cache

    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(VGG19_Weights.IMAGENET1K_V1.__class__, "get_state_dict", offline)
    with pytest.raises(BackboneError, match="PRISMAREC_VGG19"):
        gatys.load_vgg19()
