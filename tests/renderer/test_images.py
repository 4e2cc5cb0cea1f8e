import io

import numpy as np
import pytest
from PIL import Image

from prismarec.renderer.images import ImageError, load_image, read_png_metadata, save_png


def _write(tmp_path, img: Image.Image, name: str, **kw) -> str:
    path = tmp_path / name
    img.save(path, **kw)
    return str(path)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "CMYK", "P", "I;16"])
def test_modes_load_as_rgb_uint8(tmp_path, photos, mode):
    base = Image.fromarray(photos["coffee"])
    if mode == "I;16":  # a real 16-bit image spans 0..65535
        img = Image.fromarray((np.asarray(base.convert("L"), np.uint16) * 257).astype(np.uint16))
    else:
        img = base.convert(mode)
    ext = "tiff" if mode in ("CMYK", "I;16") else "png"
    arr = load_image(_write(tmp_path, img, f"x.{ext}"))
    assert arr.dtype == np.uint8 and arr.shape == (*photos["coffee"].shape[:2], 3)
    assert arr.std() > 20  # real content, not a blank conversion


def test_exif_orientation_applied(tmp_path, photos):
    img = Image.fromarray(photos["chelsea"])  # 300x451 (h x w)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when shown
    arr = load_image(_write(tmp_path, img, "r.jpg", exif=exif.tobytes()))
    assert arr.shape[:2] == (451, 300)


def test_not_an_image(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("hello")
    with pytest.raises(ImageError, match="not a readable image"):
        load_image(path)


def test_truncated_image(tmp_path, photos):
    buf = io.BytesIO()
    Image.fromarray(photos["astronaut"]).save(buf, format="JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(ImageError, match="cut.jpg"):
        load_image(path)


def test_missing_and_too_large(tmp_path, photos):
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "nope.png")
    path = _write(tmp_path, Image.fromarray(photos["coffee"]), "big.png")
    with pytest.raises(ImageError, match="over the limit"):
        load_image(path, max_pixels=1000)


def test_png_metadata_round_trip(tmp_path, photos):
    path = save_png(photos["coffee"], tmp_path / "o.png", {"prismarec:params": '{"n1": 5}'})
    assert read_png_metadata(path) == {"prismarec:params": '{"n1": 5}'}
    assert list(tmp_path.iterdir()) == [path]
