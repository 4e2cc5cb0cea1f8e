"""Request threads at once: verdicts and recommendations hammered together against one service."""

from concurrent.futures import ThreadPoolExecutor

import prismarec.recommender.recommend as rec
from prismarec.db import Database
from prismarec.db.store import embedding_count
from prismarec.studio.service import Studio


def test_verdicts_and_recommendations_at_once_learn_each_model_once_and_keep_the_index_whole(site, monkeypatch):
    studio = Studio(Database(site["db_url"]), catalog=site["catalog"])
    learnt: list[tuple] = []
    learn = rec._learn

    def counted(catalog, curator):
        model, signature = learn(catalog, curator)
        learnt.append(signature)  # the verdicts it learnt from
        return model, signature

    monkeypatch.setattr(rec, "_learn", counted)
    renders, photos = site["renders"], list(site["photos"].values())

    def work(i: int) -> None:
        if i % 4 == 0:
            studio.tag([renders[i % len(renders)]], "ann", "good" if i % 8 else "bad", 1 + i % 5)
        else:
            assert studio.recommend(photos[i % len(photos)]).params is not None

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(48)))
    assert len(learnt) == len(set(learnt))  # no model learnt twice from the same verdicts
    index = studio.catalog.index
    with studio.db.reading() as s:
        assert len(index) == embedding_count(s, studio.catalog.embedder.name)
    hits = index.search(studio.catalog.photo(photos[0]).embedding, 1)[1]
    assert hits[0][0] == photos[0]
