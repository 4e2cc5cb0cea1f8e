"""How well taste transfers: generated curators (`simulation`) through the evaluation protocols.

For each curator every photo of the scene bank (in `EVAL_VARIANTS` versions) is "rendered" with
each palette set and tagged by the curator's taste; the recommender then learns from the tagged
photos exactly as `recommend` does, and `evaluate_library` measures it on held-out variants and
held-out scenes (groups of one source photo held out together) beside the baselines. The
ceiling is an oracle that knows the curator's descriptors and weights (only a person's noise
separates it from the favourite); below it, `informed` learners told the curator's noiseless
liking of every training photo show how far the product's features, and the curator's own
descriptors, carry that taste with this much data. Render-space ΔE is measured on 64-px renders
without the dream.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from skimage import data

from prismarec.renderer.backbones import Backbone
from prismarec.renderer.images import resize

from .choose import learn
from .evaluate import METHODS, Renders, evaluate_library, folds, method_picks
from .ranking import style_key
from .simulation import EVAL_VARIANTS, Curator, Scene, describe, scene_bank, variants
from .suggest import teaching_order
from .taste import Library, TasteModel, outcome, small

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
    def build(cls, net: Backbone, kinds: Iterable[int] = EVAL_VARIANTS, cache: Path | None = None,
              scenes: Iterable[Scene] | None = None) -> Photos:
        """The photos of `scenes` (default: the whole scene bank), each in the `kinds` of variant."""
        from prismarec.indexer.embed import embed

        kinds = list(kinds)
        images, descriptors, scene, group = {}, {}, {}, {}
        for scene_ in scenes if scenes is not None else scene_bank():
            for kind, image in zip(kinds, (variants(scene_.image, max(kinds) + 1)[k] for k in kinds), strict=True):
                pid = len(images) + 1
                images[pid] = resize(image, min(WIDTH, image.shape[1]))
                descriptors[pid] = describe(image, scene_.label)
                scene[pid], group[pid] = f"{scene_.name}#{kind}", scene_.group
        content = hashlib.sha256(b"".join(im.tobytes() for im in images.values())).hexdigest()[:16]
        key = f"{net.name}-{len(images)}-{content}"  # the pixels themselves: a changed bank is never read stale
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
    keys: list[str]  # the palette's sets
    utility: dict[int, np.ndarray]  # per photo, the curator's noiseless liking for each of `keys`

    def oracle(self, pid: int) -> str:
        """The set the curator's noiseless taste ranks first on this photo."""
        return self.keys[int(np.argmax(self.utility[pid]))]


def curate(curator: Curator, photos: Photos, seed: int = 0) -> Curated:
    """Every photo rendered with every palette set and tagged by the curator."""
    rng = np.random.default_rng(seed)
    z = photos.standardised()
    rows, seen, utilities, outcomes = [], [], {}, {}
    keys = [style_key(p) for p in curator.palette]
    for pid, image in photos.images.items():
        thumb = small(image)
        results = [outcome(thumb, params) for params in curator.palette]
        outcomes |= {(pid, key): result for key, result in zip(keys, results, strict=True)}
        utility = curator.utility(z[pid], np.array([r[0] for r in results]))
        utilities[pid] = utility
        tagged, untagged = curator.verdicts(pid, utility, rng, pid * 100)
        rows += tagged
        seen += untagged
    library = Library.build(photos.images, photos.vectors, rows, seen, outcomes)
    groups = {name: i for i, name in enumerate(sorted(set(photos.group.values())))}
    library.scene = {pid: groups[photos.group[pid]] for pid in library.photo_ids}
    return Curated(library, keys, utilities)


def evaluate_curator(curator: Curator, curated: Curated, photos: Photos, guide: np.ndarray) -> dict:
    """Top-1, top-3 and ΔE of every method, and the oracle's and informed learners' top-1, on both protocols."""
    lib = curated.library
    reports = evaluate_library(lib, photos.images, Renders(None, 64, guide))
    liked = [p for p in lib.photo_ids if lib.favourite(p)]
    own = photos.standardised()
    oracle = float(np.mean([curated.oracle(p) == lib.favourite(p) for p in liked]))
    out = {"curator": curator.name, "sets": len(curator.palette), "traits": curator.traits, "oracle": oracle}
    for protocol, rep in reports.items():
        out[protocol] = {m: vars(s) for m, s in rep.scores.items()} | {
            "calibration_error": rep.calibration_error, "fallback_share": rep.fallback_share,
            "informed": informed(curated, protocol), "informed-own": informed(curated, protocol, own)}
    return out


