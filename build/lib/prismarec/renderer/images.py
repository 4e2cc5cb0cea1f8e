"""Image loading and saving, shared by the renderer, indexer and web page.

Public convention: images are `(H, W, 3)` uint8 RGB arrays; gray images are float in [0, 1].
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from .files import atomic_write

MAX_PIXELS = 80_000_000  # refuse decompression bombs well before they exhaust memory


class ImageError(ValueError):
    """An input file that is missing, not an image, truncated or too large."""


def load_image(source: str | os.PathLike | bytes, *, max_pixels: int = MAX_PIXELS, name: str | None = None,
               at_least: int | None = None) -> np.ndarray:
    """Read any image Pillow can decode as `(H, W, 3)` uint8 RGB, EXIF orientation applied.

    `source` is a path or the file's bytes; `name` labels errors about bytes. With `at_least`, a
    JPEG may be decoded at a reduced scale that keeps both sides at least that many pixels (many
    times faster, for thumbnails).
    """
    name = name or ("<bytes>" if isinstance(source, bytes) else str(source))
    if not isinstance(source, bytes) and not Path(source).is_file():
        raise ImageError(f"{name}: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as img:
                if img.width * img.height > max_pixels:
                    raise ImageError(f"{name}: {img.width}x{img.height} is over the limit of {max_pixels} pixels")
                if at_least is not None:
                    img.draft("RGB", (at_least, at_least))
                img.load()
                return to_rgb_array(ImageOps.exif_transpose(img))
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"{name}: image too large ({exc})") from None
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not a readable image (unknown format)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{name}: not a readable image ({exc})") from None


def read_image_file(path: str | os.PathLike, *, max_pixels: int = MAX_PIXELS) -> tuple[bytes, np.ndarray]:
    """The file's bytes (for content hashing) and its decoded image, reading the file once."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except OSError as exc:
        raise ImageError(f"{path}: cannot read ({exc.strerror})") from None
    return data, load_image(data, max_pixels=max_pixels, name=str(path))


def to_rgb_array(img: Image.Image) -> np.ndarray:
    """Convert any Pillow mode (L, LA, P, RGBA, CMYK, I;16, I, F) to uint8 RGB."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        img = Image.fromarray(np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8))
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img)
    return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


MAX_WORK_PIXELS = 50_000_000  # the working image of a render (about 8192x6144)
MAX_ASPECT = 20.0  # longest side over shortest side of the working image


def work_shape(shape: tuple[int, ...], width: int, *, keep_size: bool = True) -> tuple[int, int]:
    """(height, width) of the working image: `width` wide, the photo's proportions kept unless
    `keep_size` is false (square, as the book's worker). Raises ValueError past the bounds."""
    h, w = shape[:2]
    height = max(1, round(h * width / w)) if keep_size else width
    aspect = max(height, width) / min(height, width)
    if aspect > MAX_ASPECT:
        raise ValueError(f"a {w}x{h} photo at width {width} would be {width}x{height} (aspect {aspect:.0f}:1); "
                         f"at most {MAX_ASPECT:.0f}:1 is rendered (crop the photo, or set keep_size=false)")
    if height * width > MAX_WORK_PIXELS:
        raise ValueError(f"a {w}x{h} photo at width {width} would be {width}x{height} = {height * width:,} pixels; "
                         f"the limit is {MAX_WORK_PIXELS:,} (lower size)")
    return height, width


def resize(image: np.ndarray, width: int, *, keep_size: bool = True, height: int | None = None) -> np.ndarray:
    """Resize to `width`, proportions kept unless `keep_size` is false, or to an explicit height."""
    if height is None:
        height, width = work_shape(image.shape, width, keep_size=keep_size)
    if image.shape[:2] == (height, width):
        return image
    return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.LANCZOS))


def fit_cover(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale to cover `width`x`height` without distortion, then crop the centre (a guide fitted to a photo)."""
    fitted = ImageOps.fit(Image.fromarray(image), (width, height), Image.Resampling.LANCZOS, centering=(0.5, 0.5))
    return np.asarray(fitted)


def to_gray(image: np.ndarray) -> np.ndarray:
    """Luma in [0, 1] as float32, computed by Pillow's 'L' conversion like the book."""
    return np.asarray(Image.fromarray(image).convert("L"), dtype=np.float32) / 255.0


def save_png(image: np.ndarray, path: str | os.PathLike, metadata: dict[str, str] | None = None, *,
             replace: bool = True) -> Path:
    """Write a PNG atomically (unique temporary file, then rename) with text metadata; with
    `replace` false an existing file is left alone (FileExistsError)."""
    info = PngImagePlugin.PngInfo()
    for key, value in (metadata or {}).items():
        info.add_itxt(key, value)
    return atomic_write(path, lambda tmp: Image.fromarray(image).save(tmp, format="PNG", pnginfo=info),
                        replace=replace)


RENDER_KEY = "prismarec:params"  # the PNG text entry every render carries


def is_render(path: str | os.PathLike) -> bool:
    """Whether a file is a PNG this product wrote (it carries its parameters): an artwork, not a
    photo. Reads the header chunks only."""
    if Path(path).suffix.lower() != ".png":
        return False
    try:
        with Image.open(path) as img:
            return RENDER_KEY in img.info
    except (OSError, ValueError, Image.DecompressionBombError):
        return False


def read_png_metadata(path: str | os.PathLike) -> dict[str, str]:
    with Image.open(path) as img:
        return dict(img.text)  # type: ignore[attr-defined]
