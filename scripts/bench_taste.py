"""Benchmark the taste model on a real curation of about 10³ photos: learning time, and the
latency of one recommendation for a photo of a new scene (embedding, traits, decision).

Photos: every scene of the bank (`recommender.simulation`) and its mirror image, in 15 versions
each; verdicts from a generated curator (a simulation). Three source photos are held out: the
queries come from them, so the taste model decides.

Run: .venv/bin/python -m prismarec.scripts.bench_taste [--seed 1000] [--queries 30]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import torch

from prismarec.indexer.embed import embed
from prismarec.recommender.choose import NEIGHBOURS, choose, learn
from prismarec.recommender.simulation import VARIANT_KINDS, Curator, scene_bank
from prismarec.recommender.taste import TastePhoto
from prismarec.recommender.transfer import Photos, curate
from prismarec.renderer.backbones import load_backbone


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1000, help="the generated curator")
    parser.add_argument("--queries", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(1)
    net = load_backbone("efficientnet-lite0", device="cpu")
    mirrored = [replace(s, name=f"{s.name}-mirrored", image=s.image[:, ::-1].copy()) for s in scene_bank()]
    scenes = [*scene_bank(), *mirrored]
    photos = Photos.build(net, kinds=range(VARIANT_KINDS), scenes=scenes)
    lib = curate(Curator.generate(args.seed), photos).library
    held_groups = sorted(set(lib.scene.values()))[:3]
    held = [p for p in lib.photo_ids if lib.scene[p] in held_groups][: args.queries]
    train = [p for p in lib.photo_ids if lib.scene[p] not in held_groups]
    sub = lib.subset(train)
    start = time.perf_counter()
    model = learn(sub)
    learning = time.perf_counter() - start
    rows = [r for p in train for r in lib.rows[p]]
    vectors = np.stack([lib.vectors[p] for p in train])
    laps: dict[str, list[float]] = {"embed": [], "traits": [], "neighbours + decision": []}
    sources = set()
    for query in held:
        t0 = time.perf_counter()
        vector = embed([photos.images[query]], net)[0]
        t1 = time.perf_counter()
        photo = TastePhoto.of(photos.images[query], vector)
        t2 = time.perf_counter()
        sims = vectors @ vector
        near = [(train[i], float(sims[i])) for i in np.argsort(-sims)[:NEIGHBOURS]]
        choice = choose(near, [r for p, _ in near for r in lib.rows[p]], lambda: rows, lambda: model, photo)
        t3 = time.perf_counter()
        sources.add(choice.source)
        for name, lap in zip(laps, (t1 - t0, t2 - t1, t3 - t2), strict=True):
            laps[name].append(lap)
    medians = {name: 1000 * float(np.median(v)) for name, v in laps.items()}
    print(f"{len(train)} curated photos, {len(sub.liked_anywhere)} liked sets; learning took {learning:.1f} s")
    print(f"recommend for a new scene (median of {len(held)}, decided by {', '.join(sorted(sources))}): " +
          ", ".join(f"{name} {ms:.1f} ms" for name, ms in medians.items()) + f"; total {sum(medians.values()):.1f} ms")


if __name__ == "__main__":
    main()
