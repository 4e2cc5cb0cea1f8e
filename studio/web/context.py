"""What every route of one app shares — the library service, sign-in sessions, locks, sweep jobs —
and the dependencies that hand it to them."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import Field, StrictInt

from prismarec.db import Curator, Database, Guide, NotFound, Photo, Render
from prismarec.studio.service import Studio

from .security import COOKIE, Sessions, SignInLimiter, csrf_ok, csrf_token

MAX_ID = 2**62  # ids past this cannot be stored: refused as malformed, not sent to the database
ItemId = Annotated[int, PathParam(ge=0, le=MAX_ID)]
BodyId = Annotated[StrictInt, Field(ge=0, le=MAX_ID)]
OptionalId = Annotated[int | None, Query(ge=0, le=MAX_ID)]  # an id in the query string, or none


@dataclass
class Job:
    """A render or sweep started from the page: progress for the page to poll, a cancel flag, and
    what it made."""

    total: int
    kind: str = "sweep"  # render | sweep
    done: int = 0
    state: str = "queued"  # queued | running | finished | cancelled | failed
    started: float = field(default_factory=time.monotonic)
    cancel: bool = False
    result: dict | None = None

    def to_dict(self) -> dict:
        elapsed = time.monotonic() - self.started
        eta = elapsed / self.done * (self.total - self.done) if self.done and self.state == "running" else None
        return {"kind": self.kind, "total": self.total, "done": self.done, "state": self.state, "eta_s": eta,
                "result": self.result}


class Jobs:
    """The sweeps started from the page, shared by request threads: ids never reused, and the
    ended jobs beyond the newest `HISTORY` forgotten, so the list does not grow for ever."""

    HISTORY = 100

    def __init__(self) -> None:
        self._jobs: dict[int, Job] = {}
        self._next = 1
        self._lock = threading.Lock()

    def add(self, total: int, kind: str = "sweep") -> tuple[int, Job]:
        with self._lock:
            job_id, self._next = self._next, self._next + 1
            self._jobs[job_id] = job = Job(total, kind)
            ended = [i for i, j in self._jobs.items() if j.state not in ("queued", "running")]
            for i in ended[: max(0, len(self._jobs) - self.HISTORY)]:
                del self._jobs[i]
            return job_id, job

    def __getitem__(self, job_id: int) -> Job:
        with self._lock:
            if job_id not in self._jobs:
                raise NotFound(f"no job {job_id}")
            return self._jobs[job_id]


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
    jobs: Jobs = field(default_factory=Jobs)

    def path(self, kind: str, item_id: int) -> str:
        """A stored file's path by id (files are never looked up by a path from a URL)."""
        model = {"photo": Photo, "guide": Guide, "render": Render}[kind]
        with self.db.reading() as s:
            row = s.get(model, item_id)
            if row is None:
                raise NotFound(f"no {kind} {item_id}")
            return row.output_path if kind == "render" else row.path

    def signed_in(self, sid: str | None) -> str | None:
        """The session's curator, if the database still holds them with the key they signed in
        with (one lookup by primary key): `curator remove` or a new token ends the session."""
        holder = self.sessions.holder(sid)
        if holder is None:
            return None
        with self.db.reading() as s:
            who = s.get(Curator, holder.curator_id)
            current = who is not None and who.token_hash == holder.token_hash
        if not current:
            self.sessions.revoke(sid)
            return None
        return holder.name

    def viewer(self, request: Request) -> dict[str, Any]:
        sid = request.cookies.get(COOKIE)
        name = self.signed_in(sid)
        return {"curator": name, "csrf": csrf_token(self.secret, sid) if name and sid else ""}

    def require_curator(self, request: Request, presented: str | None = None) -> str:
        """The signed-in curator, with a CSRF token (header, or `presented` from a form) bound to the session."""
        sid = request.cookies.get(COOKIE)
        name = self.signed_in(sid)
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
