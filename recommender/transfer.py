"""How well taste transfers: generated curators (`simulation`) through the evaluation protocols.

For each curator every photo of the scene bank (in `EVAL_VARIANTS` versions) is "rendered" with
each palette set and tagged by the curator's taste; the recommender then learns from the tagged
photos exactly as `recommend` does, and `evaluate_library` measures it on held-out variants and
held-out scenes (groups of one source photo held out together) beside the baselines. The
ceiling is an oracle that knows the curator's descriptors and weights (only a person's noise
separates it from the favourite). Render-space ΔE is measured on 64-px renders without the dream.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from skimage import data

from renderer.backbones import Backbone
from renderer.images import resize

from .choose import learn
from .evaluate import METHODS, Renders, evaluate_library, folds
from .ranking import style_key
from .simulation import EVAL_VARIANTS, Curator, describe, scene_bank, variants
from .taste import Library, outcome, small

WIDTH = 256  # the photos are kept at this width: the learner looks at 160-px thumbnails
CURVE = (10, 30, 100, 300)  # tagged photos on the learning curve


@dataclass
class Photos:
    """The evaluation's photos, computed once: images, content vectors, descriptors, groups."""

    images: dict[int, np.ndarray]
    vectors: dict[int, np.ndarray]
    descriptors: dict[int, dict[str, float]]
    scene: dict[int, str]
    group: dict[int, str]

    @classmethod
    def build(cls, net: Backbone, kinds: Iterable[int] = EVAL_VARIANTS, cache: Path | None = None) -> Photos:
        from indexer.embed import embed

        kinds = list(kinds)
        images, descriptors, scene, group = {}, {}, {}, {}
        for scene_ in scene_bank():
            for kind, image in zip(kinds, (variants(scene_.image, max(kinds) + 1)[k] for k in kinds), strict=True):
                pid = len(images) + 1
                images[pid] = resize(image, min(WIDTH, image.shape[1]))
                descriptors[pid] = describe(image, scene_.label)
                scene[pid], group[pid] = f"{scene_.name}#{kind}", scene_.group
        key = f"{net.name}-{'-'.join(map(str, kinds))}-{len(images)}"
        path = cache / f"vectors-{key}.npy" if cache is not None else None
        if path is not None and path.exists():
            matrix = np.load(path)
        else:
            matrix = embed(list(images.values()), net)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                np.save(path, matrix)
        vectors = dict(zip(images, matrix, strict=True))
        return cls(images, vectors, descriptors, scene, group)

    def standardised(self) -> dict[int, dict[str, float]]:
        """Descriptors as z-scores over the photo set: a curator's weights mean the same on each."""
        names = next(iter(self.descriptors.values()))
        values = {n: np.array([d[n] for d in self.descriptors.values()]) for n in names}
        stats = {n: (v.mean(), v.std() or 1.0) for n, v in values.items()}
        return {pid: {n: (d[n] - stats[n][0]) / stats[n][1] for n in names} for pid, d in self.descriptors.items()}


@dataclass
class Curated:
    library: Library
    oracle: dict[int, str]  # the set the curator's noiseless taste ranks first, per photo


def curate(curator: Curator, photos: Photos, seed: int = 0) -> Curated:
    """Every photo rendered with every palette set and tagged by the curator."""
    rng = np.random.default_rng(seed)
    z = photos.standardised()
    rows, seen, oracle, outcomes = [], [], {}, {}
    keys = [style_key(p) for p in curator.palette]
    for pid, image in photos.images.items():
        thumb = small(image)
        results = [outcome(thumb, params) for params in curator.palette]
        outcomes |= {(pid, key): result for key, result in zip(keys, results, strict=True)}
        utility = curator.utility(z[pid], np.array([r[0] for r in results]))
        oracle[pid] = keys[int(np.argmax(utility))]
        tagged, untagged = curator.verdicts(pid, utility, rng, pid * 100)
        rows += tagged
        seen += untagged
    library = Library.build(photos.images, photos.vectors, rows, seen, outcomes)
    groups = {name: i for i, name in enumerate(sorted(set(photos.group.values())))}
    library.scene = {pid: groups[photos.group[pid]] for pid in library.photo_ids}
    return Curated(library, oracle)


