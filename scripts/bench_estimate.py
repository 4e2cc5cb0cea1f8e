"""How close the time estimate is to the real time of a render, by size and look.

`renderer.cost.estimate_seconds` prices a render before it starts (the budget check refuses one
past `--max-seconds`). This renders real photos at 480 px, at 1080 px (size=auto) and at every
pixel of a 12-megapixel photo (size=full), with the book's dream, a painting filter, the guide's
fast style and no dream, and prints estimate, real time and their ratio.

    python -m prismarec.scripts.bench_estimate [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import skimage.data
import torch

from prismarec.renderer.backbones import load_backbone
from prismarec.renderer.cost import estimate_seconds
from prismarec.renderer.images import resize
from prismarec.renderer.params import RenderParams
from prismarec.renderer.pipeline import render

LOOKS = {"book dream": RenderParams(), "painting": RenderParams(style="painting", painting="4+10", layer=None),
         "fast style": RenderParams(style="fast", style_at="photo", layer=None),
         "no dream": RenderParams(layer=None, mask="otsu+features")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    net = load_backbone("efficientnet-lite0")
    photo, guide = skimage.data.chelsea(), skimage.data.astronaut()
    big = resize(photo, 4032, height=3024)
    print(f"{'look':12} {'size':>16} {'estimate':>9} {'real':>8} {'real/estimate':>14}")
    for name, params in LOOKS.items():
        for label, image, size in (("480", photo, 480), ("auto (1080)", big, "auto"), ("full 4032x3024", big, "full")):
            p = params.replace(size=size)
            render(image, p, net, guide=guide)  # networks loaded, probes timed
            estimate = estimate_seconds(net, p, image.shape)
            start = time.perf_counter()
            render(image, p, net, guide=guide)
            real = time.perf_counter() - start
            print(f"{name:12} {label:>16} {estimate:8.2f}s {real:7.2f}s {real / estimate:14.2f}", flush=True)


if __name__ == "__main__":
    main()
