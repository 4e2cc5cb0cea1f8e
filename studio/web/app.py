"""FastAPI application for curators (served by `prismarec serve`, 127.0.0.1 by default).

Pages are rendered on the server (`pages`); a little JavaScript adds keyboard shortcuts, the
live preview and job progress over the JSON API (`api`). Reading needs nothing; writing
(verdicts, previews, renders, sweeps, uploads) needs a curator signed in with their token
(`prismarec curator add NAME`), which starts a server-side session, and a CSRF token bound to
that session. Every use case runs through `studio.service`.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.trustedhost import TrustedHostMiddleware

from prismarec.db import Database, NotFound, StorageError, data_home
from prismarec.studio.service import Studio

from . import api, pages
from .context import Site, site
from .guards import BodyLimit
from .security import SECURITY_HEADERS, public_message, server_secret

HERE = Path(__file__).parent
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")


def error(request: Request, status: int, message: str) -> Response:
    """JSON for the API, a page for a browser; never a server path."""
    message = public_message(message)
    if request.url.path.startswith("/api/") or "text/html" not in request.headers.get("accept", ""):
        return JSONResponse({"detail": message}, status_code=status)
    return site(request).page(request, "error.html", status_code=status, status=status, message=message)


def _validation_message(exc: RequestValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}"
                     for e in exc.errors()[:5])


# Library errors -> status codes; anything else is a bug and stays a 500.
ERRORS: list[tuple[type[Exception], int, str | None]] = [
    (NotFound, 404, None), (ValueError, 422, None), (StorageError, 503, None),
    (api.Superseded, 409, "a newer preview was asked for"),
]


def create_app(db_url: str | None = None, backbone: str = "auto", weights: str | None = None, *,
               hosts: tuple[str, ...] = LOCAL_HOSTS) -> FastAPI:
    """The curator's page over one database; `hosts` are the names it answers to (DNS rebinding defence)."""
    db = Database(db_url)
    home = data_home()
    state = Site(db, Studio(db, backbone, weights), server_secret(home), home, weights,
                 Jinja2Templates(directory=HERE / "templates"))
    app = FastAPI(title="prismarec", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.site = state
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(BodyLimit, sessions=state.sessions)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(hosts))

    @app.middleware("http")
    async def guard(request: Request, call_next):  # noqa: ANN001, ANN202
        """Refuse a POST whose browser-sent Origin is another site; set the security headers."""
        origin = request.headers.get("origin")
        if request.method == "POST" and origin and origin.split("://", 1)[-1] != request.headers.get("host"):
            response = JSONResponse({"detail": "cross-site request refused"}, status_code=403)
        else:
            response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    app.add_exception_handler(HTTPException, lambda r, e: error(r, e.status_code, str(e.detail)))
    app.add_exception_handler(RequestValidationError, lambda r, e: error(r, 422, _validation_message(e)))
    for kind, status, message in ERRORS:
        app.add_exception_handler(kind, lambda r, e, s=status, m=message: error(r, s, m or str(e)))
    app.include_router(pages.router)
    app.include_router(api.router)
    return app
