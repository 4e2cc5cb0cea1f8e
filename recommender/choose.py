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
2. Otherwise, unless the most-liked set clearly beat the taste model on scenes it was not
   fitted on (`TasteModel.worth_it`), the model scores the liked sets for this photo (`taste`).
3. Otherwise the set most curated photos have as their favourite.
4. With nothing liked at all, the house look (a painting filter that keeps the subject).

The rules are small functions tried in order (`RULES`), each reading one `Decision`.

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

from .ranking import MIN_SIMILARITY, SAME_PHOTO, Candidate, confidence, diverse, most_liked, rank, turned_down
from .taste import SCENE_SIMILARITY, Library, Platt, Steps, TasteModel, TastePhoto, Variants

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

    @property
    def chosen(self) -> Candidate | None:
        """The neighbours' candidate for the chosen set, where they rated it."""
        return next((c for c in self.ranked if params_hash(c.params) == self.keys[0]), None)


def explain(choice: Choice) -> str:
    """What decided, in words: the rule's reason, then — where the neighbours' votes decided — the
    verdicts behind the chosen set and the runner-up's margin."""
    if choice.fallback:
        return f"fell back to the {choice.source}: {choice.reason}"
    best = choice.chosen
    if best is None:
        return choice.reason
    good = [sp for sp in best.support if sp.weight > 0]
    bad = [sp for sp in best.support if sp.weight < 0]
    lines = [f"{choice.reason}; chosen set scored {best.total:.3f} from {len(good)} good and {len(bad)} bad "
             "verdict(s):"]
    lines += [f"  photo {sp.photo_id} (similarity {sp.similarity:.3f}), render {sp.render_id}: {sp.verdict}"
              f"{'' if sp.score is None else f' {sp.score}/5'} by {sp.curator}" for sp in best.support[:8]]
    runner_up = next((c for c in choice.ranked if c is not best), None)
    if runner_up is not None:
        lines.append(f"runner-up set scored {runner_up.total:.3f} (margin {best.total - runner_up.total:.3f})")
    return "\n".join(lines)


def curated_itself(ranked: list[Candidate]) -> bool:
    """Whether the photo itself (a neighbour at SAME_PHOTO similarity) has a good verdict."""
    return any(sp.similarity >= SAME_PHOTO and sp.weight > 0 for c in ranked for sp in c.support)


def measure_variants(model: TasteModel) -> Variants:
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
    return Variants(float(np.mean(by_model)) if by_model else 0.0, float(np.mean(by_votes)) if by_votes else 0.0,
                    Steps.fit(raw, by_votes) if by_votes else None,
                    Platt.fit(margins, by_model) if by_model else None)


def learn(lib: Library, rows: list[CuratedRender] | None = None, ahead: Sequence[int] = ()) -> TasteModel:
    """The taste model of a library, with the calibration of rule 1 and the most-liked set of `rows`
    (default: the library's verdicts). `ahead`: photos it will be asked about, classified in one batch."""
    model = TasteModel(lib).fit()
    model.variants = measure_variants(model)
    if model.model is not None:
        model.model.expect(lib, list(ahead))
    model.most_liked_set = most_liked(rows if rows is not None else [r for p in lib.photo_ids for r in lib.rows[p]])
    return model


@dataclass
class Decision:
    """What one photo's choice is made from; each rule of `RULES` reads it and answers or passes."""

    hits: list[tuple[int, float]]  # (curated photo id, similarity), nearest first
    rows: list[CuratedRender]  # their verdicts
    every_row: Callable[[], list[CuratedRender]]  # all verdicts that count, read only when needed
    learned: TasteModel | None
    photo: TastePhoto | None
    k: int = 5
    min_similarity: float = MIN_SIMILARITY
    whose: str = "the curators'"
    ranked: list[Candidate] = field(init=False)
    picks: list[Candidate] = field(init=False)  # the neighbours' liked sets, diverse, best first
    vetoed: set[str] = field(init=False)  # sets turned down on this very photo

    def __post_init__(self) -> None:
        self.ranked = rank(self.hits, self.rows, self.min_similarity)
        self.picks = diverse(self.ranked, self.k)
        self.vetoed = turned_down(self.hits, self.rows)
        if self.trusted and self.closest < SCENE_SIMILARITY:
            self.picks = []  # another scene's votes: the taste model decides

    @property
    def closest(self) -> float:
        return max((sim for _, sim in self.hits), default=0.0)

    @property
    def trusted(self) -> bool:
        """A taste model worth using, and a photo to use it on."""
        return self.learned is not None and self.learned.worth_it and self.photo is not None

    @property
    def why_not_neighbours(self) -> str:
        """Why no neighbour's vote decided, in words."""
        if not self.hits:
            why = f"no photo has {self.whose} verdicts yet"
        elif self.closest < self.min_similarity:
            why = f"no curated photo is similar enough (closest {self.closest:.2f} < {self.min_similarity})"
        elif self.closest < SCENE_SIMILARITY:
            why = f"no curated photo of the same scene (closest {self.closest:.2f} < {SCENE_SIMILARITY})"
        elif any(sp.weight > 0 for c in self.ranked for sp in c.support):
            why = "every set liked on similar photos was turned down on this one"
        else:
            why = "no similar photo has a render curators marked good"
        n = len(self.vetoed)
        return why + (f" (leaving out {n} set{'s' if n > 1 else ''} turned down on this photo)" if n else "")

    def taste_choice(self, keys: list[str], confidence: float, fallback: bool, reason: str) -> Choice:
        styles = {key: self.learned.library.styles[key] for key in keys[: self.k + 1]}
        return Choice(list(styles), styles, confidence, fallback, "taste model", reason, self.ranked,
                      self.learned.library.guide_of(keys[0]))


