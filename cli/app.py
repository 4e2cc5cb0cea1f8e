"""The `prismarec` Typer app: its sub-apps, the options commands share, the global options on the
context object (`Settings`), and what commands open (database, records, the studio)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from prismarec.renderer.params import BACKBONES

if TYPE_CHECKING:  # the library is imported inside each command, so that --help starts at once
    from prismarec.studio.service import Studio

from .common import err, out, setup_logging

HELP_STYLE = {"rich_markup_mode": "markdown", "no_args_is_help": True}  # paragraphs reflowed, `code` shown
app = typer.Typer(help="Prisma-like artworks from photos, with parameters learnt from curated renders.",
                  add_completion=False, pretty_exceptions_enable=False, **HELP_STYLE)
curator_app = typer.Typer(help="Manage curators who sign in to the web page.", **HELP_STYLE)
index_app = typer.Typer(help="Inspect or rebuild the FAISS index (a cache of the database).", **HELP_STYLE)
app.add_typer(index_app, name="index")
app.add_typer(curator_app, name="curator")
delete_app = typer.Typer(help="Delete renders or photos (files included), after confirmation.", **HELP_STYLE)
app.add_typer(delete_app, name="delete")

BackboneOpt = Annotated[str, typer.Option(help=f"auto (GoogLeNet if its weights are present), {', '.join(BACKBONES)}")]
WeightsOpt = Annotated[Path | None, typer.Option(help="GoogLeNet weights file (torchvision state dict)")]
SetOpt = Annotated[list[str] | None, typer.Option(
    "--set", help="Override one parameter: key=value (None, true/false, numbers); list them: prismarec params")]
ParamsOpt = Annotated[Path | None,
                      typer.Option("--params", help="JSON file of parameters (a render's --json output works too)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of prose")]
MinSimOpt = Annotated[float, typer.Option(
    min=-1.0, max=1.0, help="Neighbours less similar than this (cosine) do not vote")]
CuratorOpt = Annotated[str | None, typer.Option(
    "--curator", help="Learn from this curator's verdicts only (default: everyone's, pooled)")]
MaxSecondsOpt = Annotated[float, typer.Option(
    min=1.0, help="Refuse a render estimated to take longer than this many seconds (the estimate is shown)")]


def _print_version(asked: bool) -> None:
    if asked:
        from importlib.metadata import version

        out.print(f"prismarec {version('prismarec')}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what the library does")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print the version and exit")] = False,
    db: Annotated[str | None, typer.Option(help="SQLAlchemy URL (default: $PRISMAREC_DB, else SQLite in "
                                                "$PRISMAREC_HOME or the user data directory)")] = None,
) -> None:
    setup_logging(verbose)
    settings(ctx).db = db


@dataclass
class Settings:
    """What the global options set, kept on the click context of the invocation (`ctx.obj`), so
    one invocation's --db never leaks into the next in the same process."""

    db: str | None = None  # SQLAlchemy URL; None: $PRISMAREC_DB, else the data directory's SQLite


def settings(ctx: typer.Context) -> Settings:
    """This invocation's `Settings` (made on first use, also where the app's callback did not run:
    the `recommend-and-render` console script)."""
    root = ctx.find_root()
    if root.obj is None:
        root.obj = Settings()
    return root.obj


def open_db(ctx: typer.Context):  # noqa: ANN201 (db.Database, imported here)
    from prismarec.db import Database

    return Database(settings(ctx).db)


def open_records(ctx: typer.Context) -> Studio:
    """The library service for commands that need no network (tag, untag, curators, delete)."""
    from prismarec.studio.service import Studio

    return Studio(open_db(ctx))


def open_studio(ctx: typer.Context, backbone: str, weights: Path | None, quiet: bool = False,
                writes: bool = True) -> Studio:
    """The library service with its backbone chosen (the network loads when a command first needs it);
    for commands that write, the database and index folder are checked first, so a read-only, locked
    or damaged store fails before any work."""
    from prismarec.studio.service import Studio

    studio = Studio(open_db(ctx), backbone, weights)
    if not quiet:
        err.print(f"backbone: {studio.catalog.embedder.name}")
    if writes:
        studio.db.check_writable()
        studio.catalog.index.check_writable()
    return studio


def default_output(photo: Path) -> Path:
    """A fresh file in the data directory's renders folder."""
    from prismarec.db import renders_dir

    return renders_dir() / f"{photo.stem}-{time.strftime('%Y%m%d-%H%M%S')}-{time.time_ns() % 10**6}.png"
