"""Write the real photos bundled with scikit-image to a folder, for demos and curation."""

from __future__ import annotations

import sys
from pathlib import Path

import skimage.data
from PIL import Image

NAMES = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "retina",
         "camera", "coins")


def export(folder: Path, names: tuple[str, ...] = NAMES) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        path = folder / f"{name}.png"
        if not path.exists():
            Image.fromarray(getattr(skimage.data, name)()).convert("RGB").save(path)
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in export(Path(sys.argv[1] if len(sys.argv) > 1 else "demo/photos")):
        print(p)
