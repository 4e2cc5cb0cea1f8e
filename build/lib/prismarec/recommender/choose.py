"""One decision rule, for every front end and for the evaluation.

1. Curated photos of the same scene (similarity ≥ SCENE_SIMILARITY) liked something: their
   rank-aware votes (`ranking`) decide — or the taste model does, when on held-out photos it
   matched the favourite more often than the votes. The model has learnt from the scene's other
   photos and sees what sets this one apart (a darker exposure, a tighter crop, another keep
   share), which can change the favourite; it ranks the neighbours' liked sets and those liked
   most anywhere. A photo curated itself keeps its own favourite.
   Photos that are merely similar (down to MIN_SIMILARITY) vote too, unless a taste model
   worth using is there: content similarity below the scene level says little about taste,
   and on held-out scenes such votes were wrong more often than the model.
2. Otherwise, when the taste model beats the most-liked set on scenes it was not fitted
   on, it scores the liked sets for this photo (`taste`).
3. Otherwise the set most curated photos have as their favourite.
4. With nothing liked at all, the book's defaults.

Whatever decides, a set the curator turned down on this very photo is not offered for it again.

Confidence is a probability of matching the curator's favourite, fitted on held-out outcomes:
for rule 1 an isotonic map of the votes' confidence or a logistic curve of the model's margin
(photos held out a fifth at a time), for rule 2 a logistic curve of the margin (scenes held out),
and for the most-liked set its measured hit rate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from prismarec.db.store import CuratedRender, params_hash
from prismarec.renderer.painting import describe
from prismarec.renderer.params import RenderParams
from sklearn.isotonic import IsotonicRegression

from .ranking import MIN_SIMILARITY, SAME_PHOTO, Candidate, confidence, diverse, most_liked, rank, turned_down
from .taste import SCENE_SIMILARITY, Library, Platt, TasteModel, TastePhoto

NEIGHBOURS = 10
# What a photo gets before any curator liked anything: a painting filter, no dream — coherent
# art that keeps the subject (chosen by eye on skimage's photos; the book's defaults, a rainbow
# dream over the whole photo, are one sweep away).
HOUSE_LOOK = RenderParams(style="painting", painting="4+10", style_strength=0.9, layer=None)
FOLDS = 5


@dataclass
class Choice:
    keys: list[str]  # parameter-set hashes, best first
    styles: dict[str, RenderParams]
    confidence: float
    fallback: bool  # no similar curated photo decided
    source: str  # neighbours | taste model | most-liked set | house look
    reason: str
    ranked: list[Candidate] = field(default_factory=list)  # the neighbour ranking, for the explanation
    guide_id: int | None = None  # where the votes did not decide: the guide the first set was liked with


def curated_itself(ranked: list[Candidate]) -> bool:
    """Whether the photo itself (a neighbour at SAME_PHOTO similarity) has a good verdict."""
    return any(sp.similarity >= SAME_PHOTO and sp.weight > 0 for c in ranked for sp in c.support)


def measure_variants(model: TasteModel) -> None:
    """Measure rule 1 on photos held out a fifth at a time (each fold takes photos of many scenes; the
    taste model is refitted without them): the neighbours' votes against the model ranking the
    neighbours' liked sets and the library's. Where the curator's favourites follow the scene the
    votes do as well; where they follow the photo's look the model does better. Keep whichever
    matched the favourite more often, and each one's calibration."""
    lib = model.library
    raw, by_votes, margins, by_model = [], [], [], []
    for held in lib.spread([p for p in lib.photo_ids if lib.favourite(p)], FOLDS):
        train = [p for p in lib.photo_ids if p not in held]
        ranker = model.held_out_ranker(train, held) if model.worth_it else None
        liked = lib.liked(train)
        for pid in held:
            sims = sorted(((p, float(lib.vectors[p] @ lib.vectors[pid])) for p in train), key=lambda kv: -kv[1])
            near = sims[:NEIGHBOURS]
            if not near or (ranker is not None and near[0][1] < SCENE_SIMILARITY):
                continue  # rule 2 decides there
            ranked = rank(near, [r for p, _ in near for r in lib.rows[p]])
            picks = diverse(ranked, NEIGHBOURS)
            if not picks:
                continue
            raw.append(confidence(picks[0], ranked))
            by_votes.append(params_hash(picks[0].params) == lib.favourite(pid))
            if ranker is not None:
                scored = ranker(pid, list(dict.fromkeys([params_hash(c.params) for c in picks] + liked)))
                margins.append(scored.margin)
                by_model.append(scored.keys[0] == lib.favourite(pid))
    model.votes_rate = float(np.mean(by_votes)) if by_votes else 0.0
    model.variant_rate = float(np.mean(by_model)) if by_model else 0.0
    model.ranks_variants = bool(by_model) and model.variant_rate > model.votes_rate
    model.votes = (IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, by_votes)
                   if len(set(by_votes)) > 1 else None)
    model.variant_calibration = Platt.fit(margins, by_model) if by_model else None


