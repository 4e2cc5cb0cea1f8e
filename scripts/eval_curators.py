"""Taste transfer on generated curators: mean and spread over many, with baselines and a ceiling.

SIMULATED curators (`recommender.simulation`), not people: each seed draws a palette and a
taste over photo descriptors, several of which the product does not compute. Beside the oracle
(the ceiling: it knows the curator's weights) two informed learners are told the curator's
noiseless likings of every training photo, one reading the product's features, one the
curator's own descriptors: how far those features and this much data carry a taste when no
verdict is noisy. Develop on one range of seeds and report on another: the README's figures
are seeds 2000-2049, run only to report, never to choose (development looked at 0-19, and at
1000-1005 with an earlier learner).

Run: .venv/bin/python -m prismarec.scripts.eval_curators --curators random:50 --seed 2000 [--curves 10]
     [--workers 2] [--json transfer.json] [--plot docs/transfer.png]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from prismarec.recommender.simulation import parse_curators
from prismarec.recommender.transfer import Photos, one_line, plot, run, summary, table
from prismarec.renderer.backbones import load_backbone


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--curators", default="random:50", help="random:N generated curators")
    parser.add_argument("--seed", type=int, default=2000, help="the first curator's seed (then seed+1, …)")
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

    results = run(range(args.seed, args.seed + count), photos, workers=args.workers, curves=args.curves,
                  on_done=lambda r: print(one_line(r), flush=True))
    report = summary(results)
    print()
    for line in table(report):
        print(line)
    if args.json:
        args.json.write_text(json.dumps({"summary": report, "curators": results}, indent=1))
    if args.plot:
        print(f"plot: {plot(results, report, args.plot)}")


if __name__ == "__main__":
    main()
