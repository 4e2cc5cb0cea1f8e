"""Sign-in tokens, cross-site request protection and upload checks for the web page."""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets
from pathlib import Path

from PIL import Image, UnidentifiedImageError

COOKIE = "prismarec_token"
MAX_UPLOAD_BYTES = 25 * 1024 * 1024
MAX_UPLOAD_PIXELS = 40_000_000
UPLOAD_FORMATS = {"JPEG", "PNG", "WEBP", "TIFF", "BMP", "GIF"}


def server_secret(home: Path) -> bytes:
    """A per-installation secret (created once, readable only by its owner) that keys CSRF tokens."""
    path = home / "web-secret"
    if not path.exists():
        path.write_bytes(secrets.token_bytes(32))
        path.chmod(0o600)
    return path.read_bytes()


def csrf_token(secret: bytes, sign_in_token: str) -> str:
    """Bound to the signed-in curator: another site can neither read nor forge it."""
    return hmac.new(secret, sign_in_token.encode(), hashlib.sha256).hexdigest()


def csrf_ok(secret: bytes, sign_in_token: str, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(csrf_token(secret, sign_in_token), presented or "")


def check_upload(data: bytes) -> str:
    """Validate an uploaded image from its header alone (type, size, pixels) before decoding; returns the format."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValueError(f"upload is {len(data)} bytes; the limit is {MAX_UPLOAD_BYTES}")
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt, (w, h) = img.format, img.size
    except (UnidentifiedImageError, OSError):
        raise ValueError("upload is not an image") from None
    if fmt not in UPLOAD_FORMATS:
        raise ValueError(f"{fmt} images are not accepted; use one of {', '.join(sorted(UPLOAD_FORMATS))}")
    if w * h > MAX_UPLOAD_PIXELS:
        raise ValueError(f"upload is {w}x{h}, over the limit of {MAX_UPLOAD_PIXELS} pixels")
    return fmt
