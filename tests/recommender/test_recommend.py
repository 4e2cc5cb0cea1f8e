import numpy as np
import pytest
from PIL import Image

from prismarec.db import Database
from prismarec.db.models import Guide
from prismarec.db.store import CuratedRender, params_hash
from prismarec.indexer.catalog import Catalog
from prismarec.recommender.choose import HOUSE_LOOK
from prismarec.recommender.evaluate import evaluate
from prismarec.recommender.ranking import best_per_photo, rank, style_of
from prismarec.recommender.recommend import recommend
from prismarec.renderer.params import RenderParams
from prismarec.scripts.make_demo_curation import build
from prismarec.studio.recording import render_and_record


@pytest.fixture(scope="module")
def curation(tmp_path_factory):
    home = tmp_path_factory.mktemp("curated-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PRISMAREC_HOME", str(home))
        catalog = build(size=64, count=3, names=("coffee", "rocket", "chelsea", "astronaut"),
                        backbone="efficientnet-lite0", quiet=True)
    return catalog


def test_empty_index_falls_back_to_the_house_look_and_says_so(tmp_path, net, photos):
    catalog = Catalog(Database(f"sqlite:///{tmp_path / 'e.db'}"), net, tmp_path / "idx")
    path = tmp_path / "q.png"
    Image.fromarray(photos["coffee"]).save(path)
    rec = recommend(catalog, str(path))
    assert rec.fallback and rec.params == HOUSE_LOOK and rec.confidence == 0.0
    assert rec.source == "house look" and "fell back" in rec.explanation and "painting filter" in rec.explanation


def test_crop_of_curated_photo_gets_its_good_parameters(curation, tmp_path, photos):
    crop = photos["rocket"][40:400, 60:560]
    path = tmp_path / "rocket-crop.png"
    Image.fromarray(crop).save(path)
    rec = recommend(curation, str(path), k=3)
    assert not rec.fallback and rec.confidence > 0.2
    nearest = rec.neighbours[0]
    assert "rocket" in nearest.path
    good_on_nearest = {v["render_id"] for v in nearest.verdicts if v["verdict"] == "good"}
    assert good_on_nearest
    from prismarec.db.models import Render

    with curation.db.session() as s:
        good_params = {style_of(RenderParams.from_json(s.get(Render, r).params)) for r in good_on_nearest}
    assert rec.params in good_params
    assert "good" in rec.explanation and all(a != rec.params for a in rec.alternatives)


def test_bad_verdicts_count_against_a_set():
    a, b = RenderParams(), RenderParams(n1=9)
    rows = [CuratedRender(1, 10, None, a, "good", 5, "x"), CuratedRender(2, 11, None, a, "bad", 1, "x"),
            CuratedRender(2, 12, None, b, "good", 3, "x")]
    ranked = rank([(1, 0.5), (2, 0.9)], rows)
    assert ranked[0].params == b  # a's close bad verdict outweighs its distant good one
    assert ranked[1].total < 0
    assert best_per_photo(rows) == {1: a, 2: b}


@pytest.mark.slow
def test_evaluation_reports_both_protocols_against_the_baselines(curation):
    report = evaluate(curation.db, curation.net, size=48)
    assert set(report.protocols) == {"photo", "scene"}
    for rep in report.protocols.values():
        assert rep.photos == 12 and rep.scenes == 4
        assert set(rep.scores) == {"recommend", "knn", "1-nn", "most-liked", "default", "random"}
        assert all(0 <= sc.top1 <= sc.top3 <= 1 for sc in rep.scores.values())
        assert rep.scores["default"].delta_e > 0 and sum(b["n"] for b in rep.reliability) == 12
        gaps = [abs(b["confidence"] - b["accuracy"]) for b in rep.reliability]
        assert min(gaps) <= rep.calibration_error <= max(gaps)  # a weighted mean of the bins' gaps
    photo = report.protocols["photo"].scores
    assert photo["recommend"].top1 > photo["random"].top1  # crops of a curated scene share its taste
    assert photo["recommend"].delta_e < photo["default"].delta_e
    assert report.protocols["scene"].fallback_share == 1.0  # a held-out scene has no similar curated photo


