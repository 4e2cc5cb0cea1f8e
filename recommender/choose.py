"""One decision rule, for every front end and for the evaluation.

1. Curated photos of the same scene (similarity ≥ SCENE_SIMILARITY) liked something: their
   rank-aware votes decide (`ranking`). Photos that are merely similar (down to MIN_SIMILARITY)
   vote too, unless a taste model worth using is there: content similarity below the scene
   level says little about taste, and on held-out scenes such votes were wrong more often than
   the model.
2. Otherwise, when the taste model beats the most-liked set on scenes it was not fitted
   on, it scores the liked sets for this photo (`taste`).
3. Otherwise the set most curated photos have as their favourite.
4. With nothing liked at all, the book's defaults.

Confidence is a probability of matching the curator's favourite: isotonic maps fitted on
held-out outcomes (leave-one-photo-out for votes, leave-scenes-out for the model), and for
the most-liked set its measured hit rate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sklearn.isotonic import IsotonicRegression

from db.store import CuratedRender, params_hash
from renderer.params import RenderParams

from .ranking import MIN_SIMILARITY, Candidate, confidence, diverse, most_liked, rank
from .taste import SCENE_SIMILARITY, Library, TasteModel

NEIGHBOURS = 10
CLOSE_CALL = 0.5  # a set with at least this share of the winner's votes is a close call for the taste model


@dataclass
class Choice:
    keys: list[str]  # parameter-set hashes, best first
    styles: dict[str, RenderParams]
    confidence: float
    fallback: bool  # no similar curated photo decided
    source: str  # neighbours | taste model | most-liked set | book defaults
    reason: str
    ranked: list[Candidate] = field(default_factory=list)  # the neighbour ranking, for the explanation


def calibrate_votes(lib: Library) -> IsotonicRegression | None:
    """Map raw vote confidence to the chance of matching the favourite, leaving each photo out."""
    raw, hit = [], []
    for pid in lib.photo_ids:
        if lib.favourite(pid) is None:
            continue
        others = [p for p in lib.photo_ids if p != pid]
        sims = sorted(((p, float(lib.vectors[p] @ lib.vectors[pid])) for p in others), key=lambda kv: -kv[1])
        rows = [r for p, _ in sims[:NEIGHBOURS] for r in lib.rows[p]]
        ranked = rank(sims[:NEIGHBOURS], rows)
        picks = diverse(ranked, 0)
        if picks:
            raw.append(confidence(picks[0], ranked))
            hit.append(params_hash(picks[0].params) == lib.favourite(pid))
    if len(set(hit)) < 2:
        return None
    return IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, hit)


def learn(lib: Library, rows: list[CuratedRender] | None = None) -> TasteModel:
    """The taste model of a library, with the calibration of its neighbour votes and the most-liked
    set of `rows` (default: the library's verdicts)."""
    model = TasteModel(lib).fit()
    model.votes = calibrate_votes(lib)
    model.most_liked_set = most_liked(rows if rows is not None else [r for p in lib.photo_ids for r in lib.rows[p]])
    return model


def choose(hits: list[tuple[int, float]], rows: list[CuratedRender],
           every_row: Callable[[], list[CuratedRender]], model: Callable[[], TasteModel | None],
           image: np.ndarray | None, *, k: int = 5, min_similarity: float = MIN_SIMILARITY,
           whose: str = "the curators'") -> Choice:
    """Decide for one photo. `hits`: (photo id, similarity) of curated neighbours; `rows`: their
    verdicts; `every_row` (all verdicts that count, for the most-liked set) is asked for only
    when needed; `model` gives the taste model (learnt once per set of verdicts)."""
    ranked = rank(hits, rows, min_similarity)
    picks = diverse(ranked, k)
    closest = max((sim for _, sim in hits), default=0.0)
    learned = model()
    trusted = learned is not None and learned.worth_it and image is not None  # a taste model worth using
    if trusted and closest < SCENE_SIMILARITY:
        picks = []  # another scene's votes: the taste model decides below
    if picks:
        raw = confidence(picks[0], ranked)
        votes = learned.votes if learned is not None else None
        conf = float(votes.predict([raw])[0]) if votes is not None else raw
        reason = "similar curated photos liked it"
        close = [c for c in picks[:3] if c.total >= CLOSE_CALL * picks[0].total]
        if trusted and len(close) > 1 and all(params_hash(c.params) in learned.library.styles for c in close):
            best = close[int(np.argmax(learned.score(image, [params_hash(c.params) for c in close])))]
            if best is not picks[0]:
                picks = [best, *[c for c in picks if c is not best]]
                reason = "similar curated photos liked it; of their close favourites the taste model chose it"
        styles = {params_hash(c.params): c.params for c in picks}
        return Choice(list(styles), styles, conf, False, "neighbours", reason, ranked)
    if not hits:
        why = f"no photo has {whose} verdicts yet"
    elif closest < min_similarity:
        why = f"no curated photo is similar enough (closest {closest:.2f} < {min_similarity})"
    elif closest < SCENE_SIMILARITY:
        why = f"no curated photo of the same scene (closest {closest:.2f} < {SCENE_SIMILARITY})"
    else:
        why = "no similar photo has a render curators marked good"
    if trusted:
        scored = learned.rank(image)
        styles = {key: learned.library.styles[key] for key in scored.keys[: k + 1]}
        return Choice(list(styles), styles, scored.confidence, True, "taste model",
                      f"{why}; {whose} taste model chose it for this photo's look (right on {learned.accuracy:.0%} "
                      f"of unseen scenes, the most-liked set on {learned.most_liked_rate:.0%})", ranked)
    liked = learned.most_liked_set if learned is not None else most_liked(every_row())
    if liked is not None:
        rate = learned.most_liked_rate if learned is not None and learned.model is not None else 0.0
        key = params_hash(liked)
        return Choice([key], {key: liked}, rate, True, "most-liked set", f"{why}; {whose} most-liked set", ranked)
    key = params_hash(RenderParams())
    return Choice([key], {key: RenderParams()}, 0.0, True, "book defaults", f"{why}; nothing is liked yet", ranked)
