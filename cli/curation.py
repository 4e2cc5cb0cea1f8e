"""Commands of curation: ingest photos, tag and untag renders, delete, manage curators, ask what
to curate next, and recommend."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from prismarec.recommender import MIN_SIMILARITY
from prismarec.renderer.params import RenderParams

from .app import (
    BackboneOpt,
    CuratorOpt,
    JsonOpt,
    MinSimOpt,
    WeightsOpt,
    app,
    curator_app,
    delete_app,
    open_db,
    open_records,
    open_studio,
)
from .common import err, fail, out, print_json, progress, user_errors


@app.command()
def ingest(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Photos or folders of photos")],
    backbone: BackboneOpt = "auto",
    weights: WeightsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register and embed photos; the same bytes are skipped, unreadable files reported."""
    from prismarec.indexer.catalog import image_files

    with user_errors():
        catalog = open_studio(ctx, backbone, weights, quiet=as_json).catalog
        files = list(image_files(paths))
        with progress(len(files), "ingesting", enabled=not as_json) as bar:
            report = catalog.ingest(files, on_file=bar)
    if as_json:
        print_json({"added": report.added, "skipped": report.skipped,
                    "failed": [{"path": p, "error": e} for p, e in report.failed]})
    else:
        out.print(f"added {len(report.added)}, skipped {len(report.skipped)} already known, "
                  f"failed {len(report.failed)}")
        for path, why in report.failed:
            err.print(f"[red]failed:[/] {why}" if path in why else f"[red]failed:[/] {path}: {why}", highlight=False)
    if report.failed:
        raise typer.Exit(1)


@app.command()
def tag(
    ctx: typer.Context,
    render_id: Annotated[int, typer.Argument(help="Render id (printed by render, shown in --json)")],
    curator: Annotated[str, typer.Option(help="Who gives the verdict")],
    good: Annotated[bool, typer.Option("--good", help="Mark the render good")] = False,
    bad: Annotated[bool, typer.Option("--bad", help="Mark the render bad")] = False,
    score: Annotated[int | None, typer.Option(min=1, max=5, help="1-5")] = None,
    note: Annotated[str | None, typer.Option(help="Free text")] = None,
    new_curator: Annotated[bool, typer.Option(
        "--new-curator", help="Create the curator if the name is new (otherwise a new name is refused as a typo)")
    ] = False,
    fresh: Annotated[bool, typer.Option(
        "--fresh", help="Drop the earlier verdict's score and note (by default those not given are kept)")] = False,
) -> None:
    """Give a verdict on a render; a curator's new verdict replaces their earlier one (history kept).

    A score or note not given carries over from the curator's earlier verdict on that render,
    so `tag 9 --bad` after `tag 9 --good --score 4 --note "too dark"` keeps 4 and the note.
    """
    if good == bad:
        fail("give exactly one of --good or --bad")
    verdict = "good" if good else "bad"
    with user_errors():
        open_records(ctx).tag([render_id], curator, verdict, score, note, new_curator=new_curator,
                           keep_earlier=not fresh)
    out.print(f"render {render_id}: {verdict}{'' if score is None else f' {score}/5'} by {curator}")


YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")]


def confirm(question: str, yes: bool) -> None:
    """Ask before deleting, unless --yes; a no exits with 1."""
    if not yes and not typer.confirm(question):
        raise typer.Exit(1)


@delete_app.command("render")
def delete_render(
    ctx: typer.Context,
    render_id: Annotated[int, typer.Argument(help="Render id")],
    yes: YesOpt = False,
) -> None:
    """Delete a render: its record, its verdicts and its PNG."""
    confirm(f"delete render {render_id}, its verdicts and its file?", yes)
    with user_errors():
        open_records(ctx).delete_render(render_id)
    out.print(f"render {render_id} deleted")


@delete_app.command("photo")
def delete_photo(
    ctx: typer.Context,
    photo_id: Annotated[int, typer.Argument(help="Photo id (shown by recommend --json and suggest)")],
    yes: YesOpt = False,
) -> None:
    """Remove a photo from the catalogue with its renders (PNGs included) and their verdicts.
    The photo's own file is left where it is."""
    confirm(f"delete photo {photo_id} with all its renders and verdicts?", yes)
    with user_errors():
        count = open_records(ctx).delete_photo(photo_id)
    out.print(f"photo {photo_id} deleted with {count} render(s)")


