"""Evaluation of the recommender against baselines, on new variants and on new scenes.

Two protocols over the curated photos:

* `photo` — a fifth of the photos held out at a time, spread over the scenes: the other crops of
  a held-out photo's scene stay in the pool (a re-photograph of something curated);
* `scene` — a fifth of the scenes held out at a time: every photo of a scene (near-duplicates found
  by content similarity, or a `--groups` file) is held out together (a photo unlike anything curated).

For each held-out photo every method picks a parameter set, compared with the curator's
favourite set for that photo: top-1 and top-3 agreement, and the render-space error, mean
CIEDE2000 ΔE between the render with the pick and the render with the favourite. Methods:
`recommend` (what `prismarec recommend` does), `knn` (neighbour votes alone), `1-nn` (the
nearest curated photo's favourite), `most-liked`, `default` (the book's), `random` (a random
liked set). The shipped method's confidence is checked for calibration (reliability bins).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from skimage.color import deltaE_ciede2000, rgb2lab
from sklearn.model_selection import GroupKFold

from prismarec.db import Database
from prismarec.db.models import Photo
from prismarec.db.store import curated, embedding_matrix, params_hash, untagged
from prismarec.renderer.backbones import Backbone
from prismarec.renderer.images import ImageError, load_image
from prismarec.renderer.params import RenderParams
from prismarec.renderer.pipeline import render

from .choose import FOLDS, NEIGHBOURS, Choice, choose, learn
from .ranking import diverse, most_liked, rank
from .taste import Library, TasteModel, rate_uncertainty

log = logging.getLogger(__name__)

METHODS = ("recommend", "knn", "1-nn", "most-liked", "default", "random")
PROTOCOLS = ("photo", "scene")


@dataclass
class MethodScore:
    top1: float = 0.0
    top3: float = 0.0
    delta_e: float = 0.0  # mean render-space ΔE (CIEDE2000) to the favourite's render

    def add(self, keys: list[str], favourite: str, delta_e: float, photos: int) -> None:
        """One held-out photo's picks (best first) against its favourite, as a share of `photos`."""
        self.top1 += (keys[0] == favourite) / photos
        self.top3 += (favourite in keys[:3]) / photos
        self.delta_e += delta_e / photos


@dataclass
class ProtocolReport:
    photos: int
    scenes: int
    scores: dict[str, MethodScore]
    reliability: list[dict[str, float]] = field(default_factory=list)  # confidence bin: mean conf, accuracy, n
    fallback_share: float = 0.0  # how often `recommend` answered with a fallback
    calibration_error: float = 0.0  # expected calibration error of `recommend`'s confidence

    @property
    def standard_error(self) -> float:
        """Of a top-1 rate near one half on this many photos (scenes count, not crops of one)."""
        return rate_uncertainty(self.photos, self.scenes)

    @property
    def too_few(self) -> bool:
        """Whether differences between methods here are mostly chance: under 30 photos or 5 scenes."""
        return self.photos < 30 or self.scenes < 5


def calibration_error(reliability: list[dict[str, float]]) -> float:
    """The gap between confidence and accuracy, per bin, weighted by the bin's photos: 0 when every
    confidence is the rate at which such answers were right."""
    n = sum(b["n"] for b in reliability)
    return sum(b["n"] * abs(b["confidence"] - b["accuracy"]) for b in reliability) / n if n else 0.0


@dataclass
class EvalReport:
    curator: str | None
    protocols: dict[str, ProtocolReport]

    def to_dict(self) -> dict:
        return {"curator": self.curator,
                "protocols": {k: asdict(v) | {"too_few": v.too_few, "standard_error": round(v.standard_error, 3)}
                              for k, v in self.protocols.items()}}


class Renders:
    """Small renders for comparison, cached by (photo, parameters). Without a network the dream
    is left out (the look before it: mask, keep map, enhancement, style), which is what the
    generated-curator evaluation can afford for thousands of photos."""

    def __init__(self, net: Backbone | None, size: int, guide: np.ndarray | None = None):
        self.net, self.size, self.guide = net, size, guide
        self.cache: dict[tuple[int, str], np.ndarray] = {}

    def lab(self, photo_id: int, image: np.ndarray, params: RenderParams) -> np.ndarray:
        params = params.replace(size=self.size, **({} if self.net is not None else {"layer": None}))
        key = (photo_id, params_hash(params))
        if key not in self.cache:
            self.cache[key] = rgb2lab(render(image, params, self.net, guide=self.guide).image)
        return self.cache[key]

    def delta_e(self, photo_id: int, image: np.ndarray, a: RenderParams, b: RenderParams) -> float:
        return float(deltaE_ciede2000(self.lab(photo_id, image, a), self.lab(photo_id, image, b)).mean())


def method_picks(lib: Library, train: list[int], query: int, model: TasteModel | None,
           rng: np.random.Generator) -> tuple[dict[str, list[str]], Choice]:
    """Each method's set keys, best first, for one held-out photo."""
    rows = [r for p in train for r in lib.rows[p]]
    sims = sorted(((p, float(lib.vectors[p] @ lib.vectors[query])) for p in train), key=lambda kv: -kv[1])
    near = sims[:NEIGHBOURS]
    near_rows = [r for p, _ in near for r in lib.rows[p]]
    choice = choose(near, near_rows, lambda: rows, lambda: model, lib.photo(query))
    knn = [params_hash(c.params) for c in diverse(rank(near, near_rows), 3)]
    liked = params_hash(most_liked(rows))
    candidates = lib.liked(train)
    return {
        "recommend": choice.keys,
        "knn": knn or [liked],
        "1-nn": [lib.favourite(sims[0][0]) or liked],
        "most-liked": [liked],
        "default": [params_hash(RenderParams())],
        "random": [candidates[int(rng.integers(len(candidates)))]],
    }, choice


