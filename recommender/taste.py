"""A model of curators' taste that scores whole (photo, parameter set) pairs.

Neighbour votes transfer taste to re-photographs of curated scenes; for a scene unlike
anything curated they have nothing to say. What curators react to is the look of the
result, so each pair is described by a few numbers that mean the same on any photo:

* the photo's traits (`traits`: about thirty generic statistics of tone, colour, texture and
  layout, none chosen for one curator);
* every parameter of the set that changes the look (layer depth, enhancement and its strength,
  mask parts, box windows, dither, the dream's steps and scales, style), so that sets a sweep
  tells apart are told apart here too;
* what the set does to this photo, computed in milliseconds without the dream: the share
  of the photo its keep map keeps, and how far that is from half.

A ranking model (LightGBM's LambdaRank) learns, photo by photo, the order the verdicts
give: the favourite first, then the other good sets, then the renders the curator saw and
left untagged, then the bad ones. The untagged renders matter: on new crops of curated scenes,
with two simulated curators, the model matched the favourite 0.75 and 0.82 of the time when it
learnt from the four tagged sets of eight per photo, 0.85 and 0.86 with the untagged four too.

Beside it a classifier (`FavouriteClassifier`) learns which liked set is a photo's favourite from
the photo alone: its traits and what it shows (its content embedding, reduced by PCA). The two
are blended: on held-out scenes of ten generated curators (`transfer`, development seeds 0-9) the
ranker alone matched the favourite on 0.60 of new-scene photos, the classifier alone on 0.58, an
even blend on 0.61; the ranker with only the four numbers of tone and texture it had before, 0.56.
Curators differ — one judges each set by what it keeps of the photo, another by the photo's
content — so the classifier's weight (0, ½ or 1) is chosen per library on held-out scenes.
Its out-of-scene accuracy, and the logistic curve (`Platt`) from its top-vs-runner-up margin to
that accuracy, are measured by fitting on all but a fifth of the scenes in turn.
"""

from __future__ import annotations

import copy
import functools
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from prismarec.db.store import CuratedRender
from prismarec.renderer.blend import keep_map
from prismarec.renderer.enhance import DEFAULT_FACTORS
from prismarec.renderer.images import resize, to_gray
from prismarec.renderer.masks import make_mask
from prismarec.renderer.onnx_sessions import onnx_session
from prismarec.renderer.painting import FILTERS, parse_painting
from prismarec.renderer.params import ENHANCEMENTS, MASK_PARTS, STYLES, RenderParams, at_width, field_specs, mask_parts
from prismarec.renderer.registry import layer_depth

from .ranking import GEOMETRY, favourites, style_key, style_of
from .traits import photo_traits

if TYPE_CHECKING:
    from lightgbm import LGBMRanker

log = logging.getLogger(__name__)

LOOK_WIDTH = 160  # photos are described at this width, a thumbnail's: texture measures depend on scale
SCENE_SIMILARITY = 0.6  # content similarity above which two photos are taken for one scene
MIN_SCENES = 4  # fewer curated scenes than this teach nothing that transfers
MAX_CANDIDATES = 48
MAX_PASSED_OVER = 16  # the newest untagged sets per photo learnt from (a sweep may leave hundreds)
_PLAIN_FIELDS = [name for name, spec in field_specs().items()  # numbers and switches, described as they are
                 if spec["kind"] in ("bool", "int", "float") and not spec["optional"] and name not in GEOMETRY]


def small(image: np.ndarray) -> np.ndarray:
    return resize(image, LOOK_WIDTH)


