"""Leave-one-out evaluation of the recommenders on the curated photos.

For each curated photo, recommend from all the others and compare with that photo's
best-rated parameter set: per-parameter agreement (categorical) and normalised error
(numeric), and the render-space error — mean CIEDE2000 ΔE between the render with the
recommended parameters and the render with the curator's. Methods: kNN ranking, the
learned per-parameter model, the book's global default, and a random curated set.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
from skimage.color import deltaE_ciede2000, rgb2lab

from db import Database
from db.models import Photo
from db.store import curated, embedding_matrix, params_hash
from renderer.backbones import Backbone
from renderer.images import ImageError, load_image
from renderer.params import RANGES, RenderParams
from renderer.pipeline import render

from .learned import LearnedRecommender
from .ranking import best_per_photo, diverse, rank
from .recommend import NEIGHBOURS

log = logging.getLogger(__name__)

METHODS = ("knn", "learned", "default", "random")
IGNORED = ("seed", "size", "keep_size")  # not style choices


@dataclass
class MethodScore:
    agreement: dict[str, float] = field(default_factory=dict)  # categorical field -> share equal
    error: dict[str, float] = field(default_factory=dict)  # numeric field -> mean |Δ| / range
    delta_e: float = 0.0  # mean render-space ΔE (CIEDE2000)


@dataclass
class EvalReport:
    photos: int
    scores: dict[str, MethodScore]
    curve: list[dict[str, float]]  # {"curated": n, "knn": ΔE, "default": ΔE, "random": ΔE}

    def to_dict(self) -> dict:
        return {"photos": self.photos, "methods": {m: vars(s) for m, s in self.scores.items()}, "curve": self.curve}


class _Renders:
    """Small renders for comparison, cached by (photo, parameters)."""

    def __init__(self, net: Backbone, size: int):
        self.net, self.size = net, size
        self.cache: dict[tuple[int, str], np.ndarray] = {}

    def lab(self, photo_id: int, image: np.ndarray, params: RenderParams) -> np.ndarray:
        params = params.replace(size=self.size, keep_size=False)
        key = (photo_id, params_hash(params))
        if key not in self.cache:
            self.cache[key] = rgb2lab(render(image, params, self.net).image)
        return self.cache[key]

    def delta_e(self, photo_id: int, image: np.ndarray, a: RenderParams, b: RenderParams) -> float:
        return float(deltaE_ciede2000(self.lab(photo_id, image, a), self.lab(photo_id, image, b)).mean())


def _knn(query: np.ndarray, ids: np.ndarray, vectors: np.ndarray, rows: list) -> RenderParams:
    sims = vectors @ query
    top = np.argsort(-sims)[:NEIGHBOURS]
    picks = diverse(rank([(int(ids[i]), float(sims[i])) for i in top], rows), 0)
    return picks[0].params if picks else RenderParams()


def _param_errors(pred: RenderParams, truth: RenderParams, into: MethodScore, n: int) -> None:
    for f in fields(RenderParams):
        if f.name in IGNORED:
            continue
        a, b = getattr(pred, f.name), getattr(truth, f.name)
        if f.name in RANGES and a is not None and b is not None:
            low, high = RANGES[f.name]
            into.error[f.name] = into.error.get(f.name, 0.0) + abs(a - b) / (high - low) / n
        else:
            into.agreement[f.name] = into.agreement.get(f.name, 0.0) + (a == b) / n


def evaluate(db: Database, net: Backbone, *, size: int = 128, seed: int = 0, holdout: float | None = None,
             on_photo: Callable[[int], None] | None = None) -> EvalReport:
    """Leave each curated photo out in turn; with `holdout`, also leave out every photo whose
    similarity to it exceeds that value (crops of the same scene), to judge truly new photos."""
    with db.session() as s:
        rows = curated(s)
        best = best_per_photo(rows)
        photo_ids, _, vectors = embedding_matrix(s, net.name)
        paths = {p.id: p.path for p in s.query(Photo).where(Photo.id.in_(list(best)))}
    keep = np.array([pid in best for pid in photo_ids], bool)
    photo_ids, vectors = photo_ids[keep], vectors[keep] if len(vectors) else vectors
    images: dict[int, np.ndarray] = {}
    for pid in photo_ids:
        try:
            images[int(pid)] = load_image(paths[int(pid)])
        except ImageError as exc:
            log.warning("skipping photo %d: %s", pid, exc)
    if len(images) < 3:
        raise ValueError(f"evaluation needs at least 3 curated photos with readable files, found {len(images)}")
    rows_by_photo: dict[int, list] = {}
    for r in rows:
        rows_by_photo.setdefault(r.photo_id, []).append(r)

    renders = _Renders(net, size)
    rng = np.random.default_rng(seed)
    readable = np.array([int(pid) in images for pid in photo_ids], bool)
    ids, X = photo_ids[readable], vectors[readable]
    n = len(ids)
    scores = {m: MethodScore() for m in METHODS}
    curve_sizes = sorted({pool for pool in (2, 4, 8, 16, 32, 64) if pool < n - 1} | {n - 1})
    curve = {pool: {"knn": 0.0, "random": 0.0} for pool in curve_sizes}
    for i, pid in enumerate(ids):
        pid = int(pid)
        others = np.delete(np.arange(n), i)
        if holdout is not None:
            others = others[X[others] @ X[i] <= holdout]
        if len(others) == 0:
            raise ValueError(f"holdout {holdout} leaves photo {pid} with nothing to learn from")
        other_rows = [r for o in others for r in rows_by_photo.get(int(ids[o]), [])]
        truth = best[pid]
        preds = {
            "knn": _knn(X[i], ids[others], X[others], other_rows),
            "learned": LearnedRecommender().fit(X[others], [best[int(ids[o])] for o in others]).predict(X[i]),
            "default": RenderParams(),
            "random": best[int(ids[rng.choice(others)])],
        }
        for method, pred in preds.items():
            _param_errors(pred, truth, scores[method], n)
            scores[method].delta_e += renders.delta_e(pid, images[pid], pred, truth) / n
        for pool in curve_sizes:
            sub = rng.choice(others, size=min(pool, len(others)), replace=False)
            sub_rows = [r for o in sub for r in rows_by_photo.get(int(ids[o]), [])]
            knn = _knn(X[i], ids[sub], X[sub], sub_rows)
            curve[pool]["knn"] += renders.delta_e(pid, images[pid], knn, truth) / n
            curve[pool]["random"] += renders.delta_e(pid, images[pid], best[int(ids[rng.choice(sub)])], truth) / n
        if on_photo:
            on_photo(1)
    default = scores["default"].delta_e
    return EvalReport(n, scores, [{"curated": pool, **curve[pool], "default": default} for pool in curve_sizes])


def plot_curve(report: EvalReport, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [c["curated"] for c in report.curve]
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, style in (("knn", "o-"), ("random", "s--"), ("default", ":")):
        ax.plot(xs, [c[key] for c in report.curve], style, label=key)
    ax.set_xlabel("curated photos available")
    ax.set_ylabel("mean ΔE (CIEDE2000) to the curator's render")
    ax.set_title("Learning curve (leave-one-out)")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