INFORMED = ("informed", "informed-own")  # the learners told the curator's likings: product features, its own


def informed(curated: Curated, protocol: str, own: dict[int, dict[str, float]] | None = None) -> float:
    """Top-1 on held-out photos of a learner told the curator's noiseless liking of every set on
    every training photo, far more than verdicts say: a gradient-boosted regression of the liking,
    its first set per held-out photo. It reads what the product computes (the photo's traits, its
    content embedding as 16 principal components, the share each set keeps, the set) or, given
    `own`, the curator's own descriptors of each photo instead of traits and embedding. Where
    `recommend` comes close to the first, what is left is information the product's features lack;
    the second shows what this much data teaches a learner that reads exactly what the curator does."""
    from sklearn.decomposition import PCA
    from sklearn.ensemble import HistGradientBoostingRegressor

    lib, keys = curated.library, curated.keys
    if own is None:
        components = PCA(16, random_state=0).fit_transform(np.stack([lib.vectors[p] for p in lib.photo_ids]))
        photo = {p: np.r_[lib.traits[p], c] for p, c in zip(lib.photo_ids, components, strict=True)}
    else:
        photo = {p: np.array(list(own[p].values())) for p in lib.photo_ids}
    sets = np.eye(len(keys))

    def rows(pid: int) -> np.ndarray:
        return np.stack([np.r_[photo[pid], lib.outcomes[pid, key], sets[i]] for i, key in enumerate(keys)])

    liked = [p for p in lib.photo_ids if lib.favourite(p)]
    hits = []
    for held in folds(lib, liked, protocol):
        held_scenes = {lib.scene[p] for p in held}
        train = [p for p in lib.photo_ids if p not in held and (protocol == "photo" or lib.scene[p] not in held_scenes)]
        learner = HistGradientBoostingRegressor(max_iter=300, random_state=0).fit(
            np.concatenate([rows(p) for p in train]), np.concatenate([curated.utility[p] for p in train]))
        hits += [keys[int(np.argmax(learner.predict(rows(p))))] == lib.favourite(p) for p in held]
    return float(np.mean(hits))


def learning_curve(lib: Library, sizes: tuple[int, ...] = CURVE, seed: int = 0,
                   suggested: bool = False) -> dict[int, float]:
    """New-scene top-1 of `recommend` when the curator has tagged only n of the training photos, for
    each n: photos taken in random order, or (`suggested`) in the order `suggest` gives — the curator
    tags a batch, the model is learnt, `suggest` picks the next batch."""
    rng = np.random.default_rng(seed)
    liked = [p for p in lib.photo_ids if lib.favourite(p)]
    hits: dict[int, list[bool]] = {n: [] for n in sizes}
    for held in folds(lib, liked, "scene"):
        held_scenes = {lib.scene[p] for p in held}
        pool = [int(p) for p in rng.permutation([p for p in lib.photo_ids if lib.scene[p] not in held_scenes])]
        train: list[int] = []
        model = None
        for n in sizes:
            train = _suggested(lib, pool, train, n, model) if suggested else pool[:n]
            sub = lib.subset(train)
            model = learn(sub, ahead=held)
            for query in held:
                picks, _ = method_picks(sub, train, query, model, rng)
                hits[n].append(picks["recommend"][0] == lib.favourite(query))
    return {n: float(np.mean(h)) for n, h in hits.items()}


def _suggested(lib: Library, pool: list[int], train: list[int], n: int, model: TasteModel | None) -> list[int]:
    """`train` and then what `suggest` would have the curator tag next, up to n photos."""
    rest = [p for p in pool if p not in set(train)]
    vectors = np.stack([lib.vectors[p] for p in rest])
    nearest = (vectors @ np.stack([lib.vectors[p] for p in train]).T).max(axis=1) if train else np.zeros(len(rest))
    unsure = None
    if model is not None and model.model is not None and model.model.classifier is not None:
        unsure = model.uncertainty([lib.photo(p) for p in rest])
    return train + [rest[i] for i in teaching_order(vectors, nearest, n - len(train), unsure)]


