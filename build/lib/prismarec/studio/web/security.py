"""Sign-in tokens, cross-site request protection and upload checks for the web page."""

from __future__ import annotations

import hashlib
import hmac
import io
import re
import secrets
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

COOKIE = "prismarec_session"
SESSION_SECONDS = 7 * 86400
MAX_BODY_BYTES = 1024 * 1024  # any request but an upload
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; script-src 'self'; "
                               "style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
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


def csrf_token(secret: bytes, session_id: str) -> str:
    """Bound to the sign-in session: another site can neither read nor forge it."""
    return hmac.new(secret, session_id.encode(), hashlib.sha256).hexdigest()


def csrf_ok(secret: bytes, session_id: str, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(csrf_token(secret, session_id), presented or "")


class UploadTooLarge(ValueError):
    """An upload over the byte or pixel limit (413, where other bad uploads are 415)."""


def check_upload(data: bytes) -> str:
    """Validate an uploaded image from its header alone (type, size, pixels) before decoding; returns the format."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadTooLarge(f"upload is {len(data)} bytes; the limit is {MAX_UPLOAD_BYTES}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the pixel limit below decides
            with Image.open(io.BytesIO(data)) as img:
                fmt, (w, h) = img.format, img.size
    except Image.DecompressionBombError as exc:
        raise UploadTooLarge(f"upload is too large to decode ({exc})") from None
    except (UnidentifiedImageError, OSError):
        raise ValueError("upload is not an image") from None
    if fmt not in UPLOAD_FORMATS:
        raise ValueError(f"{fmt} images are not accepted; use one of {', '.join(sorted(UPLOAD_FORMATS))}")
    if w * h > MAX_UPLOAD_PIXELS:
        raise UploadTooLarge(f"upload is {w}x{h}, over the limit of {MAX_UPLOAD_PIXELS} pixels")
    return fmt


@dataclass(frozen=True)
class Holder:
    """Who a session was started for: the curator's id and the hash of the token they signed in
    with, so that removing or re-keying the curator (from any process) ends the session."""

    curator_id: int
    name: str
    token_hash: str


class Sessions:
    """Server-side sign-in sessions: the cookie holds a random id, never the curator's token, and
    signing out revokes it. Kept in memory: restarting the server signs everyone out. The web
    app checks each session's holder against the database on every request (`Site.signed_in`)."""

    def __init__(self, lifetime_s: float = SESSION_SECONDS):
        self.lifetime_s = lifetime_s
        self._by_id: dict[str, tuple[Holder, float]] = {}
        self._lock = threading.Lock()

    def start(self, holder: Holder) -> str:
        sid = secrets.token_urlsafe(32)
        with self._lock:
            self._by_id[sid] = (holder, time.monotonic() + self.lifetime_s)
        return sid

    def holder(self, sid: str | None) -> Holder | None:
        """Who this session belongs to, or None when unknown, revoked or expired."""
        with self._lock:
            holder, expires = self._by_id.get(sid or "", (None, 0.0))
            if holder is not None and time.monotonic() > expires:
                del self._by_id[sid or ""]
                return None
            return holder

    def revoke(self, sid: str | None) -> None:
        with self._lock:
            self._by_id.pop(sid or "", None)

    def revoke_curator(self, curator: str) -> None:
        with self._lock:
            for sid in [s for s, (holder, _) in self._by_id.items() if holder.name == curator]:
                del self._by_id[sid]


class SignInLimiter:
    """At most `attempts` failed sign-ins per client in `window_s` seconds (guessing tokens is slow)."""

    def __init__(self, attempts: int = 5, window_s: float = 60.0):
        self.attempts, self.window_s = attempts, window_s
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def blocked(self, client: str) -> bool:
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._failures.get(client, []) if now - t < self.window_s]
            self._failures[client] = recent
            return len(recent) >= self.attempts

    def failed(self, client: str) -> None:
        with self._lock:
            self._failures.setdefault(client, []).append(time.monotonic())


_PATH = re.compile(r"(?:[A-Za-z]:)?[\\/](?:[^\s'\"\\/:]+[\\/])+([^\s'\"\\/:]*)")


def public_message(text: str) -> str:
    """An error message fit for a browser: file system paths shortened to their file names."""
    return _PATH.sub(lambda m: m.group(1) or "(a folder)", text)