@functools.lru_cache(maxsize=8192)
def set_vector(params: RenderParams) -> np.ndarray:
    """Every parameter that changes the look, so that any two sets a sweep tells apart differ in
    features: the layer by depth (−1 without a dream), enhancement, style and mask parts one-hot,
    the painting filters' blend weights, where the style paints,
    the enhancement's strength (the book's where unset), and every other number and switch as it
    is (trees split on order, not scale). Geometry (size, proportions, seed) is not a style.
    Remembered per set (read-only): learning asks for each set thousands of times."""
    layer = params.layer
    depth = layer_depth(layer)
    factor = params.enhance_factor if params.enhance_factor is not None else DEFAULT_FACTORS.get(params.enhance, 0.0)
    parts = mask_parts(params.mask)
    painting = parse_painting(params.painting) if params.style == "painting" else {}
    vector = np.r_[depth, [params.enhance == e for e in ENHANCEMENTS], factor, [params.style == s for s in STYLES],
                   [painting.get(i, 0.0) for i in range(len(FILTERS))], params.style_at == "photo",
                   [p in parts for p in MASK_PARTS], [getattr(params, name) for name in _PLAIN_FIELDS]].astype(float)
    vector.flags.writeable = False
    return vector


def outcome(photo_small: np.ndarray, params: RenderParams) -> np.ndarray:
    """The share of the photo the set's keep map keeps, and its distance from half.

    Computed on the thumbnail with the box windows scaled to it (`at_width`), as a render does."""
    p = at_width(params, photo_small.shape[1])
    kept = float(keep_map(make_mask(to_gray(photo_small), p), p).mean())
    return np.array([kept, abs(kept - 0.5)])


def scenes(vectors: np.ndarray) -> np.ndarray:
    """Scene label per photo: connected components of content similarity above SCENE_SIMILARITY."""
    from scipy.sparse.csgraph import connected_components

    if len(vectors) == 0:
        return np.zeros(0, int)
    return connected_components(vectors @ vectors.T > SCENE_SIMILARITY, directed=False)[1]


def grade(verdict: str | None, favourite: bool) -> int:
    """The order a photo's verdicts give its sets: favourite 3, other good 2, untagged 1, bad 0."""
    if verdict == "good":
        return 3 if favourite else 2
    return 1 if verdict is None else 0


