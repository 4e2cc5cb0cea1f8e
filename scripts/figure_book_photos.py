"""The README's picture: a portrait and a landscape photo rendered with the chapter's worked example.

Rows: a portrait-shaped crop of `astronaut`, the landscape `chelsea`. Columns: the photo; the
chapter's keep rule (n1=5, n2=25, n3=180, median factor 5, big factor 2) blending in the guide;
that blend dreamt at `conv2/3x3_reduce`; the stem layer (`conv1/7x7_s2`) dreamt before its
ReLU (Caffe's blob, the default) and after it (`post_relu=true`). Aspect ratios are kept.

    python -m scripts.figure_book_photos docs/book_photos.jpg
"""

from __future__ import annotations

import sys

import numpy as np
import skimage.data
from PIL import Image, ImageDraw

from renderer import RenderParams, load_backbone, render

CHAPTER = RenderParams(mask="otsu", n1=5, n2=25, n3=180, convd_median_factor=5.0, convd_big_factor=2.0, size=320)
COLUMNS = [
    ("photo", None),
    ("chapter keep rule + guide", CHAPTER.replace(layer=None)),
    ("+ dream conv2/3x3_reduce", CHAPTER),
    ("conv1 before ReLU", CHAPTER.replace(layer="conv1/7x7_s2", step_size=3.0)),
    ("conv1 after ReLU", CHAPTER.replace(layer="conv1/7x7_s2", step_size=3.0, post_relu=True)),
]


def main(path: str = "docs/book_photos.jpg") -> None:
    net = load_backbone("auto")
    guide = skimage.data.hubble_deep_field()
    photos = [skimage.data.astronaut()[:, 60:420], skimage.data.chelsea()]
    rows = []
    for photo in photos:
        cells = [render(photo, params, net, guide=guide).image if params else
                 np.asarray(Image.fromarray(photo).resize((320, round(photo.shape[0] * 320 / photo.shape[1]))))
                 for _, params in COLUMNS]
        rows.append(np.concatenate([np.pad(c, ((0, 0), (0, 8), (0, 0)), constant_values=255) for c in cells], 1))
    width = max(r.shape[1] for r in rows)
    sheet = Image.new("RGB", (width, 28 + sum(r.shape[0] + 8 for r in rows)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (title, _) in enumerate(COLUMNS):
        draw.text((i * 328 + 4, 8), title, fill="black")
    y = 28
    for r in rows:
        sheet.paste(Image.fromarray(r), (0, y))
        y += r.shape[0] + 8
    sheet.save(path, quality=88)
    print(f"wrote {path} ({net.name})")


if __name__ == "__main__":
    main(*sys.argv[1:])
