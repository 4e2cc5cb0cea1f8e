"""A model of curators' taste that scores whole (photo, parameter set) pairs.

Neighbour votes transfer taste to re-photographs of curated scenes; for a scene unlike
anything curated they have nothing to say. What curators react to is the look of the
result, so each pair is described by a few numbers that mean the same on any photo:

* the photo's tone, contrast, colourfulness and texture (mean and spread of luma, mean
  saturation, edge density);
* the set's layer depth, enhancement and dither;
* what the set does to this photo, computed in milliseconds without the dream: the share
  of the photo its keep map keeps, and how far that is from half.

Boosted and randomised trees, averaged, learn the verdicts' utility (the favourite highest).
On 18 scikit-image scenes held out whole (`prismarec eval`), with two simulated curators, it
matched the favourite 0.56 and 0.46 of the time where the most-liked set did 0.29 and 0.01; a
wider description (CIELAB statistics, every field of the set) overfitted and did no better
than the most-liked set. Its out-of-scene accuracy and the
isotonic map from its top-vs-runner-up margin to that accuracy are measured by fitting on
all but a fifth of the scenes in turn.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse.csgraph import connected_components
from skimage import color, filters
from sklearn.ensemble import ExtraTreesRegressor, HistGradientBoostingRegressor, VotingRegressor
from sklearn.isotonic import IsotonicRegression

from db.store import CuratedRender
from renderer.backbones import GOOGLENET_LAYERS
from renderer.blend import keep_map
from renderer.images import resize, to_gray
from renderer.masks import make_mask
from renderer.params import ENHANCEMENTS, STYLES, RenderParams, at_width

from .ranking import favourites, style_key, style_of, verdict_weight

log = logging.getLogger(__name__)

LOOK_WIDTH = 160  # photos are described at this width, a thumbnail's: texture measures depend on scale
SCENE_SIMILARITY = 0.6  # content similarity above which two photos are taken for one scene
MIN_SCENES = 4  # fewer curated scenes than this teach nothing that transfers
MAX_CANDIDATES = 48
FAVOURITE_BONUS = 0.5
_BOOK_LAYERS = list(GOOGLENET_LAYERS)


def small(image: np.ndarray) -> np.ndarray:
    return resize(image, LOOK_WIDTH)


def look(image: np.ndarray) -> np.ndarray:
    """Tone, contrast, colourfulness and texture of a (small) photo."""
    gray = to_gray(image)
    return np.r_[gray.mean(), gray.std(), color.rgb2hsv(image)[..., 1].mean(), (filters.sobel(gray) > 0.05).mean()]


def set_vector(params: RenderParams) -> np.ndarray:
    """Layer depth (−1 without a dream), enhancement one-hot, dither on or off, style one-hot and strength."""
    layer = params.layer
    depth = _BOOK_LAYERS.index(layer) / len(_BOOK_LAYERS) if layer in _BOOK_LAYERS else (-1.0 if layer is None else 0.5)
    styled = [params.style == s for s in STYLES]
    return np.r_[depth, [params.enhance == e for e in ENHANCEMENTS], params.rb_rate < 1, styled,
                 params.style_strength * any(styled)].astype(float)


def outcome(photo_small: np.ndarray, params: RenderParams) -> np.ndarray:
    """The share of the photo the set's keep map keeps, and its distance from half.

    Computed at the set's own render width where that is smaller than the thumbnail, since the
    box filters' reach relative to the photo changes with scale."""
    image = resize(photo_small, min(params.size, photo_small.shape[1]))
    p = at_width(params, image.shape[1])
    kept = float(keep_map(make_mask(to_gray(image), p), p).mean())
    return np.array([kept, abs(kept - 0.5)])


def scenes(vectors: np.ndarray) -> np.ndarray:
    """Scene label per photo: connected components of content similarity above SCENE_SIMILARITY."""
    if len(vectors) == 0:
        return np.zeros(0, int)
    return connected_components(vectors @ vectors.T > SCENE_SIMILARITY, directed=False)[1]