def taste_on_this_scene(d: Decision) -> Choice | None:
    """Rule 1, where the taste model beat the votes on held-out re-photographs: it ranks the sets
    the scene's photos and others liked, for this photo's look. A photo curated itself keeps its own."""
    if not (d.picks and d.trusted and d.learned.variants.model_decides and not curated_itself(d.ranked)):
        return None
    variants = d.learned.variants
    scored = d.learned.rank(d.photo, d.vetoed, [params_hash(c.params) for c in d.picks], variants.calibration)
    if not scored.keys:
        return None
    return d.taste_choice(scored.keys, scored.confidence, False,
                          f"curated photos of this scene and {d.whose} taste model decided: it ranked the sets they "
                          f"and others liked for this photo's look (right on {variants.model_rate:.0%} of held-out "
                          f"re-photographs, the neighbours' votes on {variants.votes_rate:.0%})")


def neighbours(d: Decision) -> Choice | None:
    """Rule 1: the similar curated photos' rank-aware votes, calibrated on held-out photos."""
    if not d.picks:
        return None
    raw = confidence(d.picks[0], d.ranked)
    votes = d.learned.variants.votes if d.learned is not None else None
    styles = {params_hash(c.params): c.params for c in d.picks}
    return Choice(list(styles), styles, float(votes.predict([raw])[0]) if votes is not None else raw, False,
                  "neighbours", "similar curated photos liked it", d.ranked)


def taste_on_a_new_scene(d: Decision) -> Choice | None:
    """Rule 2: the taste model, unless the most-liked set clearly beat it on scenes it was not fitted on."""
    scored = d.learned.rank(d.photo, exclude=d.vetoed) if d.trusted else None
    if scored is None or not scored.keys:
        return None
    return d.taste_choice(scored.keys, scored.confidence, True,
                          f"{d.why_not_neighbours}; {d.whose} taste model chose it for this photo's look (right on "
                          f"{d.learned.accuracy:.0%} of unseen scenes, the most-liked set on "
                          f"{d.learned.most_liked_rate:.0%})")


def most_liked_set(d: Decision) -> Choice | None:
    """Rule 3: the set most curated photos have as their favourite (the runner-up where this photo
    turned it down), with its measured hit rate as the confidence."""
    learned = d.learned
    liked = learned.most_liked_set if learned is not None else most_liked(d.every_row())
    rate = learned.most_liked_rate if learned is not None and learned.model is not None else 0.0
    if liked is not None and params_hash(liked) in d.vetoed:
        liked, rate = most_liked(d.every_row(), exclude=d.vetoed), 0.0  # the runner-up's hit rate is unmeasured
    if liked is None:
        return None
    key = params_hash(liked)
    guide = learned.library.guide_of(key) if learned is not None else None
    return Choice([key], {key: liked}, rate, True, "most-liked set",
                  f"{d.why_not_neighbours}; {d.whose} most-liked set", d.ranked, guide)


def house_look(d: Decision) -> Choice:
    """Rule 4: nothing liked at all — the house look, a painting filter that keeps the subject."""
    key = params_hash(HOUSE_LOOK)
    nothing = "nothing else is liked" if d.vetoed else "nothing is liked yet"
    return Choice([key], {key: HOUSE_LOOK}, 0.0, True, "house look",
                  f"{d.why_not_neighbours}; {nothing}, so a painting filter that keeps the subject "
                  f"({describe(HOUSE_LOOK.painting)})", d.ranked)


RULES: tuple[Callable[[Decision], Choice | None], ...] = (taste_on_this_scene, neighbours, taste_on_a_new_scene,
                                                          most_liked_set, house_look)


def choose(hits: list[tuple[int, float]], rows: list[CuratedRender],
           every_row: Callable[[], list[CuratedRender]], model: Callable[[], TasteModel | None],
           photo: TastePhoto | None, *, k: int = 5, min_similarity: float = MIN_SIMILARITY,
           whose: str = "the curators'") -> Choice:
    """Decide for one photo: the first of `RULES` that answers. `hits`: (photo id, similarity) of
    curated neighbours; `rows`: their verdicts; `every_row` (all verdicts that count, for the
    most-liked set) is asked for only when needed; `model` gives the taste model (learnt once per
    set of verdicts)."""
    decision = Decision(hits, rows, every_row, model(), photo, k, min_similarity, whose)
    return next(choice for rule in RULES if (choice := rule(decision)) is not None)
