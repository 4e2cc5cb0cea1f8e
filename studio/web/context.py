"""What every route of one app shares — the library service, sign-in sessions, locks, sweep jobs —
and the dependencies that hand it to them."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import Field, StrictInt

from db import Database, Guide, NotFound, Photo, Render
from studio.service import Studio

from .security import COOKIE, Sessions, SignInLimiter, csrf_ok, csrf_token

MAX_ID = 2**62  # ids past this cannot be stored: refused as malformed, not sent to the database
ItemId = Annotated[int, PathParam(ge=0, le=MAX_ID)]
BodyId = Annotated[StrictInt, Field(ge=0, le=MAX_ID)]


@dataclass
class Job:
    """A sweep started from the page: progress for the page to poll, and a cancel flag."""

    total: int
    done: int = 0
    state: str = "queued"  # queued | running | finished | cancelled | failed
    started: float = field(default_factory=time.monotonic)
    cancel: bool = False

    def to_dict(self) -> dict:
        elapsed = time.monotonic() - self.started
        eta = elapsed / self.done * (self.total - self.done) if self.done and self.state == "running" else None
        return {"total": self.total, "done": self.done, "state": self.state, "eta_s": eta}


@dataclass
class Site:
    db: Database
    studio: Studio
    secret: bytes
    home: Path
    weights: str | None
    templates: Jinja2Templates
    sessions: Sessions = field(default_factory=Sessions)
    sign_ins: SignInLimiter = field(default_factory=SignInLimiter)
    render_lock: threading.Lock = field(default_factory=threading.Lock)  # full renders and sweeps, one at a time
    preview_lock: threading.Lock = field(default_factory=threading.Lock)  # previews queue apart, cheap by budget
    latest_preview: dict[str, int] = field(default_factory=dict)  # curator -> newest preview, so older ones stop
    sweeps: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="sweep"))
    jobs: dict[int, Job] = field(default_factory=dict)

    def path(self, kind: str, item_id: int) -> str:
        """A stored file's path by id (files are never looked up by a path from a URL)."""
        model = {"photo": Photo, "guide": Guide, "render": Render}[kind]
        with self.db.reading() as s:
            row = s.get(model, item_id)
            if row is None:
                raise NotFound(f"no {kind} {item_id}")
            return row.output_path if kind == "render" else row.path

    def viewer(self, request: Request) -> dict[str, Any]:
        sid = request.cookies.get(COOKIE)
        name = self.sessions.curator(sid)
        return {"curator": name, "csrf": csrf_token(self.secret, sid) if name and sid else ""}

    def require_curator(self, request: Request, presented: str | None = None) -> str:
        """The signed-in curator, with a CSRF token (header, or `presented` from a form) bound to the session."""
        sid = request.cookies.get(COOKIE)
        name = self.sessions.curator(sid)
        if name is None or sid is None:
            raise HTTPException(401, "sign in with a curator token to make changes")
        if not csrf_ok(self.secret, sid, presented or request.headers.get("x-csrf-token")):
            raise HTTPException(403, "missing or wrong CSRF token")
        return name

    def page(self, request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        return self.templates.TemplateResponse(request, name, {**self.viewer(request), **context},
                                               status_code=status_code)


def site(request: Request) -> Site:
    return request.app.state.site


def signed_in(request: Request) -> str:
    return site(request).require_curator(request)


SiteDep = Annotated[Site, Depends(site)]
CuratorDep = Annotated[str, Depends(signed_in)]  # for JSON routes: the CSRF token comes as a header
