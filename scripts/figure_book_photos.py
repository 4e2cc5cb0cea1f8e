"""The README's picture: a portrait and a landscape photo, aspect kept, through the book's pipeline.

Rows: a portrait-shaped crop of `astronaut`, the landscape `chelsea`; the guide is Hubble's
deep field. Columns: the photo; the book's defaults with the guide; the chapter's worked
example (n1=5, n2=25, n3=180, median factor 5, big factor 2, on a sparse stdmean+features
mask, as the chapter's rule expects a mask covering little of the photo); no guide, so the
whole photo is dreamt; the stem layer (`conv1/7x7_s2`) dreamt before its ReLU (Caffe's
blob, the default) and after it (`post_relu=true`). All dream `conv2/3x3_reduce` but the last two.

    python -m prismarec.scripts.figure_book_photos docs/book_photos.jpg
"""

from __future__ import annotations

import sys

import numpy as np
import skimage.data
from PIL import Image, ImageDraw

from prismarec.renderer.backbones import Backbone, load_backbone
from prismarec.renderer.params import RenderParams
from prismarec.renderer.pipeline import render

WIDTH = 256
BOOK = RenderParams(size=WIDTH)
CHAPTER = BOOK.replace(mask="stdmean+features", std_factor=1.5, loop_factor=0.3, n1=5, n2=25, n3=180,
                       convd_median_factor=5.0, convd_big_factor=2.0)
STEM = BOOK.replace(layer="conv1/7x7_s2", step_size=3.0)
COLUMNS = [  # (title, parameters, with the guide)
    ("photo", None, False),
    ("book defaults + guide", BOOK, True),
    ("chapter example + guide", CHAPTER, True),
    ("no guide: all dreamt", BOOK, False),
    ("conv1 before ReLU", STEM, False),
    ("conv1 after ReLU", STEM.replace(post_relu=True), False),
]


def grid(columns: list[tuple[str, RenderParams | None, bool]], photos: list[np.ndarray], guide: np.ndarray,
         net: Backbone, width: int = WIDTH) -> Image.Image:
    """One row per photo, one titled column per (title, parameters or None for the photo, guided)."""
    rows = []
    for photo in photos:
        cells = [render(photo, params, net, guide=guide if guided else None).image if params else
                 render(photo, RenderParams(size=width, layer=None), None).image for _, params, guided in columns]
        rows.append(np.concatenate([np.pad(c, ((0, 0), (0, 8), (0, 0)), constant_values=255) for c in cells], 1))
    sheet = Image.new("RGB", (max(r.shape[1] for r in rows), 28 + sum(r.shape[0] + 8 for r in rows)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (title, _, _) in enumerate(columns):
        draw.text((i * (width + 8) + 4, 8), title, fill="black")
    y = 28
    for r in rows:
        sheet.paste(Image.fromarray(r), (0, y))
        y += r.shape[0] + 8
    return sheet


def main(path: str = "docs/book_photos.jpg") -> None:
    net = load_backbone("auto")
    photos = [skimage.data.astronaut()[:, 60:420], skimage.data.chelsea()]
    grid(COLUMNS, photos, skimage.data.hubble_deep_field(), net).save(path, quality=88)
    print(f"wrote {path} ({net.name})")


if __name__ == "__main__":
    main(*sys.argv[1:])