def learn(lib: Library, rows: list[CuratedRender] | None = None, ahead: Sequence[int] = ()) -> TasteModel:
    """The taste model of a library, with the calibration of rule 1 and the most-liked set of `rows`
    (default: the library's verdicts). `ahead`: photos it will be asked about, classified in one batch."""
    model = TasteModel(lib).fit()
    measure_variants(model)
    if model.model is not None:
        model.model.expect(lib, list(ahead))
    model.most_liked_set = most_liked(rows if rows is not None else [r for p in lib.photo_ids for r in lib.rows[p]])
    return model


def choose(hits: list[tuple[int, float]], rows: list[CuratedRender],
           every_row: Callable[[], list[CuratedRender]], model: Callable[[], TasteModel | None],
           photo: TastePhoto | None, *, k: int = 5, min_similarity: float = MIN_SIMILARITY,
           whose: str = "the curators'") -> Choice:
    """Decide for one photo. `hits`: (photo id, similarity) of curated neighbours; `rows`: their
    verdicts; `every_row` (all verdicts that count, for the most-liked set) is asked for only
    when needed; `model` gives the taste model (learnt once per set of verdicts)."""
    ranked = rank(hits, rows, min_similarity)
    picks = diverse(ranked, k)
    closest = max((sim for _, sim in hits), default=0.0)
    learned = model()
    trusted = learned is not None and learned.worth_it and photo is not None  # a taste model worth using
    if trusted and closest < SCENE_SIMILARITY:
        picks = []  # another scene's votes: the taste model decides below
    vetoed = turned_down(hits, rows)
    if picks and trusted and learned.ranks_variants and not curated_itself(ranked):
        scored = learned.rank(photo, vetoed, [params_hash(c.params) for c in picks], learned.variant_calibration)
        if scored.keys:
            styles = {key: learned.library.styles[key] for key in scored.keys[: k + 1]}
            return Choice(list(styles), styles, scored.confidence, False, "taste model",
                          f"curated photos of this scene and {whose} taste model decided: it ranked the sets they "
                          f"and others liked for this photo's look (right on {learned.variant_rate:.0%} of held-out "
                          f"re-photographs, the neighbours' votes on {learned.votes_rate:.0%})", ranked,
                          learned.library.guide_of(scored.keys[0]))
    if picks:
        raw = confidence(picks[0], ranked)
        votes = learned.votes if learned is not None else None
        conf = float(votes.predict([raw])[0]) if votes is not None else raw
        styles = {params_hash(c.params): c.params for c in picks}
        return Choice(list(styles), styles, conf, False, "neighbours", "similar curated photos liked it", ranked)
    if not hits:
        why = f"no photo has {whose} verdicts yet"
    elif closest < min_similarity:
        why = f"no curated photo is similar enough (closest {closest:.2f} < {min_similarity})"
    elif closest < SCENE_SIMILARITY:
        why = f"no curated photo of the same scene (closest {closest:.2f} < {SCENE_SIMILARITY})"
    elif any(sp.weight > 0 for c in ranked for sp in c.support):
        why = "every set liked on similar photos was turned down on this one"
    else:
        why = "no similar photo has a render curators marked good"
    if vetoed:
        why += f" (leaving out {len(vetoed)} set{'s' if len(vetoed) > 1 else ''} turned down on this photo)"
    scored = learned.rank(photo, exclude=vetoed) if trusted else None
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
    key = params_hash(HOUSE_LOOK)
    nothing = "nothing else is liked" if vetoed else "nothing is liked yet"
    return Choice([key], {key: HOUSE_LOOK}, 0.0, True, "house look",
                  f"{why}; {nothing}, so a painting filter that keeps the subject ({describe(HOUSE_LOOK.painting)})",
                  ranked)