def test_unrelated_photo_falls_back_to_the_most_liked_set_instead_of_copying_a_stranger(curation, tmp_path):
    import skimage.data

    from prismarec.db.store import curated
    from prismarec.recommender.ranking import most_liked

    path = tmp_path / "coins.png"
    Image.fromarray(skimage.data.coins()).convert("RGB").save(path)
    rec = recommend(curation, str(path))
    with curation.db.session() as s:
        liked = most_liked(curated(s))
    assert rec.fallback and rec.source in ("taste model", "most-liked set") and "similar enough" in rec.explanation
    assert rec.params == liked if rec.source == "most-liked set" else rec.params != RenderParams()
    assert rec.neighbours  # the neighbours are still shown
    with curation.db.session() as s:  # the set comes with the guide it was liked with (the curation's only one)
        assert rec.guide_id == s.query(Guide).one().id


def test_a_bad_verdict_on_the_recommended_style_changes_the_next_recommendation(curation, tmp_path, photos):
    from prismarec.db.store import tag

    path = tmp_path / "rocket-crop-2.png"
    Image.fromarray(photos["rocket"][30:410, 20:600]).save(path)
    first = recommend(curation, str(path))
    photo = curation.register(path)
    render_id, _ = render_and_record(curation, photo, first.params.replace(size=48), tmp_path / "r.png")
    with curation.db.session() as s:
        tag(s, render_id, "simulated", "bad", 1)
    assert recommend(curation, str(path)).params != first.params


@pytest.mark.parametrize("for_dark, for_bright", [
    (RenderParams(enhance="Brightness"), RenderParams(enhance="Contrast")),
    (RenderParams(step_size=3.0, iter_n=20), RenderParams(step_size=0.5)),  # differ only in the dream's strength
], ids=["enhancement", "dream strength"])
def test_taste_model_carries_a_rule_about_the_look_to_unseen_photos(net, for_dark, for_bright):
    """A curator who wants one set for dark photos and another for bright ones: the model, fitted
    on some real photos, applies the rule to photos it has never seen."""
    import skimage.data

    from prismarec.indexer.embed import embed
    from prismarec.recommender.taste import Library, TasteModel, TastePhoto, small
    from prismarec.recommender.traits import photo_traits

    names = ["astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "camera",
             "coins", "moon", "page", "clock", "brick", "grass", "gravel", "cell", "text", "colorwheel", "retina"]
    images = {i: np.asarray(Image.fromarray(getattr(skimage.data, n)()).convert("RGB")) for i, n in enumerate(names, 1)}
    vectors = dict(zip(images, embed(list(images.values()), net), strict=True))
    luma = {i: photo_traits(small(img))[0] for i, img in images.items()}
    threshold = float(np.median(list(luma.values())))
    rows = []
    for i in images:
        liked, disliked = (for_dark, for_bright) if luma[i] < threshold else (for_bright, for_dark)
        rows += [CuratedRender(i, 2 * i, None, liked, "good", 5, "c"),
                 CuratedRender(i, 2 * i + 1, None, disliked, "bad", 1, "c")]
    train = [i for i in images if i % 3]
    model = TasteModel(Library.build({i: images[i] for i in train}, vectors, [r for r in rows if r.photo_id in train]))
    model.fit()
    assert model.worth_it and model.accuracy > 0.7
    # unseen photos whose tone is clearly on one side (no training photo says where between 0.41 and 0.45
    # the curator's line lies)
    unseen = [i for i in images if i not in train and abs(luma[i] - threshold) > 0.03]
    assert len(unseen) >= 3
    for i in unseen:
        wanted = for_dark if luma[i] < threshold else for_bright
        assert model.rank(TastePhoto.of(images[i], vectors[i])).keys[0] == params_hash(wanted)