def _reliability(confidences: list[float], hits: list[bool], bins: int = 5) -> list[dict[str, float]]:
    c, h = np.array(confidences), np.array(hits, float)
    edges = np.linspace(0, 1, bins + 1)
    out = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        inside = (c >= lo) & ((c < hi) | (hi == 1.0))
        if inside.any():
            out.append({"low": float(lo), "high": float(hi), "confidence": float(c[inside].mean()),
                        "accuracy": float(h[inside].mean()), "n": int(inside.sum())})
    return out


def evaluate(db: Database, net: Backbone, *, size: int = 96, curator: str | None = None, seed: int = 0,
             groups: dict[str, str] | None = None, protocols: tuple[str, ...] = PROTOCOLS,
             on_photo: Callable[[int], None] | None = None) -> EvalReport:
    """Run the protocols on the curated photos (of `curator`, or everyone's verdicts pooled).

    `groups` maps a photo's file name (or path) to a scene label, replacing the similarity grouping.
    """
    with db.reading() as s:
        rows = curated(s, curator=curator)
        paths = {p.id: p.path for p in s.query(Photo).where(Photo.id.in_({r.photo_id for r in rows}))}
        photo_ids, _, vectors = embedding_matrix(s, net.name, photo_ids=paths)
        passed_over = untagged(s, paths, curator)
    vec = {int(p): v for p, v in zip(photo_ids, vectors, strict=True)}
    images = {}
    for pid, path in paths.items():
        try:
            images[pid] = load_image(path)
        except ImageError as exc:
            log.warning("skipping photo %d: %s", pid, exc)
    lib = Library.build(images, vec, rows, passed_over)
    if groups is not None:
        names = {p: groups.get(paths[p]) or groups.get(Path(paths[p]).name) for p in lib.photo_ids}
        labels = {name: i for i, name in enumerate(sorted({n for n in names.values() if n}))}
        lib.scene = {p: labels[n] if n else len(labels) + p for p, n in names.items()}
    reports = evaluate_library(lib, images, Renders(net, size), protocols=protocols, seed=seed, on_photo=on_photo)
    return EvalReport(curator, reports)


def folds(lib: Library, photos: list[int], protocol: str) -> list[list[int]]:
    """Held-out photo groups: a fifth of the photos spread over the scenes (`photo`), or a fifth of
    the scenes, every photo of a scene together (`scene`, scikit-learn's GroupKFold)."""
    if protocol == "photo":
        return lib.spread(photos, FOLDS)
    labels = [lib.scene[p] for p in photos]
    splits = GroupKFold(n_splits=min(FOLDS, len(set(labels)))).split(photos, groups=labels)
    return [[photos[i] for i in test] for _, test in splits]


def evaluate_library(lib: Library, images: dict[int, np.ndarray], renders: Renders, *,
                     protocols: tuple[str, ...] = PROTOCOLS, seed: int = 0,
                     on_photo: Callable[[int], None] | None = None) -> dict[str, ProtocolReport]:
    """The protocols on a library of curated photos (`images`: the full photos, for the renders)."""
    liked_photos = [p for p in lib.photo_ids if lib.favourite(p) is not None]
    if len(liked_photos) < 3 or len(set(lib.scene[p] for p in liked_photos)) < 2:
        raise ValueError(f"evaluation needs at least 3 curated photos with a good verdict in 2 scenes and readable "
                         f"files, found {len(liked_photos)} in {len(set(lib.scene[p] for p in liked_photos))}")
    rng = np.random.default_rng(seed)
    reports = {}
    for protocol in protocols:
        scores = {m: MethodScore() for m in METHODS}
        confidences, hits, fallbacks = [], [], 0
        for held in folds(lib, liked_photos, protocol):
            held_scenes = {lib.scene[p] for p in held}
            train = [p for p in lib.photo_ids if p not in held and
                     (protocol == "photo" or lib.scene[p] not in held_scenes)]
            sub = lib.subset(train)
            model = learn(sub, ahead=held)  # learnt without the held photos, as `recommend` learns without a new one
            for query in held:
                picks, choice = method_picks(sub, train, query, model, rng)
                favourite = lib.favourite(query)
                for method, keys in picks.items():
                    chosen = sub.styles.get(keys[0]) or lib.styles.get(keys[0]) or RenderParams()
                    scores[method].add(keys, favourite, renders.delta_e(query, images[query], chosen,
                                                                        lib.styles[favourite]), len(liked_photos))
                confidences.append(choice.confidence)
                hits.append(picks["recommend"][0] == favourite)
                fallbacks += choice.fallback
                if on_photo:
                    on_photo(1)
        bins = _reliability(confidences, hits)
        reports[protocol] = ProtocolReport(len(liked_photos), len({lib.scene[p] for p in liked_photos}), scores,
                                           bins, fallbacks / len(liked_photos), calibration_error(bins))
    return reports


def plot_reliability(report: EvalReport, path: Path) -> Path:
    """Confidence against accuracy per protocol (a calibrated confidence lies on the diagonal)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot([0, 1], [0, 1], ":", color="grey", label="calibrated")
    for protocol, rep in report.protocols.items():
        ax.plot([b["confidence"] for b in rep.reliability], [b["accuracy"] for b in rep.reliability], "o-",
                label=f"{protocol} ({rep.photos} photos)")
    ax.set_xlabel("confidence of the recommendation")
    ax.set_ylabel("share equal to the curator's favourite")
    ax.set_title("Reliability")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path