@dataclass
class Library:
    """The curated photos a model learns from: small images, content vectors, scenes, verdicts,
    and the sets each photo was rendered with that got no verdict."""

    photo_ids: list[int]
    images: dict[int, np.ndarray]  # small photos
    vectors: dict[int, np.ndarray]  # content embeddings (unit)
    scene: dict[int, int]
    rows: dict[int, list[CuratedRender]]
    styles: dict[str, RenderParams] = field(default_factory=dict)
    traits: dict[int, np.ndarray] = field(default_factory=dict)  # `photo_traits` of each small photo
    favs: dict[int, str] = field(default_factory=dict)
    passed_over: dict[int, list[str]] = field(default_factory=dict)  # untagged sets of each photo
    outcomes: dict[tuple[int, str], np.ndarray] = field(default_factory=dict)  # (photo, set) -> outcome

    @classmethod
    def build(cls, images: dict[int, np.ndarray], vectors: dict[int, np.ndarray], rows: list[CuratedRender],
              untagged: list[tuple[int, RenderParams]] = (),
              outcomes: dict[tuple[int, str], np.ndarray] | None = None) -> Library:
        """`outcomes`: those already computed for these photos, reused (they are the slow part)."""
        tagged = {r.photo_id for r in rows}
        ids = sorted(pid for pid in images if pid in vectors and pid in tagged)
        labels = scenes(np.stack([vectors[i] for i in ids])) if ids else []
        by_photo: dict[int, list[CuratedRender]] = defaultdict(list)
        for r in rows:
            if r.photo_id in images and r.photo_id in vectors:
                by_photo[r.photo_id].append(r)
        styles = {style_key(r.params): style_of(r.params) for r in rows}
        tagged_sets = {pid: {style_key(r.params) for r in photo_rows} for pid, photo_rows in by_photo.items()}
        seen: dict[int, dict[str, RenderParams]] = defaultdict(dict)  # oldest render first
        for pid, params in untagged:
            if pid in by_photo and style_key(params) not in tagged_sets[pid]:
                seen[pid].setdefault(style_key(params), style_of(params))
        passed_over = {pid: list(sets)[-MAX_PASSED_OVER:] for pid, sets in seen.items()}
        styles |= {key: seen[pid][key] for pid, keys in passed_over.items() for key in keys}
        shrunk = {i: small(images[i]) for i in ids}
        return cls(ids, shrunk, vectors, dict(zip(ids, map(int, labels), strict=True)), by_photo, styles,
                   {i: photo_traits(shrunk[i]) for i in ids}, favourites([r for r in rows if r.photo_id in shrunk]),
                   passed_over, dict(outcomes or {}))

    def subset(self, photo_ids: list[int]) -> Library:
        """The library of some of these photos, sharing small images, looks and remembered outcomes."""
        keep = [p for p in self.photo_ids if p in set(photo_ids)]
        passed_over = {p: self.passed_over[p] for p in keep if p in self.passed_over}
        styles = {style_key(r.params): style_of(r.params) for p in keep for r in self.rows[p]}
        styles |= {key: self.styles[key] for keys in passed_over.values() for key in keys}
        return Library(keep, self.images, self.vectors, {p: self.scene[p] for p in keep},
                       {p: self.rows[p] for p in keep}, styles, self.traits,
                       {p: self.favs[p] for p in keep if p in self.favs}, passed_over, self.outcomes)

    def grades(self, pid: int) -> dict[str, int]:
        """Each set rendered for this photo, with its grade: the best verdict it got, or untagged."""
        out = dict.fromkeys(self.passed_over.get(pid, []), grade(None, False))
        for r in self.rows[pid]:
            key = style_key(r.params)
            out[key] = max(out.get(key, 0), grade(r.verdict, key == self.favourite(pid)))
        return out

    def spread(self, photo_ids: list[int], n: int) -> list[list[int]]:
        """These photos in (at most) n folds, a scene's photos dealt out to different folds in turn, so
        that each fold's photos keep their scene's other crops outside it."""
        ordered = sorted(photo_ids, key=lambda p: (self.scene[p], p))
        return [ordered[i::n] for i in range(min(n, len(ordered)))]

    @functools.cached_property
    def _guides(self) -> dict[str, Counter]:
        """Per set, the guides it was liked with: read once, asked at every recommendation."""
        guides: dict[str, Counter] = defaultdict(Counter)
        for p in self.photo_ids:
            for r in self.rows[p]:
                if r.verdict == "good":
                    guides[style_key(r.params)][r.guide_id] += 1
        return guides

    def guide_of(self, key: str) -> int | None:
        """The guide this set was liked with most often (None: liked without one, or never)."""
        guides = self._guides.get(key)
        return guides.most_common(1)[0][0] if guides else None

    def favourite(self, pid: int) -> str | None:
        return self.favs.get(pid)

    @functools.cached_property
    def liked_anywhere(self) -> list[str]:
        """`liked` over every photo of the library, once: each recommendation ranks these."""
        return self.liked(self.photo_ids)

    def liked(self, photo_ids: list[int]) -> list[str]:
        """Sets these photos' curators liked, most favourites first (at most MAX_CANDIDATES)."""
        count: dict[str, float] = defaultdict(float)
        for pid in photo_ids:
            for r in self.rows[pid]:
                if r.verdict == "good":
                    key = style_key(r.params)
                    count[key] += 1.0 if key == self.favourite(pid) else 0.25
        return sorted(count, key=lambda k: (-count[k], k))[:MAX_CANDIDATES]

    def features(self, photo: TastePhoto, keys: list[str]) -> np.ndarray:
        """One row per candidate set: the photo's traits, the set, what the set does to the photo.

        Outcomes on curated photos (`photo.pid` given) are remembered: every fit reuses them."""
        rows = []
        for key in keys:
            if photo.pid is None:
                result = outcome(photo.small, self.styles[key])
            else:
                if (photo.pid, key) not in self.outcomes:
                    self.outcomes[photo.pid, key] = outcome(photo.small, self.styles[key])
                result = self.outcomes[photo.pid, key]
            rows.append(np.r_[photo.traits, set_vector(self.styles[key]), result])
        return np.stack(rows)

    def photo(self, pid: int) -> TastePhoto:
        return TastePhoto(self.images[pid], self.traits[pid], self.vectors[pid], pid)


