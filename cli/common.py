"""Pieces every command shares: parameter assembly, error mapping, progress."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from renderer.backbones import BackboneError
from renderer.params import RenderParams, parse_assignments

err = Console(stderr=True)
out = Console()

# Errors a user can fix: one line on stderr, exit code 2.
USER_ERRORS = (ValueError, BackboneError, FileNotFoundError, PermissionError, IsADirectoryError)


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    try:
        yield
    except USER_ERRORS as exc:
        fail(str(exc))


def build_params(params_file: Path | None, sets: list[str] | None, base: RenderParams | None = None) -> RenderParams:
    """Defaults (or `base`), then the JSON file, then each `--set key=value`."""
    data = (base or RenderParams()).to_dict()
    if params_file is not None:
        try:
            loaded = json.loads(params_file.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{params_file}: cannot read parameters ({exc})") from None
        if not isinstance(loaded, dict):
            raise ValueError(f"{params_file}: parameters must be a JSON object")
        data.update(loaded.get("params", loaded))
    data.update(parse_assignments(sets or []))
    return RenderParams.from_dict(data)


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


def setup_logging(verbose: bool) -> None:
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