def test_a_neighbours_favourite_beats_everyones_runner_up():
    x, y = RenderParams(), RenderParams(n1=9)
    rows = [CuratedRender(1, 10, None, x, "good", 5, "a"), CuratedRender(1, 11, None, y, "good", 4, "a"),
            CuratedRender(2, 12, None, x, "good", 5, "a"), CuratedRender(2, 13, None, y, "good", 4, "a"),
            CuratedRender(3, 14, None, y, "good", 5, "a")]
    ranked = rank([(1, 0.9), (2, 0.9), (3, 0.9)], rows)
    assert ranked[0].params == x  # two favourites beat one favourite plus two second places


def test_uncurated_look_alikes_do_not_push_curated_neighbours_out(tmp_path, net, photos):
    from prismarec.db.store import tag

    catalog = Catalog(Database(f"sqlite:///{tmp_path / 'c.db'}"), net, tmp_path / "idx")
    coffee = photos["coffee"]
    for i in range(12):  # near-duplicates, never curated
        path = tmp_path / f"dup{i}.png"
        Image.fromarray(coffee[i:400 + i, i:600 + i]).save(path)
        catalog.register(path)
    far = tmp_path / "curated.png"
    Image.fromarray(coffee[60:360, 100:560]).save(far)
    liked = RenderParams(n2=44, layer=None, size=64)
    render_id, _ = render_and_record(catalog, catalog.register(far), liked, tmp_path / "r.png")
    with catalog.db.session() as s:
        tag(s, render_id, "ann", "good", 5)
    query = tmp_path / "query.png"
    Image.fromarray(coffee[5:405, 5:605]).save(query)
    rec = recommend(catalog, str(query))
    assert not rec.fallback and rec.params.n2 == 44
    assert [n.photo_id for n in rec.neighbours] == [1 + 12]  # only the curated photo is a neighbour


def test_each_curator_gets_their_own_taste(tmp_path, net, photos):
    from prismarec.db.store import tag

    catalog = Catalog(Database(f"sqlite:///{tmp_path / 'c.db'}"), net, tmp_path / "idx")
    path = tmp_path / "rocket.png"
    Image.fromarray(photos["rocket"]).save(path)
    photo = catalog.register(path)
    ids = {}
    for n2 in (11, 55):
        params = RenderParams(n2=n2, layer=None, size=64)
        ids[n2], _ = render_and_record(catalog, photo, params, tmp_path / f"r{n2}.png")
    with catalog.db.session() as s:
        tag(s, ids[11], "ann", "good", 5), tag(s, ids[55], "ann", "bad", 1)
        tag(s, ids[55], "bob", "good", 5), tag(s, ids[11], "bob", "bad", 1)
    assert recommend(catalog, str(path), curator="ann").params.n2 == 11
    assert recommend(catalog, str(path), curator="bob").params.n2 == 55
    with pytest.raises(ValueError, match="no curator named 'zoe'"):
        recommend(catalog, str(path), curator="zoe")


def test_suggestions_are_new_scenes_first_and_spread_out(curation, tmp_path, photos):
    import skimage.data

    from prismarec.recommender.suggest import suggest

    coins = np.asarray(Image.fromarray(skimage.data.coins()).convert("RGB"))
    moon = np.asarray(Image.fromarray(skimage.data.moon()).convert("RGB"))
    files = {"coins-a": coins[:280, :360], "coins-b": coins[20:, 20:], "moon": moon,
             "rocket-again": photos["rocket"][10:420, 10:630]}
    ids = {}
    for name, img in files.items():
        Image.fromarray(img).save(tmp_path / f"{name}.png")
        ids[curation.register(tmp_path / f"{name}.png").id] = name
    picks = [p for p in suggest(curation, n=50) if p.photo_id in ids]  # other tests register photos too
    names = [ids[p.photo_id] for p in picks]
    nearest = {ids[p.photo_id]: p.nearest_curated for p in picks}
    assert names[0] != "rocket-again" and {names[0], names[1]} != {"coins-a", "coins-b"}  # new scenes, spread out
    assert nearest["rocket-again"] > 0.6 and max(v for n, v in nearest.items() if n != "rocket-again") < 0.6


