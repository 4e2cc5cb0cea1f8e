"""Commands over the whole library: serve the web studio, evaluate the recommender, inspect or
rebuild the index."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from prismarec.renderer.params import parse_json

from .app import BackboneOpt, CuratorOpt, JsonOpt, WeightsOpt, app, index_app, open_studio, settings
from .common import err, out, print_json, progress, user_errors


@app.command()
def serve(
    ctx: typer.Context,
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
        web = create_app(settings(ctx).db, backbone, str(weights) if weights else None, hosts=hosts)
    err.print(f"prismarec on http://{host}:{port}/  (sign-in tokens: prismarec curator add NAME)")
    uvicorn.run(web, host=host, port=port, log_level="warning", proxy_headers=bool(trust_proxy),
                forwarded_allow_ips=",".join(trust_proxy or []) or None)


@app.command("eval")
def evaluate_cmd(
    ctx: typer.Context,
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
        studio = open_studio(ctx, backbone, weights, quiet=as_json, writes=False)
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
def index_rebuild(ctx: typer.Context, backbone: BackboneOpt = "auto", weights: WeightsOpt = None) -> None:
    """Recreate the index file from the database."""
    with user_errors():
        catalog = open_studio(ctx, backbone, weights).catalog
        meta = catalog.index.rebuild().meta
        out.print(f"rebuilt {catalog.index.path}: {len(catalog.index)} vectors ({meta.kind}) in "
                  f"{meta.build_seconds:.1f} s, process peak {meta.build_peak_mb:.0f} MB")


@index_app.command("stats")
def index_stats(ctx: typer.Context, backbone: BackboneOpt = "auto", weights: WeightsOpt = None,
                as_json: JsonOpt = False) -> None:
    """Size, kind (flat or IVF) and lists searched, the last build's time and peak memory, GPUs, and
    recall@10 against exact search."""
    with user_errors():
        stats = open_studio(ctx, backbone, weights, quiet=as_json, writes=False).catalog.index.stats()
    if as_json:
        print_json(stats)
    else:
        for key, value in stats.items():
            out.print(f"{key:>14}: {value}")
