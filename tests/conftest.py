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
    from renderer import load_backbone

    return load_backbone("efficientnet-lite0", device="cpu")
