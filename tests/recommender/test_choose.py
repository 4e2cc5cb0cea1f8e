"""The decision rules of `recommender.choose`, one by one, on hand-made verdicts."""

from types import SimpleNamespace

from prismarec.db.store import CuratedRender, params_hash
from prismarec.recommender.choose import (
    HOUSE_LOOK,
    Decision,
    choose,
    explain,
    house_look,
    most_liked_set,
    neighbours,
    taste_on_a_new_scene,
    taste_on_this_scene,
)
from prismarec.recommender.taste import Platt, TasteModel, Variants, rate_uncertainty
from prismarec.renderer.params import RenderParams

LIKED, OTHER, THIRD = RenderParams(n2=40), RenderParams(n2=12), RenderParams(n1=9)


def good(photo_id: int, params: RenderParams, render_id: int, score: int = 5) -> CuratedRender:
    return CuratedRender(photo_id, render_id, None, params, "good", score, "ann")


def bad(photo_id: int, params: RenderParams, render_id: int) -> CuratedRender:
    return CuratedRender(photo_id, render_id, None, params, "bad", 1, "ann")


def model(worth_it: bool = True, ranks_variants: bool = True, answer: RenderParams = THIRD) -> SimpleNamespace:
    """A taste model that always ranks `answer` first (what the rules ask of one, nothing more)."""
    styles = {params_hash(p): p for p in (LIKED, OTHER, THIRD)}
    scored = SimpleNamespace(keys=[params_hash(answer)], confidence=0.7)
    variants = Variants(0.9 if ranks_variants else 0.7, 0.8, None, Platt(1.0, 0.0))
    return SimpleNamespace(worth_it=worth_it, variants=variants, accuracy=0.6, most_liked_rate=0.4, model=object(),
                           most_liked_set=OTHER, rank=lambda *args, **kwargs: scored,
                           library=SimpleNamespace(styles=styles, guide_of=lambda key: None))


def decision(hits, rows, learned=None, photo=object()) -> Decision:
    return Decision(hits, rows, lambda: rows, learned, photo)


def test_the_first_rule_that_answers_decides():
    rows = [good(1, LIKED, 1)]
    assert choose([(1, 0.9)], rows, lambda: rows, lambda: model(), object()).source == "taste model"
    assert choose([(1, 0.9)], rows, lambda: rows, lambda: None, object()).source == "neighbours"
    assert choose([(1, 0.3)], rows, lambda: rows, lambda: None, object()).source == "most-liked set"


def test_neighbours_of_the_same_scene_decide_by_their_votes():
    d = decision([(1, 0.95), (2, 0.9)], [good(1, LIKED, 1), good(2, LIKED, 2, 4), good(2, OTHER, 3, 3)])
    choice = neighbours(d)
    assert choice.styles[choice.keys[0]] == LIKED and choice.source == "neighbours" and not choice.fallback
    assert 0 < choice.confidence <= 1
    assert neighbours(decision([], [])) is None


def test_the_taste_model_ranks_a_scenes_sets_when_it_beat_the_votes_on_re_photographs():
    rows = [good(1, LIKED, 1)]
    choice = taste_on_this_scene(decision([(1, 0.9)], rows, model()))
    assert choice.styles[choice.keys[0]] == THIRD and choice.source == "taste model" and not choice.fallback
    assert "90% of held-out re-photographs" in choice.reason
    assert taste_on_this_scene(decision([(1, 0.9)], rows, model(ranks_variants=False))) is None
    assert taste_on_this_scene(decision([(1, 0.9)], rows, model(), photo=None)) is None
    itself = [good(1, LIKED, 1)]
    assert taste_on_this_scene(decision([(1, 1.0)], itself, model())) is None  # a photo curated itself keeps its own


def test_on_a_new_scene_the_taste_model_chooses_and_says_why_the_neighbours_did_not():
    d = decision([(1, 0.3)], [good(1, LIKED, 1)], model())
    assert d.picks == []  # merely similar photos do not vote when a model worth using is there
    choice = taste_on_a_new_scene(d)
    assert choice.fallback and choice.source == "taste model" and "not similar enough" not in choice.reason
    assert choice.reason.startswith("no curated photo") and "60% of unseen scenes" in choice.reason
    assert taste_on_a_new_scene(decision([(1, 0.3)], [good(1, LIKED, 1)], model(worth_it=False))) is None


def test_the_taste_model_is_used_unless_the_most_liked_set_was_clearly_better_on_held_out_scenes():
    learnt = TasteModel(library=None)
    learnt.accuracy = learnt.most_liked_rate = 0.6
    assert not learnt.worth_it  # nothing fitted
    learnt.model, learnt.rate_error = object(), rate_uncertainty(photos=160, scenes=20)  # ±0.056
    assert learnt.worth_it  # a tie: the model has more to learn from at use than in its check
    learnt.accuracy = 0.55
    assert learnt.worth_it  # within chance of the most-liked set
    learnt.accuracy = 0.5
    assert not learnt.worth_it
    assert rate_uncertainty(photos=160, scenes=4) > 0.12  # few scenes: a wide margin


def test_the_most_liked_set_steps_aside_where_this_photo_turned_it_down():
    rows = [good(1, OTHER, 1), good(2, OTHER, 2), good(3, LIKED, 3)]
    assert most_liked_set(decision([], rows)).styles.popitem()[1] == OTHER
    here = rows + [bad(9, OTHER, 4)]
    choice = most_liked_set(decision([(9, 1.0)], here))  # photo 9 is this photo
    assert choice.styles[choice.keys[0]] == LIKED and choice.confidence == 0.0  # the runner-up, rate unmeasured
    assert "turned down on this photo" in choice.reason
    assert most_liked_set(decision([], [])) is None


def test_with_nothing_liked_the_house_look():
    choice = house_look(decision([], []))
    assert choice.styles[choice.keys[0]] == HOUSE_LOOK and choice.confidence == 0.0
    assert choice.reason.startswith("no photo has the curators' verdicts yet; nothing is liked yet")
    assert choose([], [], lambda: [], lambda: None, None).source == "house look"


def test_the_explanation_says_what_decided():
    rows = [good(1, LIKED, 1), good(2, LIKED, 2, 4), good(2, OTHER, 3, 3)]
    said = explain(neighbours(decision([(1, 0.95), (2, 0.9)], rows)))
    assert said.startswith("similar curated photos liked it; chosen set scored")
    assert "photo 1 (similarity 0.950), render 1: good 5/5 by ann" in said and "runner-up set scored" in said
    assert explain(house_look(decision([], []))).startswith("fell back to the house look: no photo has")
