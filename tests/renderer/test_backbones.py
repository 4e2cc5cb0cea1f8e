"""Backbone choice and the GoogLeNet layer table, with weights from a file (never a silent fallback)."""

import numpy as np
import pytest
import torch
from torchvision.models import googlenet

from prismarec.renderer.backbones import load_backbone
from prismarec.renderer.params import RenderParams
from prismarec.renderer.pipeline import render
from prismarec.renderer.registry import GOOGLENET_FILE, BackboneError, resolve_backbone_name

EXPECTED_CHANNELS = {"conv1/7x7_s2": 64, "pool1/norm1": 64, "conv2/3x3_reduce": 64, "conv2/3x3": 192,
                     "inception_3a/1x1": 64, "inception_3a/3x3_reduce": 96, "inception_3a/5x5_reduce": 16,
                     "inception_3a/pool": 192, "inception_3a/pool_proj": 32, "inception_3a/output": 256,
                     "inception_4c/output": 512, "inception_5b/output": 1024, "pool5/7x7_s1": 1024}


@pytest.fixture
def weights_file(tmp_path):
    """A file in torchvision's GoogLeNet format (its values are irrelevant to the mapping)."""
    torch.manual_seed(0)
    path = tmp_path / GOOGLENET_FILE
    torch.save(googlenet(weights=None, aux_logits=False, init_weights=True).state_dict(), path)
    return path


def test_auto_uses_efficientnet_without_googlenet_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    assert resolve_backbone_name("auto") == "efficientnet-lite0"


def test_auto_uses_googlenet_when_its_weights_are_cached(tmp_path, monkeypatch, weights_file):
    cache = tmp_path / "torch-home" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    (cache / GOOGLENET_FILE).write_bytes(weights_file.read_bytes())
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    assert resolve_backbone_name("auto") == "googlenet"


def test_every_book_layer_maps_to_the_right_googlenet_blob(weights_file, photos):
    net = load_backbone("googlenet", weights_file, device="cpu")
    assert net.name == "googlenet" and net.weights == str(weights_file) and len(net.layer_names) == 82
    x = net.normalize(torch.from_numpy(photos["coffee"][:224, :224].astype(np.float32)).permute(2, 0, 1)[None])
    for layer, channels in EXPECTED_CHANNELS.items():
        assert net.activation(x, layer).shape[1] == channels, layer
    assert net.pooled(x).shape == (1, 1024)
    out = render(photos["coffee"], RenderParams(size=96, iter_n=2, octave_n=2, layer="inception_3b/output"), net)
    assert out.backbone == "googlenet" and out.image.shape == (64, 96, 3)  # coffee is 600x400


@pytest.mark.parametrize("layer", ["conv1/7x7_s2", "conv2/3x3_reduce", "conv2/3x3", "inception_3a/1x1",
                                   "inception_3a/3x3_reduce", "inception_3a/5x5", "inception_3a/pool_proj"])
def test_googlenet_conv_blobs_are_cut_before_their_relu_like_caffe(weights_file, photos, layer):
    net = load_backbone("googlenet", weights_file, device="cpu")
    x = net.normalize(torch.from_numpy(photos["astronaut"][:160, :160].astype(np.float32)).permute(2, 0, 1)[None])
    pre, post = net.activation(x, layer), net.activation(x, layer, post_relu=True)
    assert (pre < 0).float().mean() > 0.05 and (post >= 0).all()
    torch.testing.assert_close(torch.relu(pre), post)


def test_outputs_and_pools_have_no_relu_to_cut(weights_file, photos, net):
    googlenet_net = load_backbone("googlenet", weights_file, device="cpu")
    x = torch.from_numpy(photos["rocket"][:128, :128].astype(np.float32)).permute(2, 0, 1)[None]
    for backbone, layer in [(googlenet_net, "inception_3a/output"), (googlenet_net, "pool2/3x3_s2"),
                            (net, "conv2/3x3_reduce"), (net, "blocks.7")]:
        y = backbone.normalize(x)
        torch.testing.assert_close(backbone.activation(y, layer), backbone.activation(y, layer, post_relu=True))
    stem_pre, stem_post = net.activation(net.normalize(x), "stem"), net.activation(net.normalize(x), "stem", True)
    assert (stem_pre < 0).any() and torch.equal(stem_pre.clamp(0, 6), stem_post)