@dataclass
class TastePhoto:
    """What the taste model reads of a photo: its thumbnail, traits and content embedding
    (`pid` for a curated photo, whose outcomes are remembered)."""

    small: np.ndarray
    traits: np.ndarray
    vector: np.ndarray
    pid: int | None = None

    @classmethod
    def of(cls, image: np.ndarray, vector: np.ndarray) -> TastePhoto:
        thumb = small(image)
        return cls(thumb, photo_traits(thumb), vector)


class FavouriteClassifier:
    """Which liked set is a photo's favourite, from the photo alone: its traits and what it shows
    (the content embedding reduced to a few principal components), by a regularised logistic
    regression. It transfers a curator's taste across scenes where the taste follows the photo
    rather than the set's parameters. (A random forest averaged in changed new-scene top-1 on ten
    generated curators by less than 0.01, at many times the cost of a prediction.)

    Fitted by scikit-learn, kept as its arrays: a stored model predicts with numpy alone."""

    COMPONENTS = 16

    def __init__(self, photos: list[TastePhoto], favourite: list[str]):
        from sklearn.decomposition import PCA
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        vectors = np.stack([p.vector for p in photos])
        pca = PCA(min(self.COMPONENTS, len(photos) - 1, vectors.shape[1]), random_state=0).fit(vectors)
        self.centre, self.axes = pca.mean_, pca.components_
        x = self._x(photos)
        scaler = StandardScaler().fit(x)
        linear = LogisticRegression(C=0.1, max_iter=2000).fit(scaler.transform(x), favourite)
        self.mean, self.scale = scaler.mean_, scaler.scale_
        self.coef, self.intercept = linear.coef_, linear.intercept_
        self.classes = list(linear.classes_)

    def _x(self, photos: list[TastePhoto]) -> np.ndarray:
        """Traits and the embedding's principal components."""
        vectors = np.stack([p.vector for p in photos])
        return np.hstack([np.stack([p.traits for p in photos]), (vectors - self.centre) @ self.axes.T])

    def proba(self, photos: list[TastePhoto]) -> np.ndarray:
        """The chance that each of `classes` is each photo's favourite, one row per photo (what
        scikit-learn's `predict_proba` gives: a softmax, or for two classes the second's logistic)."""
        z = (self._x(photos) - self.mean) / self.scale @ self.coef.T + self.intercept
        if len(self.classes) == 2:
            second = expit(z[:, 0])
            return np.c_[1 - second, second]
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)


class StoredRanker:
    """A fitted LambdaRank ranker converted to ONNX (onnxmltools) and run by onnxruntime, so a
    stored taste model predicts without importing LightGBM and scikit-learn: a second of every
    recommendation's start-up. Scores agree with LightGBM's to float32 rounding."""

    def __init__(self, ranker: LGBMRanker):
        from onnxmltools import convert_lightgbm
        from onnxmltools.convert.common.data_types import FloatTensorType

        features = FloatTensorType([None, ranker.n_features_in_])
        self.onnx = convert_lightgbm(ranker.booster_, initial_types=[("x", features)], target_opset=15,
                                     zipmap=False).SerializeToString()
        self._session: Any = None

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self._session is None:
            self._session = onnx_session(self.onnx, threads=1)
        return self._session.run(None, {"x": x.astype(np.float32)})[0][:, 0]

    def __getstate__(self) -> dict:
        return {"onnx": self.onnx, "_session": None}