def guide_image() -> np.ndarray:
    """The guide every generated curator's renders are blended with (and styled by): Hubble's deep field."""
    return resize(data.hubble_deep_field(), WIDTH)


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def run(seeds: Iterable[int], photos: Photos, *, workers: int = 1, curves: int = 0,
        on_done: Callable[[dict], None] | None = None) -> list[dict]:
    """Evaluate the curators of these seeds (in `workers` processes), the first `curves` of them
    with a learning curve too."""
    guide = guide_image()
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
    curated = curate(curator, photos)  # once: every protocol and curve reads the same verdicts
    out = evaluate_curator(curator, curated, photos, guide)
    if curve:
        out["curve"] = learning_curve(curated.library)
        out["curve_suggested"] = learning_curve(curated.library, suggested=True)
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
        for figure in ("calibration_error", *INFORMED):
            out[protocol][figure] = stats([r[protocol][figure] for r in results])
    for name in ("curve", "curve_suggested"):
        curves = [r[name] for r in results if name in r]
        if curves:
            out[name] = {n: stats([c[n] for c in curves]) | {"curators": len(curves)} for n in curves[0]}
    return out


def one_line(r: dict) -> str:
    """One curator's headline figures."""
    return (f"{r['curator']}: new scenes {r['scene']['recommend']['top1']:.2f} (most-liked "
            f"{r['scene']['most-liked']['top1']:.2f}, informed {r['scene']['informed']:.2f}, oracle "
            f"{r['oracle']:.2f}), new variants {r['photo']['recommend']['top1']:.2f} (informed "
            f"{r['photo']['informed']:.2f})")


def table(report: dict) -> list[str]:
    """The summary as text: mean ± standard deviation [10th–90th percentile] over curators."""
    def cell(s: dict) -> str:
        return f"{s['mean']:>5.2f} ± {s['std']:.2f} [{s['p10']:.2f}–{s['p90']:.2f}]"

    lines = [f"{report['curators']} generated curators (a simulation, not people)",
             f"{'method':12} {'new scene top-1':>26} {'ΔE':>5} {'new variant top-1':>26} {'ΔE':>5}",
             f"{'oracle':12} {cell(report['oracle']):>26}"]
    lines += [f"{name:12} {cell(report['scene'][name]):>26} {'':>5} {cell(report['photo'][name]):>26}"
              for name in INFORMED]
    for m in METHODS:
        s, p = report["scene"][m], report["photo"][m]
        lines.append(f"{m:12} {cell(s['top1']):>26} {s['delta_e']['mean']:>5.1f} {cell(p['top1']):>26} "
                     f"{p['delta_e']['mean']:>5.1f}")
    for name, order in (("curve", "random order"), ("curve_suggested", "suggest's order")):
        for n, c in report.get(name, {}).items():
            lines.append(f"learning curve, {order}: {n} tagged photos, new-scene top-1 {cell(c)}")
    return lines


def plot(results: list[dict], report: dict, path: Path) -> Path:
    """New-scene and new-variant top-1 per curator for every method, and the learning curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = ["oracle", *INFORMED, *METHODS]
    fig, axes = plt.subplots(1, 3 if "curve" in report else 2, figsize=(16, 4.5))
    for ax, protocol, title in zip(axes, ("scene", "photo"), ("new scenes", "new variants"), strict=False):
        values = [[r["oracle"] for r in results], *([r[protocol][name] for r in results] for name in INFORMED),
                  *([r[protocol][m]["top1"] for r in results] for m in METHODS)]
        ax.boxplot(values, tick_labels=methods, showmeans=True)
        ax.set_title(f"{title}: top-1 over {len(results)} generated curators")
        ax.set_ylim(0, 1)
        ax.tick_params(axis="x", rotation=30)
    if "curve" in report:
        ax = axes[2]
        for name, label in (("curve", "random order"), ("curve_suggested", "suggest's order")):
            curve = report.get(name, {})
            x = sorted(curve, key=int)
            ax.plot([int(n) for n in x], [curve[n]["mean"] for n in x], "o-", label=f"{label} (mean)")
            ax.fill_between([int(n) for n in x], [curve[n]["p10"] for n in x], [curve[n]["p90"] for n in x],
                            alpha=0.2)
        curved = [r for r in results if "curve" in r]  # reference lines for the same curators
        ax.axhline(np.mean([r["scene"]["most-liked"]["top1"] for r in curved]), ls=":", color="grey",
                   label="most-liked set, all photos")
        ax.axhline(np.mean([r["oracle"] for r in curved]), ls="--", color="black", label="oracle")
        sizes = sorted(report["curve"], key=int)
        ax.set_xscale("log")
        ax.set_xticks([int(n) for n in sizes], sizes)
        ax.set_ylim(0, 1)
        ax.set_xlabel("tagged photos (shaded: 10th-90th percentile)")
        ax.set_title(f"new scenes: learning curve ({report['curve'][sizes[0]]['curators']} curators)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
