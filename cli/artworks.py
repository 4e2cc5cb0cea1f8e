"""Commands that make artworks: render, recommend-and-render, sweep; and what they choose from
(params, styles, strip, layers)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from prismarec.recommender import MIN_SIMILARITY
from prismarec.renderer.params import BACKBONES, DEFAULT_MAX_SECONDS, HELP, RenderParams, allowed, field_names

from .app import (
    BackboneOpt,
    CuratorOpt,
    JsonOpt,
    MaxSecondsOpt,
    MinSimOpt,
    ParamsOpt,
    SetOpt,
    WeightsOpt,
    app,
    default_output,
    open_studio,
    settings,
)
from .common import build_params, check_new_png, err, out, print_json, progress, save_new_png, user_errors


@app.command()
def render(
    ctx: typer.Context,
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
        studio = open_studio(ctx, backbone, weights, quiet=as_json)
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


@app.command("recommend-and-render")
def recommend_and_render(
    ctx: typer.Context,
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

    if db is not None:
        settings(ctx).db = db
    with user_errors():
        build_params(None, sets)  # bad --set values are refused before any work
        studio = open_studio(ctx, backbone, weights, quiet=as_json)
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
    ctx: typer.Context,
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
        studio = open_studio(ctx, backbone, weights, quiet=as_json)
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
    ctx: typer.Context,
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
        studio = open_studio(ctx, backbone, weights, quiet=True)
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
