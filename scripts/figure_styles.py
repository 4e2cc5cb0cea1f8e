"""The README's style picture: photo, DeepDream only, fast style, fast style + dream, Gatys.

Rows: `chelsea` with `astronaut` as the style image, `coffee` with Hubble's deep field. The
Gatys column appears only when VGG-19 ImageNet weights are present (`PRISMAREC_VGG19` or the
torch cache).

    python -m scripts.figure_styles docs/styles.jpg
"""

from __future__ import annotations

import sys

import skimage.data
from PIL import Image

from renderer.backbones import load_backbone
from renderer.gatys import vgg19_weights_path
from renderer.params import RenderParams

from .figure_book_photos import grid

WIDTH = 256
WHOLE = RenderParams(size=WIDTH, mask="all")  # keep the whole photo: the style image is only the style


def main(path: str = "docs/styles.jpg") -> None:
    net = load_backbone("auto")
    columns = [("photo", None, False), ("DeepDream only", WHOLE, False),
               ("fast style", WHOLE.replace(style="fast", layer=None), True),
               ("fast style, strength 0.5", WHOLE.replace(style="fast", style_strength=0.5, layer=None), True),
               ("fast style + dream", WHOLE.replace(style="fast"), True)]
    if vgg19_weights_path() is not None:
        columns.append(("Gatys, 300 iterations", WHOLE.replace(style="gatys", style_iters=300, layer=None), True))
    pairs = ((skimage.data.chelsea(), skimage.data.astronaut()),
             (skimage.data.coffee(), skimage.data.hubble_deep_field()))
    rows = [grid(columns, [photo], style, net, WIDTH) for photo, style in pairs]  # one style image per row
    sheet = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows)), "white")
    y = 0
    for r in rows:
        sheet.paste(r, (0, y))
        y += r.height
    sheet.save(path, quality=88)
    print(f"wrote {path} ({net.name})")


if __name__ == "__main__":
    main(*sys.argv[1:])
