"""`prismarec`: render, inspect layers, and (with the database) learn which parameters work."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from renderer import images
from renderer.backbones import BACKBONES, list_layers, load_backbone
from renderer.pipeline import render as run_render

from .common import build_params, err, fail, out, print_json, progress, setup_logging, user_errors

app = typer.Typer(help="Prisma-like artworks from photos, with parameters learnt from curated renders.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

BackboneOpt = Annotated[str, typer.Option(help=f"auto (GoogLeNet if its weights are present), {', '.join(BACKBONES)}")]
WeightsOpt = Annotated[Path | None, typer.Option(help="GoogLeNet weights file (torchvision state dict)")]
SetOpt = Annotated[list[str] | None,
                   typer.Option("--set", help="Override one parameter: key=value (None, true/false, numbers)")]
ParamsOpt = Annotated[Path | None,
                      typer.Option("--params", help="JSON file of parameters (a render's --json output works too)")]


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what the library does")] = False) -> None:
    setup_logging(verbose)


@app.command()
def render(
    photo: Annotated[Path, typer.Argument(help="The photo to turn into an artwork")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the PNG")],
    guide: Annotated[Path | None, typer.Option(help="Guide image whose pixels fill what the mask drops")] = None,
    sets: SetOpt = None,
    params_file: ParamsOpt = None,
    backbone: BackboneOpt = "auto",
    weights: WeightsOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of prose")] = False,
) -> None:
    """Render PHOTO with the book's pipeline; parameters and backbone go into the PNG's metadata.

    Example: prismarec render cat.jpg --guide stars.jpg --set layer=inception_4c/output --set rb_rate=0.85 -o out.png
    """
    with user_errors():
        if output.suffix.lower() != ".png":
            raise ValueError(f"output must be a .png file, got {output}")
        params = build_params(params_file, sets)
        photo_img = images.load_image(photo)
        guide_img = images.load_image(guide) if guide else None
        net = load_backbone(backbone, weights) if params.layer is not None else None
        if params.guide_dream and guide_img is None:
            raise ValueError("guide_dream=true needs --guide")
        started = time.perf_counter()
        with progress(params.iter_n * params.octave_n, "dreaming", enabled=not as_json and net is not None) as advance:
            result = run_render(photo_img, params, net, guide=guide_img, on_step=advance)
        images.save_png(result.image, output, {"prismarec:params": params.to_json(),
                                               "prismarec:backbone": result.backbone or "none"})
        total = time.perf_counter() - started
    summary = {"output": str(output), "photo": str(photo), "guide": str(guide) if guide else None,
               "backbone": result.backbone, "device": str(net.device) if net else None,
               "params": params.to_dict(), "timings": result.timings, "seconds": total}
    if as_json:
        print_json(summary)
        return
    if net is not None:
        err.print(f"backbone: {net.name} on {net.device}")
    stages = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in result.timings.items())
    out.print(f"wrote {output} ({result.image.shape[1]}x{result.image.shape[0]}) in {total:.2f} s: {stages}")


@app.command()
def layers(backbone: Annotated[str, typer.Option(help=", ".join(BACKBONES))] = "googlenet") -> None:
    """List the layer names LAYER accepts and the network module each one runs."""
    if backbone not in BACKBONES:
        fail(f"unknown backbone {backbone!r}; valid: {', '.join(BACKBONES)}")
    table = Table("layer", "module")
    for name, module in list_layers(backbone):
        table.add_row(name, module)
    out.print(table)


def run() -> None:
    app()