def test_a_darker_exposure_of_a_curated_scene_gets_what_the_curator_likes_on_dark_photos(net):
    """A curator who wants one set on dark photos and another on bright ones curated most scenes in
    both exposures, some in the bright one only. A dark exposure of those is a re-photograph whose
    neighbour liked the other set: the taste model, which knew better on held-out photos, decides.
    A photo curated itself keeps its own favourite."""
    import skimage.data
    from PIL import ImageEnhance

    from prismarec.indexer.embed import embed
    from prismarec.recommender.choose import choose, learn
    from prismarec.recommender.taste import Library, TastePhoto, small
    from prismarec.recommender.traits import photo_traits

    for_dark, for_bright = RenderParams(enhance="Brightness"), RenderParams(enhance="Contrast")
    names = ["astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "camera",
             "coins", "moon", "page", "clock", "brick", "grass", "gravel", "cell", "text", "colorwheel", "retina"]
    images = {}
    for n, name in enumerate(names):
        photo = Image.fromarray(getattr(skimage.data, name)()).convert("RGB")
        photo.thumbnail((320, 320))
        images[2 * n + 1] = np.asarray(ImageEnhance.Brightness(photo).enhance(1.3))
        images[2 * n + 2] = np.asarray(ImageEnhance.Brightness(photo).enhance(0.45))
    vectors = dict(zip(images, embed(list(images.values()), net), strict=True))
    luma = {i: photo_traits(small(img))[0] for i, img in images.items()}
    threshold = float(np.median(list(luma.values())))
    new = [2 * n + 2 for n in range(0, len(names), 3)]  # dark exposures of every third scene: not curated
    rows = []
    for i in images:
        if i not in new:
            liked, disliked = (for_dark, for_bright) if luma[i] < threshold else (for_bright, for_dark)
            rows += [CuratedRender(i, 2 * i, None, liked, "good", 5, "c"),
                     CuratedRender(i, 2 * i + 1, None, disliked, "bad", 1, "c")]
    model = learn(Library.build({i: img for i, img in images.items() if i not in new}, vectors, rows))
    assert model.worth_it and model.variants.model_decides and model.variants.model_rate > model.variants.votes_rate

    def choice_for(i: int):
        sims = sorted(((p, float(vectors[p] @ vectors[i])) for p in model.library.photo_ids), key=lambda kv: -kv[1])
        near = sims[:10]
        return choose(near, [r for r in rows if r.photo_id in dict(near)], lambda: rows, lambda: model,
                      TastePhoto.of(images[i], vectors[i]))

    # dark exposures whose bright twin was liked with the other set
    turned = [i for i in new if luma[i] < threshold - 0.03 and luma[i - 1] > threshold + 0.03]
    assert len(turned) >= 2
    for i in turned:
        choice = choice_for(i)
        assert not choice.fallback and choice.source == "taste model"
        assert choice.ranked[0].params == for_bright  # the neighbours' votes say otherwise
        assert choice.keys[0] == params_hash(for_dark) and 0 < choice.confidence < 1
    itself = next(i for i in images if i not in new and luma[i] < threshold)
    assert choice_for(itself).source == "neighbours"


def test_a_photos_grades_put_untagged_renders_between_good_and_bad(photos):
    from prismarec.recommender.taste import Library

    fav, good, seen, bad = (RenderParams(n1=n) for n in (3, 5, 7, 9))
    rows = [CuratedRender(1, 1, None, fav, "good", 5, "a"), CuratedRender(1, 2, None, good, "good", 4, "a"),
            CuratedRender(1, 4, None, bad, "bad", 1, "a")]
    lib = Library.build({1: photos["coffee"]}, {1: np.ones(4) / 2}, rows, [(1, seen), (1, fav.replace(size=64))])
    grades = {lib.styles[k].n1: g for k, g in lib.grades(1).items()}
    assert grades == {3: 3, 5: 2, 7: 1, 9: 0}  # the favourite at another size is still tagged


