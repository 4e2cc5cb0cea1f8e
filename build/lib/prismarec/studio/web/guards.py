"""The body size limit, enforced before a route (or the form parser) reads a byte."""

from __future__ import annotations

import json

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .security import COOKIE, MAX_BODY_BYTES, MAX_UPLOAD_BYTES, Sessions


class BodyLimit:
    """Refuse request bodies over the limit before reading them (413): by Content-Length when sent,
    and by counting otherwise. Uploads get a larger limit, and only with a session cookie."""

    def __init__(self, app: ASGIApp, sessions: Sessions):
        self.app, self.sessions = app, sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        upload = scope["path"] == "/api/upload"
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if upload and self.sessions.holder(_cookie(headers.get("cookie", ""))) is None:
            return await _plain(send, 401, "sign in with a curator token to upload")
        limit = MAX_UPLOAD_BYTES + 64 * 1024 if upload else MAX_BODY_BYTES
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            return await _plain(send, 413, f"request body over the limit of {limit} bytes")
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise HTTPException(413, f"request body over the limit of {limit} bytes")
            return message

        await self.app(scope, counted, send)


def _cookie(header: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == COOKIE:
            return value
    return None


async def _plain(send: Send, status: int, message: str) -> None:
    body = json.dumps({"detail": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