def evaluate_curator(curator: Curator, photos: Photos, guide: np.ndarray) -> dict:
    """Top-1, top-3 and ΔE of every method, and the oracle's top-1, on both protocols."""
    curated = curate(curator, photos)
    lib = curated.library
    reports = evaluate_library(lib, photos.images, Renders(None, 64, guide))
    liked = [p for p in lib.photo_ids if lib.favourite(p)]
    oracle = float(np.mean([curated.oracle[p] == lib.favourite(p) for p in liked]))
    out = {"curator": curator.name, "sets": len(curator.palette), "traits": curator.traits, "oracle": oracle}
    for protocol, rep in reports.items():
        out[protocol] = {m: vars(s) for m, s in rep.scores.items()} | {
            "calibration_error": rep.calibration_error, "fallback_share": rep.fallback_share}
    return out


def learning_curve(curator: Curator, photos: Photos, sizes: tuple[int, ...] = CURVE, seed: int = 0,
                   order: Callable[[Library, list[int], np.random.Generator], list[int]] | None = None
                   ) -> dict[int, float]:
    """New-scene top-1 of `recommend` when the curator has tagged only the first n training photos
    (in random order unless `order` says), for each n."""
    from .evaluate import _picks

    lib = curate(curator, photos).library
    rng = np.random.default_rng(seed)
    liked = [p for p in lib.photo_ids if lib.favourite(p)]
    hits: dict[int, list[bool]] = {n: [] for n in sizes}
    for held in folds(lib, liked, "scene"):
        held_scenes = {lib.scene[p] for p in held}
        pool = [p for p in lib.photo_ids if lib.scene[p] not in held_scenes]
        pool = order(lib, pool, rng) if order is not None else list(rng.permutation(pool))
        for n in sizes:
            train = [int(p) for p in pool[:n]]
            sub = lib.subset(train)
            model = learn(sub)
            if model.model is not None:
                model.model.expect(sub, held)
            for query in held:
                picks, _ = _picks(sub, train, query, model, rng)
                hits[n].append(picks["recommend"][0] == lib.favourite(query))
    return {n: float(np.mean(h)) for n, h in hits.items()}


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def run(seeds: Iterable[int], photos: Photos, *, workers: int = 1, curves: int = 0,
        on_done: Callable[[dict], None] | None = None) -> list[dict]:
    """Evaluate the curators of these seeds (in `workers` processes), the first `curves` of them
    with a learning curve too."""
    guide = resize(data.hubble_deep_field(), WIDTH)
    results = []
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker) as pool:
        futures = [pool.submit(_one, seed, photos, guide, i < curves) for i, seed in enumerate(seeds)]
        for future in futures:
            results.append(future.result())
            if on_done:
                on_done(results[-1])
    return results


def _one(seed: int, photos: Photos, guide: np.ndarray, curve: bool) -> dict:
    curator = Curator.generate(seed)
    out = evaluate_curator(curator, photos, guide)
    if curve:
        out["curve"] = learning_curve(curator, photos)
    return out


def summary(results: list[dict]) -> dict:
    """Mean, standard deviation and 10th/90th percentiles over curators of every figure."""
    def stats(values: list[float]) -> dict[str, float]:
        v = np.array(values, float)
        return {"mean": float(v.mean()), "std": float(v.std()), "p10": float(np.percentile(v, 10)),
                "p90": float(np.percentile(v, 90))}

    out: dict = {"curators": len(results), "oracle": stats([r["oracle"] for r in results])}
    for protocol in ("photo", "scene"):
        out[protocol] = {m: {metric: stats([r[protocol][m][metric] for r in results])
                             for metric in ("top1", "top3", "delta_e")} for m in METHODS}
    curves = [r["curve"] for r in results if "curve" in r]
    if curves:
        out["curve"] = {n: stats([c[n] for c in curves]) | {"curators": len(curves)} for n in curves[0]}
    return out
