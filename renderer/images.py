"""Image loading and saving, shared by the renderer, indexer and web page.

Public convention: images are `(H, W, 3)` uint8 RGB arrays; gray images are float in [0, 1].
"""

from __future__ import annotations

import io
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

MAX_PIXELS = 80_000_000  # refuse decompression bombs well before they exhaust memory


class ImageError(ValueError):
    """An input file that is missing, not an image, truncated or too large."""


def load_image(source: str | os.PathLike | bytes, *, max_pixels: int = MAX_PIXELS, name: str | None = None
               ) -> np.ndarray:
    """Read any image Pillow can decode as `(H, W, 3)` uint8 RGB, EXIF orientation applied.

    `source` is a path or the file's bytes; `name` labels errors about bytes.
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


def resize(image: np.ndarray, width: int, *, keep_size: bool = False, height: int | None = None) -> np.ndarray:
    """Resize like the book: to `width`, square unless `keep_size`, or to an explicit height."""
    if height is None:
        h, w = image.shape[:2]
        height = max(1, int(h * (width / w))) if keep_size else width
    return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.LANCZOS))


def to_gray(image: np.ndarray) -> np.ndarray:
    """Luma in [0, 1] as float32, computed by Pillow's 'L' conversion like the book."""
    return np.asarray(Image.fromarray(image).convert("L"), dtype=np.float32) / 255.0


def save_png(image: np.ndarray, path: str | os.PathLike, metadata: dict[str, str] | None = None) -> Path:
    """Write a PNG atomically (temporary file, then rename) with text metadata."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    info = PngImagePlugin.PngInfo()
    for key, value in (metadata or {}).items():
        info.add_itxt(key, value)
    fd, tmp = tempfile.mkstemp(prefix=".part-", suffix=".png", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            Image.fromarray(image).save(fh, format="PNG", pnginfo=info)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_png_metadata(path: str | os.PathLike) -> dict[str, str]:
    with Image.open(path) as img:
        return dict(img.text)  # type: ignore[attr-defined]