@dataclass
class Learnt:
    """A ranker of (photo, set) pairs and, with two favourite sets or more, a favourite classifier."""

    ranker: LGBMRanker | StoredRanker
    classifier: FavouriteClassifier | None
    share: float = 0.5  # the classifier's weight against the ranker's (`TasteModel.fit` chooses it)
    known: dict[int, np.ndarray] = field(default_factory=dict)  # curated photo -> classifier probabilities

    def expect(self, lib: Library, photo_ids: list[int]) -> None:
        """Classify these curated photos in one batch, ahead of ranking sets for each."""
        if self.classifier is not None and photo_ids:
            self.known |= dict(zip(photo_ids, self.classifier.proba([lib.photo(p) for p in photo_ids]), strict=True))

    def parts(self, lib: Library, photo: TastePhoto, keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The ranker's softmax over `keys` and the classifier's chance for each (zeros without one)."""
        ranked = self.ranker.predict(lib.features(photo, keys))
        soft = np.exp(ranked - ranked.max())
        if self.classifier is None:
            return soft / soft.sum(), np.zeros(len(keys))
        p = self.known[photo.pid] if photo.pid in self.known else self.classifier.proba([photo])[0]
        classes = self.classifier.classes
        return soft / soft.sum(), np.array([p[classes.index(k)] if k in classes else 0.0 for k in keys])

    def scores(self, lib: Library, photo: TastePhoto, keys: list[str]) -> np.ndarray:
        return blend(*self.parts(lib, photo, keys), self.share if self.classifier is not None else 0.0)

    def stored(self) -> Learnt:
        """This model in the form it is kept in between processes (`StoredRanker`)."""
        ranker = self.ranker if isinstance(self.ranker, StoredRanker) else StoredRanker(self.ranker)
        return Learnt(ranker, self.classifier, self.share, self.known)


SHARES = (0.5, 0.0, 1.0)  # the classifier's weights tried, the blend first (it wins ties)


def blend(ranker: np.ndarray, classifier: np.ndarray, share: float) -> np.ndarray:
    return (1 - share) * ranker + share * classifier


@dataclass
class Platt:
    """A logistic curve from the model's margin to the chance its first pick is the favourite (Platt
    scaling). Out-of-scene outcomes are few (one per curated photo), and an isotonic step fitted on
    them put a few confident answers at 0.9 that were right far less often: on the three simulated
    curators' new scenes the expected calibration error was 0.11, 0.04 and 0.16 with this curve,
    about 0.10, 0.15 and 0.19 with isotonic steps."""

    slope: float
    intercept: float

    @classmethod
    def fit(cls, margins: list[float], correct: list[bool]) -> Platt:
        from scipy.special import logit
        from sklearn.linear_model import LogisticRegression

        if len(set(correct)) < 2:  # all right or all wrong: the rate, short of certainty
            return cls(0.0, float(logit(observed_rate(correct))))
        fitted = LogisticRegression().fit(np.reshape(margins, (-1, 1)), correct)
        return cls(float(fitted.coef_[0, 0]), float(fitted.intercept_[0]))

    def predict(self, margins: list[float]) -> np.ndarray:
        return expit(self.slope * np.asarray(margins, float) + self.intercept)


def observed_rate(correct: list[bool]) -> float:
    """How often held-out answers were right, by the rule of succession: never 0 or 1, and close to
    0.5 where there are few outcomes (one right answer is not certainty)."""
    return (sum(correct) + 1) / (len(correct) + 2)


def rate_uncertainty(photos: int, scenes: int) -> float:
    """The standard error of a top-1 rate near one half measured on this many held-out photos of
    this many scenes (photos of one scene count as a few, not as many)."""
    return 0.5 / np.sqrt(max(1, min(photos, 4 * scenes)))


def expit(z: np.ndarray) -> np.ndarray:
    """The logistic function (scipy's `expit`, without importing scipy.special for one formula)."""
    return 1.0 / (1.0 + np.exp(-z))


@dataclass
class Scored:
    keys: list[str]  # best first
    scores: list[float]
    confidence: float = 0.0

    @classmethod
    def of(cls, keys: list[str], scores: np.ndarray) -> Scored:
        order = np.argsort(-scores, kind="stable")
        return cls([keys[i] for i in order], [float(scores[i]) for i in order])

    @property
    def margin(self) -> float:
        """Top score minus the runner-up's: what confidence is calibrated on."""
        return self.scores[0] - (self.scores[1] if len(self.scores) > 1 else 0.0)


@dataclass
class Steps:
    """An isotonic map, fitted by scikit-learn and kept as its steps: a stored model predicts with
    numpy alone (`np.interp` between the steps, flat beyond them, as `IsotonicRegression` with
    `out_of_bounds="clip"` does)."""

    x: np.ndarray
    y: np.ndarray

    @classmethod
    def fit(cls, raw: list[float], correct: list[bool]) -> Steps:
        from sklearn.isotonic import IsotonicRegression

        if len(set(correct)) < 2:  # all right or all wrong: one step at the rate, short of certainty
            return cls(np.zeros(1), np.full(1, observed_rate(correct)))
        fitted = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, correct)
        return cls(fitted.X_thresholds_, fitted.y_thresholds_)

    def predict(self, raw: list[float]) -> np.ndarray:
        return np.interp(raw, self.x, self.y)


