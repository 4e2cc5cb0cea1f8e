import numpy as np
import pytest
from PIL import Image

from db import Database
from db.store import CuratedRender
from indexer.catalog import Catalog
from recommender import LearnedRecommender, best_per_photo, rank, recommend
from recommender.evaluate import evaluate
from recommender.ranking import style_of
from renderer.params import RenderParams
from scripts.make_demo_curation import build


@pytest.fixture(scope="module")
def curation(tmp_path_factory):
    home = tmp_path_factory.mktemp("curated-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PRISMAREC_HOME", str(home))
        catalog = build(size=64, count=3, names=("coffee", "rocket", "chelsea", "astronaut"),
                        backbone="efficientnet-lite0", quiet=True)
    return catalog


def test_empty_index_falls_back_to_defaults_and_says_so(tmp_path, net, photos):
    catalog = Catalog(Database(f"sqlite:///{tmp_path / 'e.db'}"), net, tmp_path / "idx")
    path = tmp_path / "q.png"
    Image.fromarray(photos["coffee"]).save(path)
    rec = recommend(catalog, str(path))
    assert rec.fallback and rec.params == RenderParams() and rec.confidence == 0.0
    assert "fell back" in rec.explanation


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
    from db.models import Render

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


def test_learned_model_predicts_a_valid_set(curation):
    from db.store import curated, embedding_matrix

    with curation.db.session() as s:
        best = best_per_photo(curated(s))
        ids, _, X = embedding_matrix(s, curation.net.name)
    rows = [i for i, pid in enumerate(ids) if int(pid) in best]
    model = LearnedRecommender().fit(X[rows], [best[int(ids[i])] for i in rows])
    pred = model.predict(X[rows[0]])
    assert isinstance(pred, RenderParams)


def test_knn_beats_global_default_in_render_space(curation):
    report = evaluate(curation.db, curation.net, size=64)
    assert report.photos == 12
    scores = report.scores
    assert scores["knn"].delta_e < scores["default"].delta_e
    assert scores["knn"].delta_e < scores["random"].delta_e
    assert set(scores["knn"].agreement) >= {"mask", "layer", "enhance", "dd"}
    assert all(0 <= v <= 1 for v in scores["knn"].error.values())
    assert [c["curated"] for c in report.curve] == sorted(c["curated"] for c in report.curve)
    assert np.isfinite([c["knn"] for c in report.curve]).all()


def test_unrelated_photo_falls_back_to_the_most_liked_set_instead_of_copying_a_stranger(curation, tmp_path):
    import skimage.data

    from db.store import curated
    from recommender.ranking import most_liked

    path = tmp_path / "coins.png"
    Image.fromarray(skimage.data.coins()).convert("RGB").save(path)
    rec = recommend(curation, str(path))
    with curation.db.session() as s:
        liked = most_liked(curated(s))
    assert rec.fallback and rec.params == liked and liked != RenderParams()
    assert "most-liked set" in rec.explanation and "similar enough" in rec.explanation
    assert rec.neighbours  # the neighbours are still shown


def test_a_neighbours_favourite_beats_everyones_runner_up():
    x, y = RenderParams(), RenderParams(n1=9)
    rows = [CuratedRender(1, 10, None, x, "good", 5, "a"), CuratedRender(1, 11, None, y, "good", 4, "a"),
            CuratedRender(2, 12, None, x, "good", 5, "a"), CuratedRender(2, 13, None, y, "good", 4, "a"),
            CuratedRender(3, 14, None, y, "good", 5, "a")]
    ranked = rank([(1, 0.9), (2, 0.9), (3, 0.9)], rows)
    assert ranked[0].params == x  # two favourites beat one favourite plus two second places


def test_uncurated_look_alikes_do_not_push_curated_neighbours_out(tmp_path, net, photos):
    from db.store import tag

    catalog = Catalog(Database(f"sqlite:///{tmp_path / 'c.db'}"), net, tmp_path / "idx")
    coffee = photos["coffee"]
    for i in range(12):  # near-duplicates, never curated
        path = tmp_path / f"dup{i}.png"
        Image.fromarray(coffee[i:400 + i, i:600 + i]).save(path)
        catalog.register(path)
    far = tmp_path / "curated.png"
    Image.fromarray(coffee[60:360, 100:560]).save(far)
    liked = RenderParams(n2=44, layer=None, size=64)
    render_id, _ = catalog.render(catalog.register(far), liked, tmp_path / "r.png")
    with catalog.db.session() as s:
        tag(s, render_id, "ann", "good", 5)
    query = tmp_path / "query.png"
    Image.fromarray(coffee[5:405, 5:605]).save(query)
    rec = recommend(catalog, str(query))
    assert not rec.fallback and rec.params.n2 == 44
    assert [n.photo_id for n in rec.neighbours] == [1 + 12]  # only the curated photo is a neighbour


def test_each_curator_gets_their_own_taste(tmp_path, net, photos):
    from db.store import tag

    catalog = Catalog(Database(f"sqlite:///{tmp_path / 'c.db'}"), net, tmp_path / "idx")
    path = tmp_path / "rocket.png"
    Image.fromarray(photos["rocket"]).save(path)
    photo = catalog.register(path)
    ids = {}
    for n2 in (11, 55):
        ids[n2], _ = catalog.render(photo, RenderParams(n2=n2, layer=None, size=64), tmp_path / f"r{n2}.png")
    with catalog.db.session() as s:
        tag(s, ids[11], "ann", "good", 5), tag(s, ids[55], "ann", "bad", 1)
        tag(s, ids[55], "bob", "good", 5), tag(s, ids[11], "bob", "bad", 1)
    assert recommend(catalog, str(path), curator="ann").params.n2 == 11
    assert recommend(catalog, str(path), curator="bob").params.n2 == 55
    with pytest.raises(ValueError, match="no curator named 'zoe'"):
        recommend(catalog, str(path), curator="zoe")