def test_the_warm_curator_boosts_colour_on_warm_photos_only(photos):
    from prismarec.scripts.make_demo_curation import photo_traits, warm_score

    colour, plain = RenderParams(enhance="Color"), RenderParams(enhance=None)
    coffee, rocket = photo_traits(photos["coffee"]), photo_traits(photos["rocket"])
    assert coffee["warmth"] > 0.05 > rocket["warmth"]  # a brown cup; a grey-blue sky
    assert warm_score(coffee, colour, 0.35) > warm_score(coffee, plain, 0.35)
    assert warm_score(rocket, colour, 0.65) < warm_score(rocket, plain, 0.65)


def test_learning_again_reuses_thumbnails_and_what_each_set_does_to_each_photo(curation, monkeypatch):
    from prismarec.recommender import recommend as recommending
    from prismarec.recommender import taste

    computed = []
    real = taste.outcome
    monkeypatch.setattr(taste, "outcome", lambda image, params: computed.append(params) or real(image, params))
    monkeypatch.setattr(recommending, "_SEEN", {})
    first, _ = recommending._learn(curation, None)
    assert len(computed) == len(first.library.outcomes) > 0
    computed.clear()
    monkeypatch.setattr(recommending, "load_image", lambda path: pytest.fail(f"{path} read again"))
    second, _ = recommending._learn(curation, None)  # as after a verdict: the model is learnt again
    assert computed == [] and second.library.outcomes.keys() == first.library.outcomes.keys()
    assert all(np.array_equal(second.library.images[p], first.library.images[p]) for p in first.library.photo_ids)
    assert all(np.array_equal(second.library.traits[p], first.library.traits[p]) for p in first.library.photo_ids)
    pid, key = next(iter(second.library.outcomes))
    assert np.array_equal(second.library.outcomes[pid, key], real(first.library.images[pid], first.library.styles[key]))


def test_confidence_of_the_taste_model_follows_held_out_outcomes_and_is_never_certain():
    from prismarec.recommender.taste import Platt

    rng = np.random.default_rng(0)
    margins = rng.uniform(0, 2, 400)
    correct = list(rng.random(400) < margins / 2)  # right half the time at margin 1
    curve = Platt.fit(list(margins), correct)
    low, mid, high = curve.predict([0.1, 1.0, 1.9])
    assert low < 0.25 and abs(mid - 0.5) < 0.08 and high > 0.75
    assert Platt.fit([0.5, 1.0], [True, True]).predict([3.0])[0] == pytest.approx(0.75)  # two right: not certain
    assert Platt.fit([0.5] * 48, [True] * 48).predict([3.0])[0] == pytest.approx(0.98)


def test_confidence_of_the_votes_is_the_observed_rate_where_every_held_out_vote_agreed():
    """Isotonic steps need both outcomes; where every held-out vote was right the confidence is
    that rate short of certainty, not the uncalibrated vote share."""
    from prismarec.recommender.taste import Steps

    assert Steps.fit([0.4, 0.6, 0.9], [True] * 3).predict([0.1, 0.5, 0.99]) == pytest.approx([0.8] * 3)
    assert Steps.fit([0.4, 0.6], [False] * 2).predict([0.9])[0] == pytest.approx(0.25)
    mixed = Steps.fit([0.2, 0.4, 0.6, 0.8], [False, False, True, True]).predict([0.1, 0.9])
    assert mixed[0] < 0.5 < mixed[1]


def test_a_set_turned_down_on_a_new_scene_is_not_offered_for_it_again(curation, tmp_path):
    """Neither the taste model nor the most-liked set repeats a set the curator tagged bad on this photo."""
    import skimage.data

    from prismarec.db.store import tag

    path = tmp_path / "gravel.png"
    Image.fromarray(skimage.data.gravel()).convert("RGB").save(path)
    first = recommend(curation, str(path))
    assert first.fallback
    render_id, _ = render_and_record(curation, curation.register(path), first.params.replace(size=48),
                                     tmp_path / "r.png")
    with curation.db.session() as s:
        tag(s, render_id, "simulated", "bad", 1)
    again = recommend(curation, str(path))
    assert again.params != first.params and "turned down" in again.explanation