def test_unusable_weights_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.pth"
    torch.save({"not": torch.zeros(1)}, bad)
    with pytest.raises(BackboneError, match="not a torchvision GoogLeNet state dict"):
        load_backbone("googlenet", bad, device="cpu")
    with pytest.raises(BackboneError, match="does not exist"):
        load_backbone("googlenet", tmp_path / "missing.pth", device="cpu")
    with pytest.raises(BackboneError, match="unknown backbone 'vgg'"):
        load_backbone("vgg")


def _pixels(photo: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(photo.astype(np.float32)).permute(2, 0, 1)[None]


def test_googlenet_sees_what_torchvision_feeds_it(weights_file, photos):
    """One affine map from pixels replaces ImageNet normalisation plus torchvision's `transform_input`."""
    net = load_backbone("googlenet", weights_file, device="cpu")
    reference = googlenet(weights=None, aux_logits=False, init_weights=False, transform_input=True).eval()
    reference.load_state_dict(torch.load(weights_file, weights_only=True))
    x = _pixels(photos["coffee"][:224, :224])
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    pooled = []
    reference.avgpool.register_forward_hook(lambda module, args, out: pooled.append(out.flatten(1)))
    with torch.no_grad():
        reference((x / 255 - mean) / std)
    expected = pooled[0]
    torch.testing.assert_close(net.pooled(net.normalize(x)), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape", [(160, 160), (161, 203)])  # even sizes pad TensorFlow's odd way
def test_inference_form_computes_the_published_network(photos, net, shape):
    """Folded batch norms, padding inside the convolutions and fused conv → ReLU6 change speed only:
    activations and the dream's input gradients match the network as published."""
    published = load_backbone("efficientnet-lite0", device="cpu", inference_form=False)
    x = _pixels(photos["chelsea"][: shape[0], : shape[1]])
    for layer in ["stem", "conv2/3x3_reduce", "blocks.7", "head"]:
        grads = []
        for backbone in (net, published):
            pixels = x.clone().requires_grad_(True)
            act = backbone.activation(backbone.normalize(pixels), layer)
            (grad,) = torch.autograd.grad(0.5 * act.pow(2).sum(), pixels)
            grads.append((act.detach(), grad))
        (act, grad), (act_ref, grad_ref) = grads
        assert (act - act_ref).abs().max() <= 1e-4 * act_ref.abs().max(), layer
        # rounding may flip a ReLU6 gate sitting on its kink, so gradients agree on average
        assert (grad - grad_ref).abs().mean() <= 1e-3 * grad_ref.abs().mean(), layer


def test_a_registered_backbone_dreams_embeds_and_has_depths(photos, monkeypatch):
    from torch import nn

    from prismarec.indexer.embed import embed
    from prismarec.renderer import backbones, registry
    from prismarec.renderer.dream import dream

    def load(_weights: str):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, stride=2, padding=1),
                              nn.ReLU())
        return model, "made by the test", [("one", model[0:2]), ("two", model[2:4])]

    def cut(net, layer):
        return next(((i, m) for i, (name, m) in enumerate(net.stages) if name == layer), None)

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    registry.register_backbone(registry.BackboneSpec("tiny", load, 16, lambda: [("one", "conv"), ("two", "conv")],
                                                     cut))
    assert registry.list_backbones() == ["googlenet", "efficientnet-lite0", "tiny"]
    net = backbones.load_backbone("tiny", device="cpu")
    photo = photos["coffee"][::8, ::8].copy()
    out = dream(net, photo, RenderParams(layer="two", iter_n=2, octave_n=1))
    assert out.shape == photo.shape and np.abs(out.astype(int) - photo).mean() > 1
    assert embed([photo], net).shape == (1, 16)
    assert (registry.layer_depth("one"), registry.layer_depth("two"), registry.layer_depth(None)) == (0.0, 0.5, -1.0)
    with pytest.raises(ValueError, match="unknown layer 'three' for tiny; valid: one, two"):
        net.resolve("three")
    with pytest.raises(registry.BackboneError, match="unknown backbone 'huge'"):
        backbones.load_backbone("huge")
