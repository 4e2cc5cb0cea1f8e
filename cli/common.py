"""Pieces every command shares: parameter assembly, error mapping, progress."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console, ConsoleDimensions
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from prismarec.renderer.params import RenderParams, parse_assignments, parse_json

if TYPE_CHECKING:
    from PIL import Image


class Output(Console):
    """stdout: wrapped to the terminal's width, but never cut or wrapped when it goes to a pipe
    or a file (which has no width), so a path or an id is never split."""

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        return size if self.is_terminal else ConsoleDimensions(PIPE_WIDTH, size.height)


PIPE_WIDTH = 1_000_000
err = Console(stderr=True)
out = Output(soft_wrap=True)

# Errors a user can fix: one line on stderr, exit code 2.
USER_ERRORS = (ValueError, FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError,
               FileExistsError)
# The same from modules the CLI imports only when a command needs them (an error cannot come from
# a module never imported, so --help does not pay for torch or SQLAlchemy).
LIBRARY_ERRORS = {"prismarec.db.session": ("StorageError", "NotFound"),
                  "prismarec.renderer.registry": ("BackboneError",)}


def is_user_error(exc: BaseException) -> bool:
    library = tuple(getattr(sys.modules[m], n) for m, names in LIBRARY_ERRORS.items() if m in sys.modules
                    for n in names)
    return isinstance(exc, USER_ERRORS + library)


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        if not is_user_error(exc):
            raise
        fail(str(exc))


def build_params(params_file: Path | None, sets: list[str] | None, base: RenderParams | None = None) -> RenderParams:
    """Defaults (or `base`), then the JSON file, then each `--set key=value`."""
    data = (base or RenderParams()).to_dict()
    if params_file is not None:
        try:
            loaded = parse_json(params_file.read_bytes())
        except OSError as exc:
            raise ValueError(f"{params_file}: cannot read parameters ({exc.strerror or exc})") from None
        except ValueError as exc:
            raise ValueError(f"{params_file}: {exc}") from None
        if isinstance(loaded, dict) and "params" in loaded:  # a render's --json output
            loaded = loaded["params"]
        if not isinstance(loaded, dict):
            raise ValueError(f"{params_file}: parameters must be a JSON object of name: value "
                             "(or a render's --json output)")
        data.update(loaded)
    data.update(parse_assignments(sets or []))
    return RenderParams.from_dict(data)


def check_new_png(path: Path) -> None:
    """A picture a command draws (a sheet, a strip) goes to a new .png file, never over another."""
    if path.suffix.lower() != ".png":
        raise ValueError(f"output must be a .png file, got {path}")
    if path.exists():
        raise FileExistsError(f"output {path} exists; choose another -o (or remove it)")


def save_new_png(picture: Image.Image, path: Path) -> None:
    import numpy as np

    from prismarec.renderer.images import save_png

    save_png(np.asarray(picture), path, replace=False)


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


def setup_logging(verbose: bool) -> None:
    """Log level for the library, and terminal output that survives file names that are not UTF-8."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


@contextmanager
def progress(total: int, label: str, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr; yields `advance(n)`. Hidden when not enabled or not a TTY."""
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   console=err, transient=True, disable=not enabled)
    with bar:
        task = bar.add_task(label, total=total)
        yield lambda n=1: bar.advance(task, n)
