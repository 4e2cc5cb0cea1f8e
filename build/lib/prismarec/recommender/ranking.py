"""Rank whole parameter sets from the verdicts on neighbouring photos' renders.

Parameters are interdependent (a layer suits some masks, an enhancement some rates), so
sets are scored as units: each current verdict on a neighbour's render adds
`similarity_weight × verdict_weight` to that render's parameter set. Votes are rank-aware:
a neighbour's favourite set gets its full score, its other good sets half, so a set that is
every neighbour's second choice does not beat the set most neighbours rate best.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field

from prismarec.db.store import CuratedRender, params_hash
from prismarec.recommender import MIN_SIMILARITY
from prismarec.renderer.params import RenderParams, fields_of

SIMILARITY_POWER = 4  # sharpen: a near-duplicate outweighs many loose matches
GEOMETRY = (*fields_of("geometry"), "seed")  # how big and which dither: the user's choice, not a style
DIVERSITY_FIELDS = ("style", "mask", "dd", "layer", "enhance", "n1", "n2", "n3", "rb_rate", "convd_median_factor", "cb")


@functools.lru_cache(maxsize=8192)
def style_of(params: RenderParams) -> RenderParams:
    """The parameters with geometry reset to defaults, so one style rendered at two sizes is one set.
    Remembered per set: ranking asks for it once per verdict row of every neighbour."""
    default = RenderParams()
    return params.replace(**{name: getattr(default, name) for name in GEOMETRY})


@functools.lru_cache(maxsize=8192)
def style_key(params: RenderParams) -> str:
    """The hash that names a style (a parameter set without geometry): one set, one key."""
    return params_hash(style_of(params))


def similarity_weight(similarity: float) -> float:
    return max(similarity, 0.0) ** SIMILARITY_POWER


RUNNER_UP = 0.5  # a good set that is not the photo's favourite counts this much of its score
SAME_PHOTO = 0.999  # a neighbour this similar is the photo itself: its bad verdicts veto the set


def verdict_weight(verdict: str, score: int | None) -> float:
    """good: score/5 (4 when unscored); bad counts against: −(6 − score)/5 (−0.8 when unscored)."""
    if verdict == "good":
        return (score or 4) / 5
    return -(6 - (score or 2)) / 5


def favourites(curated: list[CuratedRender]) -> dict[int, str]:
    """Each photo's favourite set (its best good verdict; the newest render on ties), as a params hash."""
    best: dict[int, tuple[float, int, str]] = {}
    for c in curated:
        if c.verdict == "good":
            entry = (verdict_weight(c.verdict, c.score), c.render_id, style_key(c.params))
            best[c.photo_id] = max(best.get(c.photo_id, entry), entry)
    return {pid: key for pid, (_, _, key) in best.items()}


def most_liked(curated: list[CuratedRender], exclude: Collection[str] = ()) -> RenderParams | None:
    """The set that is the favourite of the most curated photos, leaving out the `exclude` keys
    (None when nothing else is liked)."""
    styles = {style_key(c.params): style_of(c.params) for c in curated}
    counts: dict[str, int] = defaultdict(int)
    for key in favourites(curated).values():
        if key not in exclude:
            counts[key] += 1
    return styles[max(counts, key=lambda key: (counts[key], key))] if counts else None


@dataclass
class Support:
    photo_id: int
    render_id: int
    similarity: float
    verdict: str
    score: int | None
    curator: str
    weight: float


@dataclass
class Candidate:
    params: RenderParams
    total: float
    guide_id: int | None
    support: list[Support] = field(default_factory=list)


def rank(neighbours: list[tuple[int, float]], curated: list[CuratedRender],
         min_similarity: float = MIN_SIMILARITY) -> list[Candidate]:
    """Parameter sets seen on the curated renders of neighbours at least `min_similarity` alike, best first."""
    similarity = {pid: sim for pid, sim in neighbours if sim >= min_similarity}
    by_set: dict[str, Candidate] = {}
    guide_votes: dict[str, dict[int | None, float]] = defaultdict(lambda: defaultdict(float))
    favourite = favourites([c for c in curated if c.photo_id in similarity])
    for c in curated:
        if c.photo_id not in similarity:
            continue
        style = style_of(c.params)
        key = style_key(c.params)
        rank_factor = RUNNER_UP if c.verdict == "good" and favourite.get(c.photo_id) != key else 1.0
        weight = similarity_weight(similarity[c.photo_id]) * verdict_weight(c.verdict, c.score) * rank_factor
        cand = by_set.setdefault(key, Candidate(style, 0.0, None))
        cand.total += weight
        cand.support.append(Support(c.photo_id, c.render_id, similarity[c.photo_id], c.verdict, c.score,
                                    c.curator, weight))
        guide_votes[key][c.guide_id] += weight
    vetoed = turned_down(neighbours, curated)
    for key, cand in by_set.items():
        cand.guide_id = max(guide_votes[key].items(), key=lambda kv: kv[1])[0]
        cand.support.sort(key=lambda sp: -abs(sp.weight))
        if key in vetoed:  # the curator turned it down on this very photo
            cand.total = min(cand.total, -1.0)
    return sorted(by_set.values(), key=lambda cand: -cand.total)


def turned_down(neighbours: list[tuple[int, float]], curated: list[CuratedRender]) -> set[str]:
    """Sets the curators turned down on this very photo (a neighbour at SAME_PHOTO similarity): their
    verdicts on it weigh more bad than good. Never offered for it again, whatever decides. One bad
    verdict (given, say, with another guide) does not outweigh four good ones on the same photo."""
    itself = {pid for pid, sim in neighbours if sim >= SAME_PHOTO}
    balance: dict[str, float] = defaultdict(float)
    for c in curated:
        if c.photo_id in itself:
            balance[style_key(c.params)] += verdict_weight(c.verdict, c.score)
    return {key for key, total in balance.items() if total < 0}


def diverse(candidates: list[Candidate], k: int) -> list[Candidate]:
    """The best positive candidate plus up to k others that differ from every pick in a key field."""
    picked: list[Candidate] = []
    for cand in candidates:
        if cand.total <= 0 or len(picked) > k:
            break
        if all(any(getattr(cand.params, f) != getattr(p.params, f) for f in DIVERSITY_FIELDS) for p in picked):
            picked.append(cand)
    return picked


def confidence(best: Candidate, candidates: list[Candidate]) -> float:
    """In [0, 1): the closest good supporter's similarity × the best set's share of all positive totals
    × n/(n+1) for n good verdicts behind it — one verdict is evidence, not certainty (0.5 at most)."""
    positive_total = sum(c.total for c in candidates if c.total > 0)
    supporters = [sp.similarity for sp in best.support if sp.weight > 0]
    if not supporters or positive_total <= 0:
        return 0.0
    evidence = len(supporters) / (len(supporters) + 1)
    return round(max(supporters) * best.total / positive_total * evidence, 4)


def best_per_photo(curated: list[CuratedRender]) -> dict[int, RenderParams]:
    """Each photo's best-rated parameter set (its own verdicts only), for evaluation and learning."""
    out: dict[int, RenderParams] = {}
    for photo_id in {c.photo_id for c in curated}:
        ranked = rank([(photo_id, 1.0)], [c for c in curated if c.photo_id == photo_id])
        if ranked and ranked[0].total > 0:
            out[photo_id] = ranked[0].params
    return out