@app.command()
def untag(
    ctx: typer.Context,
    render_id: Annotated[int, typer.Argument(help="Render id")],
    curator: Annotated[str, typer.Option(help="Whose verdict to withdraw")],
) -> None:
    """Withdraw a curator's verdict on a render (it stays in the history and no longer counts)."""
    with user_errors():
        withdrawn = open_records(ctx).untag(render_id, curator)
    if not withdrawn:
        fail(f"{curator} has no verdict on render {render_id}")
    out.print(f"render {render_id}: {curator}'s verdict withdrawn")


@app.command()
def recommend(
    ctx: typer.Context,
    photo: Annotated[Path, typer.Argument(help="The photo to choose parameters for")],
    k: Annotated[int, typer.Option(min=0, max=50, help="Alternatives to list")] = 5,
    min_similarity: MinSimOpt = MIN_SIMILARITY,
    curator: CuratorOpt = None,
    backbone: BackboneOpt = "auto",
    weights: WeightsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Choose parameters for PHOTO from the good renders of its nearest curated neighbours.

    Each neighbour's favourite set counts fully, its other good sets half, bad verdicts against.
    With no similar curated photo, the curators' most-liked set is returned (marked fallback).
    """
    with user_errors():
        rec = open_studio(ctx, backbone, weights, quiet=as_json).recommend(photo, k, min_similarity, curator)
    if as_json:
        print_json(rec.to_dict())
        return
    out.print(f"from the {rec.source}{' (fallback)' if rec.fallback else ''}, confidence {rec.confidence:.2f}: "
              f"{changes(rec.params)}")
    out.print(rec.explanation, highlight=False)
    for i, alt in enumerate(rec.alternatives, 1):
        out.print(f"  alternative {i}: {changes(alt)}")


def changes(params: RenderParams) -> str:
    """The fields that differ from the book's defaults, as key=value."""
    default = RenderParams()
    diff = [f"{k}={v}" for k, v in params.to_dict().items() if v != getattr(default, k)]
    return ", ".join(diff) or "book defaults"


@curator_app.command("add")
def curator_add(ctx: typer.Context,
                name: Annotated[str, typer.Argument(help="Curator name, recorded with every verdict")]) -> None:
    """Create a curator (or replace their token) and print the sign-in token once."""
    from prismarec.db.store import add_curator_token

    with user_errors(), open_db(ctx).session() as s:
        token = add_curator_token(s, name)
    out.print(f"curator {name}: sign-in token (shown once)\n{token}", highlight=False)


@curator_app.command("list")
def curator_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Curators, how many current verdicts each has, and whether they can sign in."""
    with user_errors():
        found = open_records(ctx).curators()
    if as_json:
        print_json([vars(c) for c in found])
        return
    table = Table("curator", "verdicts", "can sign in")
    for c in found:
        table.add_row(c.name, str(c.verdicts), "yes" if c.can_sign_in else "no")
    out.print(table if found else "no curators yet: prismarec curator add NAME")


@curator_app.command("remove")
def curator_remove(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Curator name")]) -> None:
    """Revoke a curator's sign-in. Their verdicts stay and keep counting (withdraw them with `untag`);
    a curator without any verdict is deleted."""
    with user_errors():
        open_records(ctx).remove_curator(name)
    out.print(f"curator {name}: removed (sign-in revoked)")


@app.command()
def suggest(
    ctx: typer.Context,
    n: Annotated[int, typer.Option("--n", min=1, max=1000, help="How many photos to list")] = 20,
    curator: CuratorOpt = None,
    backbone: BackboneOpt = "auto",
    weights: WeightsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Which photos to curate next: registered but uncurated photos unlike anything curated.

    Each is the farthest from every curated photo and every photo listed before it, so the list
    spreads over new scenes instead of repeating one. Register photos first with `ingest`.
    """
    with user_errors():
        studio = open_studio(ctx, backbone, weights, quiet=as_json, writes=False)
        studio.check_curator(curator)
        picks = studio.suggest(n, curator)
    if as_json:
        print_json([vars(p) for p in picks])
        return
    if not picks:
        out.print("nothing to suggest: every registered photo is curated (ingest more photos)")
    table = Table("photo", "closest curated photo", "taste model unsure", "file")
    for p in picks:
        unsure = "–" if p.uncertainty is None else f"{p.uncertainty:.2f}"
        table.add_row(str(p.photo_id), f"{p.nearest_curated:.2f}", unsure, p.path)
    out.print(table)
