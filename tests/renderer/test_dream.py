"""DeepDream on a real photo with real EfficientNet-Lite0 weights."""

import numpy as np
import pytest
import torch

from prismarec.renderer.dream import dream, guide_features
from prismarec.renderer.images import resize
from prismarec.renderer.params import RenderParams
from prismarec.renderer.pipeline import render


def layer_norm(net, image: np.ndarray, layer: str) -> float:
    x = torch.from_numpy(image.astype(np.float32)).permute(2, 0, 1)[None]
    with torch.no_grad():
        return float(net.activation(net.normalize(x), layer).norm())


def test_activation_norm_rises_with_iterations(net, photos):
    photo = resize(photos["chelsea"], 160)
    norms = [layer_norm(net, dream(net, photo, RenderParams(layer="blocks.4", iter_n=n, octave_n=1)), "blocks.4")
             for n in (1, 4, 12)]
    assert norms[0] > layer_norm(net, photo, "blocks.4")
    assert norms[0] < norms[1] < norms[2]


def test_output_shape_dtype_range(net, photos):
    photo = resize(photos["coffee"], 150, keep_size=True)
    out = dream(net, photo, RenderParams(layer="conv2/3x3_reduce", iter_n=3))
    assert out.shape == photo.shape and out.dtype == np.uint8
    change = np.abs(out.astype(int) - photo).mean()
    structure = np.corrcoef(out.mean(axis=2).ravel(), photo.mean(axis=2).ravel())[0, 1]
    assert change > 3 and structure > 0.5  # the dream draws over the photo, which still shows through


def test_batch_matches_single(net, photos):
    a, b = resize(photos["coffee"], 96), resize(photos["rocket"], 96)
    params = RenderParams(layer="blocks.3", iter_n=3, octave_n=2)
    both = dream(net, [a, b], params)
    for single, batched in zip((dream(net, a, params), dream(net, b, params)), both, strict=True):
        diff = np.abs(single.astype(int) - batched)  # float summation order differs a little in a batch
        assert diff.mean() < 0.2 and np.percentile(diff, 99) <= 3


@pytest.mark.parametrize("width", [256, 301])  # an odd size pads TensorFlow's "same" differently
def test_tiling_matches_untiled_away_from_seams(net, photos, width):
    photo = resize(photos["astronaut"][:, :450], width)
    params = RenderParams(layer="blocks.2", iter_n=3, octave_n=1, jitter=0)
    whole = dream(net, photo, params).astype(int)
    tiled = dream(net, photo, params, tile=128, margin=48).astype(int)
    diff = np.abs(whole - tiled)
    assert diff.mean() < 1.0
    assert np.percentile(diff, 99) <= 3


def test_guided_dream_moves_features_toward_guide(net, photos):
    photo, guide = resize(photos["chelsea"], 128), resize(photos["coffee"], 128)
    layer = "blocks.4"
    target = guide_features(net, guide, layer)
    target = target / target.norm(dim=0, keepdim=True)

    def closeness(img):
        f = guide_features(net, img, layer)
        f = f / f.norm(dim=0, keepdim=True)
        return float((f.T @ target).max(1).values.mean())

    out = dream(net, photo, RenderParams(layer=layer, iter_n=8, octave_n=2), guide=guide)
    plain = dream(net, photo, RenderParams(layer=layer, iter_n=8, octave_n=2))
    assert closeness(out) > closeness(photo) + 0.02
    assert closeness(out) > closeness(plain)


def test_unknown_layer_lists_valid_names(net, photos):
    with pytest.raises(ValueError, match="unknown layer 'inception_9z/output'.*blocks.0"):
        render(photos["coffee"], RenderParams(layer="inception_9z/output"), net)


def test_every_book_layer_renders_on_efficientnet(net, photos):
    from prismarec.renderer.registry import GOOGLENET_LAYERS

    photo = resize(photos["coffee"], 64)
    depths = [net.resolve(blob)[0] for blob in GOOGLENET_LAYERS]  # the book's order, shallow to deep
    assert all(a <= b for a, b in zip(depths, depths[1:], strict=False)) and depths[0] < depths[-1]
    out = render(photo, RenderParams(layer="inception_4c/output", iter_n=1, octave_n=1, size=64), net)
    assert out.image.shape == (43, 64, 3)  # coffee is 600x400


def test_googlenet_layer_table_covers_torchvision_modules():
    from torchvision.models import googlenet

    from prismarec.renderer.registry import GOOGLENET_LAYERS

    model = googlenet(weights=None, aux_logits=False, init_weights=False)
    children = dict(model.named_children())
    for blob, (module, branch, _) in GOOGLENET_LAYERS.items():
        assert module in children, blob
        assert not branch or branch in dict(children[module].named_modules()), blob
    assert len(GOOGLENET_LAYERS) == 7 + 9 * 8 + 3


def test_render_many_matches_single_renders_and_reports_failures(net, photos):
    from prismarec.renderer.pipeline import render_many

    a = RenderParams(size=96, iter_n=3, octave_n=2, layer="blocks.3")
    jobs = [(photos["coffee"], a, None), (photos["coffee"], a.replace(rb_rate=0.8), None),
            (photos["rocket"], a.replace(layer="nope"), None), (photos["chelsea"], a.replace(layer=None), None)]
    results = render_many(jobs, net)
    assert isinstance(results[2], ValueError) and "unknown layer" in str(results[2])
    assert results[3].backbone is None and results[3].image.shape == (64, 96, 3)
    for (photo, params, _), res in zip(jobs[:2], results[:2], strict=True):
        single = render(photo, params, net).image.astype(int)
        assert res.backbone == net.name and np.abs(single - res.image).mean() < 0.2