def utility(row: CuratedRender, favourite: str | None) -> float:
    bonus = FAVOURITE_BONUS if row.verdict == "good" and style_key(row.params) == favourite else 0.0
    return verdict_weight(row.verdict, row.score) + bonus


@dataclass
class Library:
    """The curated photos a model learns from: small images, content vectors, scenes, verdicts."""

    photo_ids: list[int]
    images: dict[int, np.ndarray]  # small photos
    vectors: dict[int, np.ndarray]  # content embeddings (unit)
    scene: dict[int, int]
    rows: dict[int, list[CuratedRender]]
    styles: dict[str, RenderParams] = field(default_factory=dict)
    looks: dict[int, np.ndarray] = field(default_factory=dict)
    favs: dict[int, str] = field(default_factory=dict)
    _outcomes: dict[tuple[int, str], np.ndarray] = field(default_factory=dict)

    @classmethod
    def build(cls, images: dict[int, np.ndarray], vectors: dict[int, np.ndarray], rows: list[CuratedRender]
              ) -> Library:
        ids = sorted(pid for pid in images if pid in vectors and any(r.photo_id == pid for r in rows))
        labels = scenes(np.stack([vectors[i] for i in ids])) if ids else []
        by_photo: dict[int, list[CuratedRender]] = defaultdict(list)
        for r in rows:
            if r.photo_id in ids:
                by_photo[r.photo_id].append(r)
        styles = {style_key(r.params): style_of(r.params) for r in rows}
        shrunk = {i: small(images[i]) for i in ids}
        return cls(ids, shrunk, vectors, dict(zip(ids, map(int, labels), strict=True)), by_photo, styles,
                   {i: look(shrunk[i]) for i in ids}, favourites([r for r in rows if r.photo_id in shrunk]))

    def subset(self, photo_ids: list[int]) -> Library:
        """The library of some of these photos, sharing small images, looks and remembered outcomes."""
        keep = [p for p in self.photo_ids if p in set(photo_ids)]
        rows = [r for p in keep for r in self.rows[p]]
        return Library(keep, self.images, self.vectors, {p: self.scene[p] for p in keep},
                       {p: self.rows[p] for p in keep}, {style_key(r.params): style_of(r.params) for r in rows},
                       self.looks, {p: self.favs[p] for p in keep if p in self.favs}, self._outcomes)

    def favourite(self, pid: int) -> str | None:
        return self.favs.get(pid)

    def liked(self, photo_ids: list[int]) -> list[str]:
        """Sets these photos' curators liked, most favourites first (at most MAX_CANDIDATES)."""
        count: dict[str, float] = defaultdict(float)
        for pid in photo_ids:
            for r in self.rows[pid]:
                if r.verdict == "good":
                    key = style_key(r.params)
                    count[key] += 1.0 if key == self.favourite(pid) else 0.25
        return sorted(count, key=lambda k: (-count[k], k))[:MAX_CANDIDATES]

    def features(self, pid: int | None, image_small: np.ndarray, keys: list[str]) -> np.ndarray:
        """One row per candidate set: the photo's look, the set, what the set does to the photo.

        Outcomes on curated photos (`pid` given) are remembered: every fit reuses them."""
        photo_look = self.looks[pid] if pid is not None else look(image_small)
        rows = []
        for key in keys:
            if pid is None:
                result = outcome(image_small, self.styles[key])
            else:
                if (pid, key) not in self._outcomes:
                    self._outcomes[pid, key] = outcome(image_small, self.styles[key])
                result = self._outcomes[pid, key]
            rows.append(np.r_[photo_look, set_vector(self.styles[key]), result])
        return np.stack(rows)


@dataclass
class Scored:
    keys: list[str]  # best first
    scores: list[float]
    confidence: float

    @property
    def margin(self) -> float:
        """Top score minus the runner-up's: what confidence is calibrated on."""
        return self.scores[0] - (self.scores[1] if len(self.scores) > 1 else 0.0)


