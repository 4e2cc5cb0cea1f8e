"""`prismarec`: render, index photos, tag renders, recommend parameters, evaluate the recommender.

The app and its shared options are in `app`; the commands, by what they are for, in `artworks`
(render, recommend-and-render, sweep, …), `curation` (ingest, tag, recommend, curators, …) and
`library` (serve, eval, index), imported here to register them.
"""

from __future__ import annotations

import typer

from . import artworks, curation, library  # noqa: F401 (importing a module registers its commands)
from .app import app


def run() -> None:
    app()


def run_recommend_and_render() -> None:
    """The `recommend-and-render` console script."""
    single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    single.command()(artworks.recommend_and_render)
    single(prog_name="recommend-and-render")