@dataclass
class Variants:
    """Rule 1 (re-photographs of curated scenes) measured on photos held out: whether the model or
    the neighbours' votes decide, each one's held-out top-1, and each one's calibration."""

    model_rate: float = 0.0
    votes_rate: float = 0.0
    votes: Steps | None = None  # the votes' confidence -> probability of the favourite
    calibration: Platt | None = None  # the model's margin -> probability of the favourite

    @property
    def model_decides(self) -> bool:
        return self.calibration is not None and self.model_rate > self.votes_rate


class TasteModel:
    """Scores (photo, set) pairs; `fit` on a Library, `rank` a new photo's candidate sets.

    `accuracy` is its top-1 on scenes it was not fitted on, `most_liked_rate` the most-liked
    set's on the same scenes: `worth_it` says whether the model holds its own against that simple
    answer. The check is pessimistic about the model, which is fitted there on four fifths of the
    scenes and learns from every scene added while the most-liked set does not: the model decides
    unless the most-liked set did better by more than the rates' standard error (`rate_error`).
    On development curators 0-19 a strict "model better" check stood the model aside for two of
    twenty and new-scene top-1 fell on both: 0.93 → 0.88 (on a tie) and 0.37 → 0.32.
    """

    def __init__(self, library: Library):
        self.library = library
        self.model: Learnt | None = None
        self.calibration: Platt | None = None
        self.accuracy = 0.0
        self.most_liked_rate = 0.0
        self.rate_error = 0.5  # the standard error of both rates (`rate_uncertainty`)
        self.share = SHARES[0]  # the classifier's weight in the blend, chosen on held-out scenes
        self.variants = Variants()  # rule 1's measurements (`choose.measure_variants`)
        self.most_liked_set: RenderParams | None = None  # the favourite of the most photos (`choose.learn`)

    @property
    def worth_it(self) -> bool:
        return self.model is not None and self.accuracy >= self.most_liked_rate - self.rate_error

    def stored(self) -> TasteModel:
        """This model as it is kept between processes: it predicts without LightGBM or scikit-learn."""
        kept = copy.copy(self)
        kept.model = self.model.stored() if self.model is not None else None
        return kept

    def _training(self, photo_ids: list[int]) -> tuple[np.ndarray, np.ndarray, list[int]]:
        """Features, grades and group sizes (one group per photo) for the ranker."""
        lib, X, y, groups = self.library, [], [], []
        for pid in photo_ids:
            grades = lib.grades(pid)
            keys = sorted(grades)
            X.append(lib.features(lib.photo(pid), keys))
            y += [grades[k] for k in keys]
            groups.append(len(keys))
        return np.concatenate(X), np.array(y), groups

    def _fitted(self, photo_ids: list[int]) -> Learnt:
        """LambdaRank over each photo's sets (subsampled rows and features steady it on a few scenes)
        and the favourite classifier. One thread: a recommendation runs beside renders and other requests."""
        from lightgbm import LGBMRanker

        X, y, groups = self._training(photo_ids)
        ranker = LGBMRanker(n_estimators=200, learning_rate=0.05, num_leaves=15, min_child_samples=3, subsample=0.8,
                            subsample_freq=1, colsample_bytree=0.8, random_state=0, n_jobs=1, verbose=-1)
        lib = self.library
        liked = [p for p in photo_ids if lib.favourite(p)]
        favourite = [lib.favourite(p) for p in liked]
        classifier = FavouriteClassifier([lib.photo(p) for p in liked], favourite) if len(set(favourite)) > 1 else None
        return Learnt(ranker.fit(X, y, group=groups), classifier, self.share)

    def fit(self) -> TasteModel:
        lib = self.library
        scene_ids = sorted({lib.scene[p] for p in lib.photo_ids if lib.favourite(p)})
        if len(scene_ids) < MIN_SCENES:
            return self
        outcomes, liked_hits = [], []  # per held-out photo: candidates, both parts, favourite
        n_folds = min(5, len(scene_ids))
        for held in (scene_ids[i::n_folds] for i in range(n_folds)):  # out-of-scene predictions
            train = [p for p in lib.photo_ids if lib.scene[p] not in held]
            test = [p for p in lib.photo_ids if lib.scene[p] in held and lib.favourite(p)]
            candidates = lib.liked(train)
            if not candidates:
                continue
            model = self._fitted(train)
            model.expect(lib, test)
            for pid in test:
                outcomes.append((candidates, *model.parts(lib, lib.photo(pid), candidates), lib.favourite(pid)))
                liked_hits.append(candidates[0] == lib.favourite(pid))
        if not outcomes:
            return self

        def scored(share: float) -> list[tuple[Scored, str]]:
            return [(Scored.of(keys, blend(r, c, share)), fav) for keys, r, c, fav in outcomes]

        rates = {share: np.mean([s.keys[0] == fav for s, fav in scored(share)]) for share in SHARES}
        self.share = max(SHARES, key=lambda share: rates[share])  # first of the best: the blend on ties
        held_out = scored(self.share)
        self.calibration = Platt.fit([s.margin for s, _ in held_out], [s.keys[0] == fav for s, fav in held_out])
        self.accuracy, self.most_liked_rate = float(rates[self.share]), float(np.mean(liked_hits))
        self.rate_error = rate_uncertainty(len(outcomes), len(scene_ids))
        self.model = self._fitted(lib.photo_ids)
        log.info("taste model: %d photos, %d scenes, out-of-scene top-1 %.2f (most-liked set %.2f), classifier "
                 "share %.1f", len(lib.photo_ids), len(scene_ids), self.accuracy, self.most_liked_rate, self.share)
        return self

    def _rank(self, model: Learnt, photo: TastePhoto, candidates: list[str]) -> Scored:
        return Scored.of(candidates, model.scores(self.library, photo, candidates))

    def held_out_ranker(self, photo_ids: list[int], held: list[int]) -> Callable[[int, list[str]], Scored]:
        """Ranks sets for the curated photos `held` with a model fitted on `photo_ids` only: for
        measuring the model on the photos left out."""
        ranker = self._fitted(photo_ids)
        ranker.expect(self.library, held)
        return lambda pid, keys: self._rank(ranker, self.library.photo(pid), keys)

    def uncertainty(self, photos: list[TastePhoto]) -> np.ndarray:
        """1 − the favourite classifier's chance for its first choice, per photo: where a verdict
        would teach most. Needs a classifier (two favourite sets or more)."""
        assert self.model is not None and self.model.classifier is not None
        return 1.0 - self.model.classifier.proba(photos).max(axis=1)

    def rank(self, photo: TastePhoto, exclude: Collection[str] = (), first: list[str] = (),
             calibration: Platt | None = None) -> Scored:
        """The `first` sets and those curators liked most, less `exclude`, best first for this photo,
        with the probability that the first is the curator's favourite (`calibration`: the
        out-of-scene one unless given)."""
        assert self.model is not None and self.calibration is not None
        lib = self.library
        candidates = [key for key in dict.fromkeys([*first, *lib.liked_anywhere])
                      if key not in exclude and key in lib.styles]
        if not candidates:
            return Scored([], [])
        scored = self._rank(self.model, photo, candidates)
        scored.confidence = float((calibration or self.calibration).predict([scored.margin])[0])
        return scored
