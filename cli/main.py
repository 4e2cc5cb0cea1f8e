"""`prismarec`: render, index photos, tag renders, recommend parameters, evaluate the recommender."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from prismarec.recommender import MIN_SIMILARITY
from prismarec.renderer.params import (
    BACKBONES,
    DEFAULT_MAX_SECONDS,
    HELP,
    RenderParams,
    allowed,
    field_names,
    parse_json,
)

if TYPE_CHECKING:  # the library is imported inside each command, so that --help starts at once
    from prismarec.studio.service import Studio

from .common import (
    build_params,
    check_new_png,
    err,
    fail,
    out,
    print_json,
    progress,
    save_new_png,
    setup_logging,
    user_errors,
)

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

_state: dict[str, str | None] = {"db": None}


def _print_version(asked: bool) -> None:
    if asked:
        from importlib.metadata import version

        out.print(f"prismarec {version('prismarec')}")
        raise typer.Exit()


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what the library does")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print the version and exit")] = False,
    db: Annotated[str | None, typer.Option(help="SQLAlchemy URL (default: $PRISMAREC_DB, else SQLite in "
                                                "$PRISMAREC_HOME or the user data directory)")] = None,
) -> None:
    setup_logging(verbose)
    _state["db"] = db


def open_db():  # noqa: ANN201 (db.Database, imported here)
    from prismarec.db import Database

    return Database(_state["db"])


def open_records() -> Studio:
    """The library service for commands that need no network (tag, untag, curators, delete)."""
    from prismarec.studio.service import Studio

    return Studio(open_db())


def open_studio(backbone: str, weights: Path | None, quiet: bool = False, writes: bool = True) -> Studio:
    """The library service with its backbone chosen (the network loads when a command first needs it);
    for commands that write, the database and index folder are checked first, so a read-only, locked
    or damaged store fails before any work."""
    from prismarec.studio.service import Studio

    studio = Studio(open_db(), backbone, weights)
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


@app.command()
def render(
    photo: Annotated[Path, typer.Argument(help="The photo to turn into an artwork")],
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", help="PNG to write (default: a new file in the data dir); never an existing one")] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace an existing -o file (never a catalogued photo or a judged render)")] = False,
    guide: Annotated[Path | None, typer.Option(help="Guide image whose pixels fill what the mask drops")] = None,
    sets: SetOpt = None,
    params_file: ParamsOpt = None,
    backbone: BackboneOpt = "auto",
    weights: WeightsOpt = None,
    max_seconds: MaxSecondsOpt = DEFAULT_MAX_SECONDS,
    as_json: JsonOpt = False,
) -> None:
    """Render PHOTO with the book's pipeline and record it; the PNG carries its parameters and backbone.

    The artwork has the photo's own resolution, the long side at most 1080 pixels (`size=auto`);
    `--set size=full` keeps every pixel, `--set size=480` makes it 480 wide (`--set keep_size=false`
    squares it, as the book's worker). A set looks the same at every size: its windows are stated
    at 480 px wide and scale with the image, and the dream runs at 480 px and is scaled up. A
    render estimated past --max-seconds is refused, and one that runs past it is stopped.
    Without --guide the whole photo is dreamt.

    Example: prismarec render cat.jpg --guide stars.jpg --set layer=inception_4c/output --set rb_rate=0.85 -o out.png
    """
    with user_errors():
        if output is not None and output.suffix.lower() != ".png":
            raise ValueError(f"output must be a .png file, got {output}")
        params = build_params(params_file, sets)
        if params.guide_dream and guide is None:
            raise ValueError("guide_dream=true needs --guide")
        studio = open_studio(backbone, weights, quiet=as_json)
        net = studio.catalog.net
        started = time.perf_counter()
        output = output or default_output(photo)
        steps = (params.iter_n * params.octave_n if params.layer else 0) + (
            params.style_iters if params.style == "gatys" else 0)  # each reports its steps to the bar
        with progress(steps, "rendering", enabled=not as_json and steps > 0) as bar:
            render_id, result, photo_id = studio.render(photo, params, output, guide=guide, on_step=bar,
                                                        max_seconds=max_seconds, overwrite=overwrite)
        total = time.perf_counter() - started
    summary = {"render_id": render_id, "output": str(output), "photo": str(photo), "photo_id": photo_id,
               "guide": str(guide) if guide else None, "backbone": result.backbone, "style_model": result.style_model,
               "device": str(net.device), "params": params.to_dict(), "timings": result.timings,
               "seconds": total}
    if as_json:
        print_json(summary)
        return
    stages = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in result.timings.items())
    out.print(f"render {render_id}: wrote {output} ({result.image.shape[1]}x{result.image.shape[0]}) "
              f"in {total:.2f} s: {stages}")


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Photos or folders of photos")],
    backbone: BackboneOpt = "auto",
    weights: WeightsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register and embed photos; the same bytes are skipped, unreadable files reported."""
    from prismarec.indexer.catalog import image_files

    with user_errors():
        catalog = open_studio(backbone, weights, quiet=as_json).catalog
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
        open_records().tag([render_id], curator, verdict, score, note, new_curator=new_curator,
                           keep_earlier=not fresh)
    out.print(f"render {render_id}: {verdict}{'' if score is None else f' {score}/5'} by {curator}")


@delete_app.command("render")
def delete_render(
    render_id: Annotated[int, typer.Argument(help="Render id")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")] = False,
) -> None:
    """Delete a render: its record, its verdicts and its PNG."""
    if not yes and not typer.confirm(f"delete render {render_id}, its verdicts and its file?"):
        raise typer.Exit(1)
    with user_errors():
        open_records().delete_render(render_id)
    out.print(f"render {render_id} deleted")


@delete_app.command("photo")
def delete_photo(
    photo_id: Annotated[int, typer.Argument(help="Photo id (shown by recommend --json and suggest)")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")] = False,
) -> None:
    """Remove a photo from the catalogue with its renders (PNGs included) and their verdicts.
    The photo's own file is left where it is."""
    if not yes and not typer.confirm(f"delete photo {photo_id} with all its renders and verdicts?"):
        raise typer.Exit(1)
    with user_errors():
        count = open_records().delete_photo(photo_id)
    out.print(f"photo {photo_id} deleted with {count} render(s)")


@app.command()
def untag(
    render_id: Annotated[int, typer.Argument(help="Render id")],
    curator: Annotated[str, typer.Option(help="Whose verdict to withdraw")],
) -> None:
    """Withdraw a curator's verdict on a render (it stays in the history and no longer counts)."""
    with user_errors():
        withdrawn = open_records().untag(render_id, curator)
    if not withdrawn:
        fail(f"{curator} has no verdict on render {render_id}")
    out.print(f"render {render_id}: {curator}'s verdict withdrawn")


@app.command()
def recommend(
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
        rec = open_studio(backbone, weights, quiet=as_json).recommend(photo, k, min_similarity, curator)
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


@app.command("recommend-and-render")
def recommend_and_render(
    photos: Annotated[list[Path], typer.Argument(help="Photos or folders of photos")],
    output_dir: Annotated[Path, typer.Option("-o", "--output-dir", help="Folder for the renders")],
    guide: Annotated[str | None, typer.Option(
        help="Guide image for every photo, or 'auto' for the guide the chosen set was liked with "
             "(the deciding neighbour's)")] = None,
    backbone: BackboneOpt = "auto",
    weights: WeightsOpt = None,
    sets: SetOpt = None,
    min_similarity: MinSimOpt = MIN_SIMILARITY,
    curator: CuratorOpt = None,
    max_seconds: MaxSecondsOpt = DEFAULT_MAX_SECONDS,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Local worker processes that render")] = 1,
    dask: Annotated[str | None, typer.Option(
        help="Render on a Dask cluster: a scheduler address (tcp://host:8786) or 'local'")] = None,
    as_json: JsonOpt = False,
    db: Annotated[str | None, typer.Option(help="SQLAlchemy URL (overrides the global --db)")] = None,
) -> None:
    """Recommend parameters for each photo and render it — auto-styling in one command.

    Each photo is written to OUTPUT_DIR/NAME.png at the photo's proportions; a name that is
    taken (a file, an earlier render, another photo of this run) gets -2, -3, …, so no file is
    ever replaced. Resumable: a photo whose render with the chosen set is already in the folder
    is skipped. The folder's own renders are never taken for photos. Renders are recorded, so
    curators can tag them (`prismarec tag ID --good --curator NAME`). A bad file is reported and
    skipped; failures are listed at the end and the exit code is 1 if any failed.

    One process renders a photo as soon as it is chosen, a line each. With --workers N or --dask,
    every photo is chosen first (here: its embedding and the recommendation), then the renders run
    on N local processes or the cluster's workers.
    """
    from prismarec.indexer.catalog import image_files
    from prismarec.studio.service import AutoRender
    from prismarec.studio.sweep import executor_for

    _state["db"] = db or _state["db"]
    with user_errors():
        build_params(None, sets)  # bad --set values are refused before any work
        studio = open_studio(backbone, weights, quiet=as_json)
        studio.check_curator(curator)
        fixed_guide = studio.read_guide(guide) if guide not in (None, "auto") else None
        files = list(image_files(photos))
        if not files:
            raise ValueError("no photos found in the given paths")
    results, skipped, failures = [], [], []
    taken = {f.resolve() for f in files}  # never write over an input, nor twice to one name
    parallel = workers > 1 or dask is not None

    def report(done: AutoRender) -> None:
        (skipped if done.skipped else results).append(done.to_dict())
        if not as_json:
            what = "already rendered" if done.skipped else "rendered"
            out.print(f"render {done.render_id}: {done.output} ({what}; chosen by the "
                      f"{done.recommendation.source}, confidence {done.recommendation.confidence:.2f})",
                      highlight=False)

    def failed(photo: str, exc: Exception) -> None:
        failures.append({"photo": photo, "error": str(exc)})
        if not as_json:
            err.print(f"[red]failed:[/] {photo}: {exc}", highlight=False)

    planned = []
    with progress(len(files), "choosing" if parallel else "rendering", enabled=not as_json) as bar:
        for path in files:
            try:
                auto, task = studio.plan_auto(
                    path, output_dir, adjust=lambda p: build_params(None, sets, base=p), guide=fixed_guide,
                    auto_guide=guide == "auto", min_similarity=min_similarity, curator=curator,
                    max_seconds=max_seconds, taken=taken)
                if task is None:
                    report(auto)
                elif parallel:
                    planned.append((auto, task))
                else:
                    done = studio.render_planned([(auto, task)])[0]
                    if isinstance(done, AutoRender):
                        report(done)
                    else:
                        failed(str(path), done)
            except (ValueError, OSError) as exc:
                failed(str(path), exc)
            bar(1)
    if planned:
        with executor_for(workers, dask) as executor, progress(len(planned), "rendering", enabled=not as_json) as bar:
            outcomes = studio.render_planned(planned, executor, on_task=bar)
        for (auto, _), done in zip(planned, outcomes, strict=True):
            if isinstance(done, AutoRender):
                report(done)
            else:
                failed(auto.photo, done)
    if as_json:
        print_json({"renders": results, "skipped": skipped, "failed": failures})
    else:
        out.print(f"{len(results)} rendered, {len(skipped)} already done, {len(failures)} failed")
        for failure in failures:
            err.print(f"[red]failed:[/] {failure['photo']}: {failure['error']}", highlight=False)
    if failures:
        raise typer.Exit(1)


@app.command()
def sweep(
    photos: Annotated[list[Path], typer.Argument(help="Photos or folders of photos")],
    output_dir: Annotated[Path, typer.Option("-o", "--output-dir", help="Folder for renders and contact sheets")],
    guides: Annotated[list[Path] | None, typer.Option("--guide", help="Guide image (repeat for several)")] = None,
    grid: Annotated[list[str] | None, typer.Option(
        "--grid", help="Values to sweep: key=v1,v2,... (repeat for several keys)")] = None,
    sets: SetOpt = None,
    params_file: ParamsOpt = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Local worker processes")] = 1,
    dask: Annotated[str | None, typer.Option(
        help="Run on a Dask cluster: a scheduler address (tcp://host:8786) or 'local' for a local cluster")] = None,
    backbone: BackboneOpt = "auto",
    weights: WeightsOpt = None,
    max_seconds: MaxSecondsOpt = DEFAULT_MAX_SECONDS,
    as_json: JsonOpt = False,
) -> None:
    """Render every combination of photos, guides and grid values (the book's PrismaMaster).

    Resumable: renders already in the database are skipped. One contact sheet per photo.
    Example: prismarec sweep cat.jpg --guide stars.jpg --grid layer=conv2/3x3_reduce,conv2/3x3
    --grid rb_rate=0.85,1.0 -o sweep/
    """
    from prismarec.indexer.catalog import image_files
    from prismarec.studio.sweep import executor_for, parse_grid

    with user_errors():
        base = build_params(params_file, sets)
        grid_values = parse_grid(grid or [])
        studio = open_studio(backbone, weights, quiet=as_json)
        files = list(image_files(photos))
        if not files:
            raise ValueError("no photos found in the given paths")
        tasks = studio.plan_sweep(files, list(guides or []), base, grid_values, output_dir, max_seconds,
                                  on_skip=lambda why: err.print(f"[red]skipped:[/] {why}", highlight=False))
    with executor_for(workers, dask) as executor, progress(len(tasks), "sweeping", enabled=not as_json) as bar:
        report = studio.sweep(tasks, executor, on_task=bar)
    sheets = report.sheets
    if as_json:
        print_json({"tasks": len(tasks), "rendered": report.rendered, "skipped": report.skipped,
                    "failed": [{"output": o, "error": e} for o, e in report.failed], "contact_sheets": sheets})
    else:
        out.print(f"{len(tasks)} renders: {len(report.rendered)} new, {len(report.skipped)} already done, "
                  f"{len(report.failed)} failed")
        for what, ids in (("new", report.rendered), ("already done", report.skipped)):
            if ids:
                out.print(f"render ids ({what}): {' '.join(map(str, ids))}", highlight=False)
        for o, e in report.failed:
            err.print(f"[red]failed:[/] {o}: {e}", highlight=False)
        for sheet in sheets:
            out.print(f"contact sheet: {sheet['path']}")
    if report.failed:
        raise typer.Exit(1)


@curator_app.command("add")
def curator_add(name: Annotated[str, typer.Argument(help="Curator name, recorded with every verdict")]) -> None:
    """Create a curator (or replace their token) and print the sign-in token once."""
    from prismarec.db.store import add_curator_token

    with user_errors(), open_db().session() as s:
        token = add_curator_token(s, name)
    out.print(f"curator {name}: sign-in token (shown once)\n{token}", highlight=False)


@curator_app.command("list")
def curator_list(as_json: JsonOpt = False) -> None:
    """Curators, how many current verdicts each has, and whether they can sign in."""
    with user_errors():
        found = open_records().curators()
    if as_json:
        print_json([vars(c) for c in found])
        return
    table = Table("curator", "verdicts", "can sign in")
    for c in found:
        table.add_row(c.name, str(c.verdicts), "yes" if c.can_sign_in else "no")
    out.print(table if found else "no curators yet: prismarec curator add NAME")


@curator_app.command("remove")
def curator_remove(name: Annotated[str, typer.Argument(help="Curator name")]) -> None:
    """Revoke a curator's sign-in. Their verdicts stay and keep counting (withdraw them with `untag`);
    a curator without any verdict is deleted."""
    with user_errors():
        open_records().remove_curator(name)
    out.print(f"curator {name}: removed (sign-in revoked)")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on (127.0.0.1: this machine only)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    allow_host: Annotated[list[str] | None, typer.Option(
        help="A host name the page answers to besides localhost (repeat; e.g. the machine's LAN name)")] = None,
    trust_proxy: Annotated[list[str] | None, typer.Option(
        help="Address of a reverse proxy whose X-Forwarded-For names the client (repeat); without it "
             "the header is ignored, so it cannot dodge the sign-in limit")] = None,
    backbone: BackboneOpt = "auto",
    weights: WeightsOpt = None,
) -> None:
    """Serve the curator's web page: gallery, review (keyboard tagging), tune with live preview, similar.

    Requests naming another host are refused (a defence against DNS rebinding): when serving on a
    network interface, name it with --allow-host. Behind a reverse proxy, name it with --trust-proxy.
    """
    import uvicorn

    from prismarec.studio.web import create_app
    from prismarec.studio.web.app import LOCAL_HOSTS

    hosts = (*LOCAL_HOSTS, *(allow_host or []), *([host] if host not in ("0.0.0.0", "::") else []))
    with user_errors():
        web = create_app(_state["db"], backbone, str(weights) if weights else None, hosts=hosts)
    err.print(f"prismarec on http://{host}:{port}/  (sign-in tokens: prismarec curator add NAME)")
    uvicorn.run(web, host=host, port=port, log_level="warning", proxy_headers=bool(trust_proxy),
                forwarded_allow_ips=",".join(trust_proxy or []) or None)


@app.command()
def suggest(
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
        studio = open_studio(backbone, weights, quiet=as_json, writes=False)
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


@app.command("eval")
def evaluate_cmd(
    plot: Annotated[Path, typer.Option(help="Where to save the reliability plot (PNG)")] = Path("reliability.png"),
    size: Annotated[int, typer.Option(min=32, max=1024, help="Working width of the comparison renders")] = 96,
    curator: CuratorOpt = None,
    groups: Annotated[Path | None, typer.Option(
        help="JSON file mapping photo file names (or paths) to scene names; default: group by similarity")] = None,
    protocol: Annotated[list[str] | None, typer.Option(
        help="photo (a fifth of the photos held out at a time), scene (whole scenes held out); default both")] = None,
    curators: Annotated[str | None, typer.Option(
        help="random:N — instead of this library, N generated curators on the bundled photos (a simulation)")] = None,
    seed: Annotated[int, typer.Option(help="with --curators: the first generated curator's seed")] = 2000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="with --curators: processes")] = 2,
    backbone: BackboneOpt = "auto",
    weights: WeightsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """How often each method picks the curator's favourite set, on new variants and on new scenes.

    Methods: recommend (what `recommend` does), knn (neighbour votes alone), 1-nn, most-liked,
    default (the book's), random. Scores: top-1 and top-3 agreement with the favourite, and
    ΔE (CIEDE2000) between the render with the pick and the render with the favourite.
    With --curators random:N the same protocols run on N simulated curators, each with its own
    palette and taste drawn from --seed on: mean and spread, with an oracle's ceiling.
    """
    from prismarec.db.store import curated
    from prismarec.recommender.evaluate import METHODS, PROTOCOLS, evaluate, plot_reliability

    if curators is not None:
        _evaluate_generated(curators, seed, workers, plot, backbone, weights, as_json)
        return
    with user_errors():
        chosen = tuple(protocol or PROTOCOLS)
        unknown = sorted(set(chosen) - set(PROTOCOLS))
        if unknown:
            raise ValueError(f"unknown protocol {', '.join(unknown)}; valid: {', '.join(PROTOCOLS)}")
        scene_of = None
        if groups is not None:
            scene_of = parse_json(groups.read_bytes())
            if not isinstance(scene_of, dict) or not all(isinstance(v, str) for v in scene_of.values()):
                raise ValueError(f"{groups}: expected a JSON object of file name: scene name")
        studio = open_studio(backbone, weights, quiet=as_json, writes=False)
        studio.check_curator(curator)
        catalog = studio.catalog
        with catalog.db.reading() as s:
            total = len({r.photo_id for r in curated(s, curator=curator)}) * len(chosen)
        with progress(total, "evaluating", enabled=not as_json) as bar:
            report = evaluate(catalog.db, catalog.net, size=size, curator=curator, groups=scene_of,
                              protocols=chosen, on_photo=bar)
        plot_reliability(report, plot)
    if as_json:
        print_json({**report.to_dict(), "plot": str(plot)})
        return
    for name, rep in report.protocols.items():
        table = Table("method", "top-1", "top-3", "ΔE to favourite")
        for m in METHODS:
            sc = rep.scores[m]
            table.add_row(m, f"{sc.top1:.2f}", f"{sc.top3:.2f}", f"{sc.delta_e:.1f}")
        held = "a fifth of the photos" if name == "photo" else "a fifth of the scenes"
        out.print(f"{name}: leaving {held} out at a time, {rep.photos} photos in {rep.scenes} scenes "
                  f"(recommend fell back on {rep.fallback_share:.0%})")
        out.print(table)
        if rep.too_few:
            out.print(f"[bold]too few to compare methods[/]: {rep.photos} photos in {rep.scenes} scenes, so a "
                      f"top-1 rate is uncertain by about ±{2 * rep.standard_error:.2f}; curate 30 photos in 5 "
                      f"scenes or more before reading these figures")
        out.print(f"recommend's confidence against its accuracy: expected calibration error "
                  f"{rep.calibration_error:.2f} over {len(rep.reliability)} bins")
    out.print(f"reliability plot saved to {plot}")


def _evaluate_generated(spec: str, seed: int, workers: int, plot: Path, backbone: str, weights: Path | None,
                        as_json: bool) -> None:
    import torch

    from prismarec.recommender.simulation import parse_curators
    from prismarec.recommender.transfer import Photos, one_line, run, summary, table
    from prismarec.recommender.transfer import plot as plot_transfer
    from prismarec.renderer.backbones import load_backbone

    with user_errors():
        count = parse_curators(spec)
        torch.set_num_threads(1)
        photos = Photos.build(load_backbone(backbone, weights))
        with progress(count, "curators", enabled=not as_json) as bar:

            def done(result: dict) -> None:
                bar(1)
                if not as_json:
                    out.print(one_line(result), highlight=False)

            results = run(range(seed, seed + count), photos, workers=workers, on_done=done)
        report = summary(results)
        plot_transfer(results, report, plot)
    if as_json:
        print_json({"summary": report, "curators": results, "plot": str(plot)})
        return
    for line in table(report):
        out.print(line, highlight=False)
    out.print(f"spread plot saved to {plot}")


@index_app.command("rebuild")
def index_rebuild(backbone: BackboneOpt = "auto", weights: WeightsOpt = None) -> None:
    """Recreate the index file from the database."""
    with user_errors():
        catalog = open_studio(backbone, weights).catalog
        meta = catalog.index.rebuild().meta
        out.print(f"rebuilt {catalog.index.path}: {len(catalog.index)} vectors ({meta.kind}) in "
                  f"{meta.build_seconds:.1f} s, process peak {meta.build_peak_mb:.0f} MB")


@index_app.command("stats")
def index_stats(backbone: BackboneOpt = "auto", weights: WeightsOpt = None, as_json: JsonOpt = False) -> None:
    """Size, kind (flat or IVF) and lists searched, the last build's time and peak memory, GPUs, and
    recall@10 against exact search."""
    with user_errors():
        stats = open_studio(backbone, weights, quiet=as_json, writes=False).catalog.index.stats()
    if as_json:
        print_json(stats)
    else:
        for key, value in stats.items():
            out.print(f"{key:>14}: {value}")


@app.command()
def params() -> None:
    """List every render parameter with its default, allowed values and meaning."""
    default = RenderParams()
    table = Table("parameter", "default", "allowed", "meaning")
    for name in field_names():
        table.add_row(name, str(getattr(default, name)), allowed(name), HELP[name])
    out.print(table)


@app.command()
def styles(
    sheet: Annotated[Path | None, typer.Option(
        "--sheet", help="Draw this photo in every painting filter, labelled (written to -o)")] = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="Where --sheet writes its PNG (a new file)")] = Path(
        "styles.png"),
    as_json: JsonOpt = False,
) -> None:
    """List the painting filters: `--set style=painting --set painting=N` paints a photo with one
    (no guide needed), `painting=3+12` blends two equally, `3:0.7+12:0.3` in other shares."""
    from prismarec.renderer.painting import FILTERS

    if sheet is None:
        if as_json:
            print_json([{"index": i, "name": name} for i, name in enumerate(FILTERS)])
            return
        table = Table("painting", "look")
        for i, name in enumerate(FILTERS):
            table.add_row(str(i), name)
        out.print(table)
        return
    from prismarec.renderer.images import load_image
    from prismarec.studio.looks import draw_looks, filter_looks

    with user_errors():
        check_new_png(output)
        photo = load_image(sheet)
        looks = filter_looks()
        with progress(len(looks), "painting", enabled=not as_json) as bar:
            picture = draw_looks(photo, looks, None, columns=7, on_look=bar)
        save_new_png(picture, output)
    out.print(f"wrote {output}: {sheet.name} in {len(looks)} painting filters", highlight=False)


@app.command()
def strip(
    photo: Annotated[Path, typer.Argument(help="The photo to show in its looks")],
    output: Annotated[Path, typer.Option("-o", "--output", help="PNG to write (a new file)")] = Path("strip.png"),
    guide: Annotated[Path | None, typer.Option(help="Guide image, for looks that paint in a guide's style")] = None,
    filters: Annotated[int, typer.Option(min=0, max=26, help="How many painting filters follow the "
                                                              "recommended looks")] = 8,
    curator: CuratorOpt = None,
    backbone: BackboneOpt = "auto",
    weights: WeightsOpt = None,
) -> None:
    """The filter strip: PHOTO in its recommended looks (the first with its confidence), then in the
    painting filters, those curators liked most first: one row of thumbnails, best first."""
    from prismarec.renderer.images import load_image
    from prismarec.studio.looks import draw_looks

    with user_errors():
        check_new_png(output)
        guide_image = load_image(guide) if guide is not None else None
        studio = open_studio(backbone, weights, quiet=True)
        studio.check_curator(curator)
        found = studio.photo(photo)
        looks = studio.strip(found, curator, filters)
        with progress(len(looks), "drawing") as bar:
            picture = draw_looks(found.image, looks, studio.catalog.net, guide=guide_image, on_look=bar)
        save_new_png(picture, output)
    out.print(f"wrote {output}: {len(looks)} looks, best first", highlight=False)


@app.command()
def layers(backbone: Annotated[str, typer.Option(help=", ".join(BACKBONES))] = "googlenet") -> None:
    """List the layer names LAYER accepts and the network module each one runs."""
    from prismarec.renderer.registry import list_layers

    table = Table("layer", "module")
    with user_errors():
        for name, module in list_layers(backbone):
            table.add_row(name, module)
    out.print(table)


def run() -> None:
    app()


def run_recommend_and_render() -> None:
    """The `recommend-and-render` console script."""
    single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    single.command()(recommend_and_render)
    single(prog_name="recommend-and-render")
