"""One decision rule, for every front end and for the evaluation.

1. Curated photos of the same scene (similarity ≥ SCENE_SIMILARITY) liked something: their
   rank-aware votes (`ranking`) shortlist three sets, and the taste model picks among them for
   this photo (crops of one scene keep different shares of the photo, so their favourites can
   differ) — when, on held-out photos, that beat the votes alone. A photo curated itself keeps
   its own favourite.
   Photos that are merely similar (down to MIN_SIMILARITY) vote too, unless a taste model
   worth using is there: content similarity below the scene level says little about taste,
   and on held-out scenes such votes were wrong more often than the model.
2. Otherwise, when the taste model beats the most-liked set on scenes it was not fitted
   on, it scores the liked sets for this photo (`taste`).
3. Otherwise the set most curated photos have as their favourite.
4. With nothing liked at all, the book's defaults.

Whatever decides, a set the curator turned down on this very photo is not offered for it again.

Confidence is a probability of matching the curator's favourite, fitted on held-out outcomes:
an isotonic map for rule 1 (photos held out a fifth at a time), a logistic curve of the model's
margin for rule 2 (scenes held out), and for the most-liked set its measured hit rate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from sklearn.isotonic import IsotonicRegression

from db.store import CuratedRender, params_hash
from renderer.params import RenderParams

from .ranking import MIN_SIMILARITY, SAME_PHOTO, Candidate, confidence, diverse, most_liked, rank, turned_down
from .taste import SCENE_SIMILARITY, Library, TasteModel

NEIGHBOURS = 10
SHORTLIST = 3  # the taste model picks among this many of the neighbours' best sets
FOLDS = 5


@dataclass
class Choice:
    keys: list[str]  # parameter-set hashes, best first
    styles: dict[str, RenderParams]
    confidence: float
    fallback: bool  # no similar curated photo decided
    source: str  # neighbours | taste model | most-liked set | book defaults
    reason: str
    ranked: list[Candidate] = field(default_factory=list)  # the neighbour ranking, for the explanation
    guide_id: int | None = None  # where no neighbour decided: the guide the first set was liked with


def shortlist(picks: list[Candidate], ranked: list[Candidate],
              score: Callable[[list[str]], np.ndarray]) -> list[Candidate]:
    """The neighbours' picks with the best-scored of their first SHORTLIST moved to the front,
    unless the photo was curated itself (its own favourite stands)."""
    if any(sp.similarity >= SAME_PHOTO and sp.weight > 0 for c in ranked for sp in c.support):
        return picks
    head = picks[:SHORTLIST]
    best = head[int(np.argmax(score([params_hash(c.params) for c in head])))]
    return [best, *[c for c in picks if c is not best]]


def measure_shortlist(model: TasteModel) -> None:
    """Measure rule 1 on photos held out a fifth at a time (each fold takes photos of many scenes; the
    taste model is refitted without them), with and without the taste model picking from the
    shortlist. Where the curator's favourites follow the scene the votes alone do better: keep
    whichever matched the favourite more often, and the isotonic map of its raw confidence."""
    lib = model.library
    outcomes: dict[bool, tuple[list[float], list[bool]]] = {False: ([], []), True: ([], [])}
    for held in lib.spread([p for p in lib.photo_ids if lib.favourite(p)], FOLDS):
        train = [p for p in lib.photo_ids if p not in held]
        scorer = model.held_out_scorer(train) if model.worth_it else None
        for pid in held:
            sims = sorted(((p, float(lib.vectors[p] @ lib.vectors[pid])) for p in train), key=lambda kv: -kv[1])
            near = sims[:NEIGHBOURS]
            if not near or (scorer is not None and near[0][1] < SCENE_SIMILARITY):
                continue  # rule 2 decides there
            ranked = rank(near, [r for p, _ in near for r in lib.rows[p]])
            picks = diverse(ranked, SHORTLIST)
            if not picks:
                continue
            ways = {False: picks}
            if scorer is not None:
                ways[True] = shortlist(picks, ranked, partial(scorer, pid))
            for way, chosen in ways.items():
                outcomes[way][0].append(confidence(chosen[0], ranked))
                outcomes[way][1].append(params_hash(chosen[0].params) == lib.favourite(pid))
    rate = {way: float(np.mean(hit)) if hit else 0.0 for way, (_, hit) in outcomes.items()}
    model.shortlist_rate, model.votes_rate = rate[True], rate[False]
    model.picks_from_shortlist = bool(outcomes[True][1]) and model.shortlist_rate > model.votes_rate
    raw, hit = outcomes[model.picks_from_shortlist]
    model.votes = (IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, hit)
                   if len(set(hit)) > 1 else None)


def learn(lib: Library, rows: list[CuratedRender] | None = None) -> TasteModel:
    """The taste model of a library, with the calibration of rule 1 and the most-liked set of `rows`
    (default: the library's verdicts)."""
    model = TasteModel(lib).fit()
    measure_shortlist(model)
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
        reason = "similar curated photos liked it"
        if (trusted and learned.picks_from_shortlist
                and all(params_hash(c.params) in learned.library.styles for c in picks[:SHORTLIST])):
            first = picks[0]
            picks = shortlist(picks, ranked, lambda keys: learned.score(image, keys))
            if picks[0] is not first:
                reason += (f"; of their {SHORTLIST} favourite sets the taste model chose it for this photo "
                           f"(right on {learned.shortlist_rate:.0%} of held-out photos, the votes alone on "
                           f"{learned.votes_rate:.0%})")
        raw = confidence(picks[0], ranked)
        votes = learned.votes if learned is not None else None
        conf = float(votes.predict([raw])[0]) if votes is not None else raw
        styles = {params_hash(c.params): c.params for c in picks}
        return Choice(list(styles), styles, conf, False, "neighbours", reason, ranked)
    vetoed = turned_down(hits, rows)
    if not hits:
        why = f"no photo has {whose} verdicts yet"
    elif closest < min_similarity:
        why = f"no curated photo is similar enough (closest {closest:.2f} < {min_similarity})"
    elif closest < SCENE_SIMILARITY:
        why = f"no curated photo of the same scene (closest {closest:.2f} < {SCENE_SIMILARITY})"
    else:
        why = "no similar photo has a render curators marked good"
    if vetoed:
        why += f" (leaving out {len(vetoed)} set{'s' if len(vetoed) > 1 else ''} turned down on this photo)"
    scored = learned.rank(image, exclude=vetoed) if trusted else None
    if scored is not None and scored.keys:
        styles = {key: learned.library.styles[key] for key in scored.keys[: k + 1]}
        return Choice(list(styles), styles, scored.confidence, True, "taste model",
                      f"{why}; {whose} taste model chose it for this photo's look (right on {learned.accuracy:.0%} "
                      f"of unseen scenes, the most-liked set on {learned.most_liked_rate:.0%})", ranked,
                      learned.library.guide_of(scored.keys[0]))
    liked = learned.most_liked_set if learned is not None else most_liked(every_row())
    rate = learned.most_liked_rate if learned is not None and learned.model is not None else 0.0
    if liked is not None and params_hash(liked) in vetoed:
        liked, rate = most_liked(every_row(), exclude=vetoed), 0.0  # the runner-up's hit rate is unmeasured
    if liked is not None:
        key = params_hash(liked)
        guide = learned.library.guide_of(key) if learned is not None else None
        return Choice([key], {key: liked}, rate, True, "most-liked set", f"{why}; {whose} most-liked set", ranked,
                      guide)
    key = params_hash(RenderParams())
    nothing = "nothing else is liked" if vetoed else "nothing is liked yet"
    return Choice([key], {key: RenderParams()}, 0.0, True, "book defaults", f"{why}; {nothing}", ranked)
