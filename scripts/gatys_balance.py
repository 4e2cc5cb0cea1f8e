"""The balance of the Gatys loss terms on the VGG-19 in use, at the first step, with the book's weights.

The book's weights (content 5, style 100, smoothness 100) were set for MatConvNet's VGG-19 fed
0-255 pixels less the mean; torchvision's VGG-19 is fed normalised pixels, so its activations
are on another scale. This prints the three terms for real photos, the numbers a calibration
of `renderer.gatys`'s weights starts from. It needs ImageNet VGG-19 weights (`PRISMAREC_VGG19`,
torchvision's cache or its download).

    PRISMAREC_VGG19=vgg19-dcbb9e9d.pth python -m prismarec.scripts.gatys_balance
"""

from __future__ import annotations

import argparse

import skimage.data
import torch

from prismarec.renderer.gatys import loss_terms

PAIRS = (("chelsea", "astronaut"), ("coffee", "hubble_deep_field"), ("rocket", "coffee"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", help="a VGG-19 weights file in torchvision's format")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print("photo / style: content, style, smoothness at the book's first step (the mean pixel plus faint noise)")
    for photo, style in PAIRS:
        terms = loss_terms(getattr(skimage.data, photo)(), getattr(skimage.data, style)(), args.weights)
        print(f"{photo} / {style}: " + ", ".join(f"{k} {v:.4g}" for k, v in terms.items()))


if __name__ == "__main__":
    main()
