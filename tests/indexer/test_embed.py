"""Embeddings through onnxruntime agree with torch's, so a photo embedded either way finds the same
neighbours; a copy that disagrees is never used."""

import numpy as np
import pytest
import torch
from torchvision.models import googlenet

import prismarec.indexer.embed as embedding
from prismarec.indexer.embed import Embedder, embed
from prismarec.renderer.backbones import load_backbone
from prismarec.renderer.registry import GOOGLENET_FILE


def test_the_exported_lite0_embeds_real_photos_as_torch_does(tmp_path, photos, net):
    images = list(photos.values())
    embedder = Embedder("efficientnet-lite0", cache=tmp_path)
    got = embedder(images)
    assert embedder._net is None  # no torch network was loaded for it
    (exported,) = tmp_path.glob("embed-efficientnet-lite0-*.onnx")
    np.testing.assert_allclose(got, embed(images, net), atol=1e-5)
    assert Embedder("efficientnet-lite0", cache=tmp_path)(images[:1]).shape == (1, 1280)  # read back, not re-made
    assert list(tmp_path.glob("*.onnx")) == [exported]


def test_the_exported_googlenet_embeds_as_torch_does(tmp_path, photos):
    torch.manual_seed(0)
    weights = tmp_path / GOOGLENET_FILE
    torch.save(googlenet(weights=None, aux_logits=False, init_weights=True).state_dict(), weights)
    images = [photos["coffee"], photos["rocket"]]
    got = Embedder("googlenet", weights, cache=tmp_path / "cache")(images)
    np.testing.assert_allclose(got, embed(images, load_backbone("googlenet", weights, "cpu")), atol=1e-5)


def test_a_copy_that_disagrees_with_torch_is_not_kept_and_torch_embeds(tmp_path, photos, net, monkeypatch):
    monkeypatch.setattr(embedding, "AGREEMENT", -1.0)  # no copy can agree this well
    embedder = Embedder("efficientnet-lite0", cache=tmp_path)
    got = embedder([photos["chelsea"]])
    assert not list(tmp_path.glob("*.onnx")) and embedder._net is not None
    np.testing.assert_allclose(got, embed([photos["chelsea"]], net), atol=1e-6)


@pytest.mark.parametrize("count", [1, 8])
def test_a_loaded_network_or_a_batch_goes_through_torch(tmp_path, photos, net, count):
    images = [photos["astronaut"]] * count
    loaded = Embedder(net=net, cache=tmp_path)
    np.testing.assert_allclose(loaded(images), embed(images, net), atol=1e-6)
    assert not list(tmp_path.glob("*.onnx"))
