import os
import tempfile

import numpy as np
import pytest
import skimage.data

# Never touch (or leave an empty folder in) the user's torch cache.
os.environ.setdefault("TORCH_HOME", tempfile.mkdtemp(prefix="prismarec-torch-"))

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    return {name: getattr(skimage.data, name)() for name in PHOTOS}


@pytest.fixture(scope="session")
def net():
    from renderer.backbones import load_backbone

    return load_backbone("efficientnet-lite0", device="cpu")


@pytest.fixture(autouse=True)
def data_home(tmp_path, monkeypatch):
    """Every test gets its own data directory: database, index and renders."""
    home = tmp_path / "prismarec-home"
    monkeypatch.setenv("PRISMAREC_HOME", str(home))
    monkeypatch.delenv("PRISMAREC_DB", raising=False)
    return home
