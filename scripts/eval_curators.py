"""Taste transfer on generated curators: mean and spread over many, with baselines and a ceiling.

SIMULATED curators (`recommender.simulation`), not people: each seed draws a palette and a
taste over photo descriptors, several of which the product does not compute. Develop on one
range of seeds and report on another: the README's figures are seeds 1000-1049, which were
never run during development (0-19 were).

Run: .venv/bin/python -m scripts.eval_curators --curators random:50 --seed 1000 [--curves 10]
     [--workers 2] [--json transfer.json] [--plot docs/transfer.png]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from recommender.evaluate import METHODS
from recommender.simulation import parse_curators
from recommender.transfer import Photos, run, summary
from renderer.backbones import load_backbone


def plot(results: list[dict], report: dict, path: Path) -> Path:
    """New-scene and new-variant top-1 per curator for every method, and the learning curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = ["oracle", *METHODS]
    fig, axes = plt.subplots(1, 3 if "curve" in report else 2, figsize=(15, 4.5))
    for ax, protocol, title in zip(axes, ("scene", "photo"), ("new scenes", "new variants"), strict=False):
        values = [[r["oracle"] for r in results], *([r[protocol][m]["top1"] for r in results] for m in METHODS)]
        ax.boxplot(values, tick_labels=methods, showmeans=True)
        ax.set_title(f"{title}: top-1 over {len(results)} generated curators")
        ax.set_ylim(0, 1)
        ax.tick_params(axis="x", rotation=30)
    if "curve" in report:
        ax = axes[2]
        sizes = sorted(report["curve"], key=int)
        means = [report["curve"][n]["mean"] for n in sizes]
        low = [report["curve"][n]["p10"] for n in sizes]
        high = [report["curve"][n]["p90"] for n in sizes]
        x = [int(n) for n in sizes]
        ax.plot(x, means, "o-", label="recommend (mean)")
        ax.fill_between(x, low, high, alpha=0.25, label="10th-90th percentile")
        ax.axhline(report["scene"]["most-liked"]["top1"]["mean"], ls=":", color="grey", label="most-liked set")
        ax.set_xscale("log")
        ax.set_xticks(x, [str(n) for n in x])
        ax.set_ylim(0, 1)
        ax.set_xlabel("tagged photos")
        ax.set_title(f"new scenes: learning curve ({report['curve'][sizes[0]]['curators']} curators)")
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--curators", default="random:50", help="random:N generated curators")
    parser.add_argument("--seed", type=int, default=1000, help="the first curator's seed (then seed+1, …)")
    parser.add_argument("--curves", type=int, default=0, help="how many of them also get a learning curve")
    parser.add_argument("--workers", type=int, default=2, help="processes (one thread each)")
    parser.add_argument("--cache", type=Path, default=Path(".cache/transfer"), help="photo embeddings kept here")
    parser.add_argument("--json", type=Path, help="write every curator's figures and the summary here")
    parser.add_argument("--plot", type=Path, help="write the spread and the learning curve here")
    args = parser.parse_args()
    try:
        count = parse_curators(args.curators)
    except ValueError as exc:
        parser.error(str(exc))
    torch.set_num_threads(1)
    photos = Photos.build(load_backbone("auto"), cache=args.cache)
    print(f"{len(photos.images)} photos of {len(set(photos.group.values()))} source photos", flush=True)

    def done(r: dict) -> None:
        print(f"{r['curator']}: new scenes {r['scene']['recommend']['top1']:.2f} (most-liked "
              f"{r['scene']['most-liked']['top1']:.2f}, oracle {r['oracle']:.2f}), new variants "
              f"{r['photo']['recommend']['top1']:.2f}", flush=True)

    results = run(range(args.seed, args.seed + count), photos, workers=args.workers, curves=args.curves,
                  on_done=done)
    report = summary(results)
    print(f"\n{'method':12} {'new scene top-1':>22} {'ΔE':>6} {'new variant top-1':>22} {'ΔE':>6}")
    for method in ("oracle", *METHODS):
        if method == "oracle":
            o = report["oracle"]
            print(f"{method:12} {o['mean']:>8.2f} ± {o['std']:.2f} [{o['p10']:.2f}–{o['p90']:.2f}]")
            continue
        s, p = report["scene"][method], report["photo"][method]
        print(f"{method:12} {s['top1']['mean']:>8.2f} ± {s['top1']['std']:.2f} [{s['top1']['p10']:.2f}–"
              f"{s['top1']['p90']:.2f}] {s['delta_e']['mean']:>6.1f} {p['top1']['mean']:>8.2f} ± "
              f"{p['top1']['std']:.2f} [{p['top1']['p10']:.2f}–{p['top1']['p90']:.2f}] {p['delta_e']['mean']:>6.1f}")
    for n, c in report.get("curve", {}).items():
        print(f"learning curve, {n} tagged photos: new-scene top-1 {c['mean']:.2f} [{c['p10']:.2f}–{c['p90']:.2f}]")
    if args.json:
        args.json.write_text(json.dumps({"summary": report, "curators": results}, indent=1))
    if args.plot:
        print(f"plot: {plot(results, report, args.plot)}")


if __name__ == "__main__":
    main()