class TasteModel:
    """Scores (photo, set) pairs; `fit` on a Library, `rank` a new photo's candidate sets.

    `accuracy` is its top-1 on scenes it was not fitted on, `most_liked_rate` the most-liked
    set's on the same scenes: `worth_it` says whether the model beats that simple answer.
    """

    def __init__(self, library: Library):
        self.library = library
        self.model: VotingRegressor | None = None
        self.calibration: IsotonicRegression | None = None
        self.accuracy = 0.0
        self.most_liked_rate = 0.0
        self.votes: IsotonicRegression | None = None  # calibration of neighbour votes (`choose.learn`)
        self.most_liked_set: RenderParams | None = None  # the favourite of the most photos (`choose.learn`)

    @property
    def worth_it(self) -> bool:
        return self.model is not None and self.accuracy > self.most_liked_rate

    def _training(self, photo_ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
        lib, X, y = self.library, [], []
        for pid in photo_ids:
            fav = lib.favourite(pid)
            keys = sorted({style_key(r.params) for r in lib.rows[pid]})
            target = {style_key(r.params): utility(r, fav) for r in lib.rows[pid]}
            X.append(lib.features(pid, lib.images[pid], keys))
            y += [target[k] for k in keys]
        return np.concatenate(X), np.array(y)

    @staticmethod
    def _regressor() -> VotingRegressor:
        """Boosted trees averaged with randomised trees: on a few curated scenes either alone varies
        by ±0.15 top-1 between curators, their mean by less."""
        boosted = HistGradientBoostingRegressor(max_iter=150, learning_rate=0.1, max_depth=4, min_samples_leaf=4,
                                                random_state=0)
        randomised = ExtraTreesRegressor(n_estimators=200, min_samples_leaf=3, max_features=0.5, random_state=0)
        return VotingRegressor([("boosted", boosted), ("randomised", randomised)])

    def fit(self) -> TasteModel:
        lib = self.library
        scene_ids = sorted({lib.scene[p] for p in lib.photo_ids if lib.favourite(p)})
        if len(scene_ids) < MIN_SCENES:
            return self
        margins, correct, liked_hits = [], [], []
        n_folds = min(5, len(scene_ids))
        for held in (scene_ids[i::n_folds] for i in range(n_folds)):  # out-of-scene predictions
            train = [p for p in lib.photo_ids if lib.scene[p] not in held]
            test = [p for p in lib.photo_ids if lib.scene[p] in held and lib.favourite(p)]
            candidates = lib.liked(train)
            if not candidates:
                continue
            model = self._regressor().fit(*self._training(train))
            for pid in test:
                ranked = self._rank(model, pid, lib.images[pid], candidates)
                margins.append(ranked.margin)
                correct.append(ranked.keys[0] == lib.favourite(pid))
                liked_hits.append(candidates[0] == lib.favourite(pid))
        self.calibration = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(margins, correct)
        self.accuracy, self.most_liked_rate = float(np.mean(correct)), float(np.mean(liked_hits))
        self.model = self._regressor().fit(*self._training(lib.photo_ids))
        log.info("taste model: %d photos, %d scenes, out-of-scene top-1 %.2f (most-liked set %.2f)",
                 len(lib.photo_ids), len(scene_ids), self.accuracy, self.most_liked_rate)
        return self

    def _rank(self, model: VotingRegressor, pid: int | None, image_small: np.ndarray,
              candidates: list[str]) -> Scored:
        scores = model.predict(self.library.features(pid, image_small, candidates))
        order = np.argsort(-scores, kind="stable")
        return Scored([candidates[i] for i in order], [float(scores[i]) for i in order], 0.0)

    def score(self, image: np.ndarray, keys: list[str]) -> np.ndarray:
        """The model's utility of each of these sets for this photo."""
        assert self.model is not None
        return self.model.predict(self.library.features(None, small(image), keys))

    def rank(self, image: np.ndarray, pool: list[int] | None = None) -> Scored:
        """The sets curators liked (on `pool`, default all), best first for this photo, with the
        probability that the first is the curator's favourite."""
        assert self.model is not None and self.calibration is not None
        lib = self.library
        scored = self._rank(self.model, None, small(image), lib.liked(pool or lib.photo_ids))
        scored.confidence = float(self.calibration.predict([scored.margin])[0])
        return scored
