"""The README's picture grid: what a photo can become, from the book's look to a painting.

Columns: the photo; the book's defaults with the guide (DeepDream of one layer over the
photo-guide blend); the house look (painting filters 4+10, what `recommend` answers before any
verdict); two other painting filters; the house look under a gentle dream; the guide's fast
style painted on the photo; and Gatys when VGG-19 ImageNet weights are present (`PRISMAREC_VGG19`
or the torch cache). Rows: `chelsea` with `astronaut` as the guide, `coffee` with Hubble's deep
field, a portrait crop of `astronaut` with `coffee`.

    python -m prismarec.scripts.figure_styles docs/styles.jpg
"""

from __future__ import annotations

import sys

import skimage.data
from PIL import Image

from prismarec.recommender.choose import HOUSE_LOOK
from prismarec.renderer.backbones import load_backbone
from prismarec.renderer.gatys import vgg19_weights_path
from prismarec.renderer.painting import describe
from prismarec.renderer.params import RenderParams

from .figure_book_photos import grid

WIDTH = 256
WHOLE = RenderParams(size=WIDTH, mask="all", layer=None)  # keep the whole photo: no guide pixels
HOUSE = HOUSE_LOOK.replace(size=WIDTH)


def main(path: str = "docs/styles.jpg") -> None:
    net = load_backbone("auto")
    columns = [("photo", None, False), ("book defaults + guide", RenderParams(size=WIDTH), True),
               (f"house look: {describe(HOUSE.painting)}", HOUSE, False),
               *((f"filter {i}: {describe(i)}", WHOLE.replace(style="painting", painting=str(i)), False)
                 for i in (7, 16)),
               ("house look + gentle dream", HOUSE.replace(layer="conv2/3x3_reduce", iter_n=5, step_size=0.8), False),
               ("fast style of the guide", WHOLE.replace(style="fast", style_at="photo"), True)]
    if vgg19_weights_path() is not None:
        columns.append(("Gatys, 300 iterations", WHOLE.replace(style="gatys", style_iters=300), True))
    triples = ((skimage.data.chelsea(), skimage.data.astronaut()),
               (skimage.data.coffee(), skimage.data.hubble_deep_field()),
               (skimage.data.astronaut()[:, 60:420], skimage.data.coffee()))
    rows = [grid(columns, [photo], guide, net, WIDTH) for photo, guide in triples]  # one guide per row
    sheet = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows)), "white")
    y = 0
    for r in rows:
        sheet.paste(r, (0, y))
        y += r.height
    sheet.save(path, quality=88)
    print(f"wrote {path} ({net.name})")


if __name__ == "__main__":
    main(*sys.argv[1:])
