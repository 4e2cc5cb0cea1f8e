import json

import numpy as np
import pytest
from PIL import Image

import prismarec.indexer.vector_index as vi
from prismarec.db import Database
from prismarec.db.store import add_embedding, add_photo
from prismarec.indexer.catalog import Catalog
from prismarec.indexer.embed import embed
from prismarec.indexer.vector_index import IndexMismatchError, VectorIndex


@pytest.fixture
def db(tmp_path):
    return Database(f"sqlite:///{tmp_path / 'i.db'}")


def _add_vectors(db, vectors, start=0):
    with db.session() as s:
        for i, v in enumerate(vectors, start):
            photo, _ = add_photo(s, f"{i:064d}", f"/{i}.png", 1, 1)
            add_embedding(s, photo.id, "test", v)


def _unit(rng, n, d=16):
    x = rng.normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_embeddings_are_unit_vectors_and_crops_stay_close(net, photos):
    crop = photos["chelsea"][20:280, 30:400]
    vecs = embed([photos["chelsea"], crop, photos["rocket"], photos["coffee"]], net, batch_size=3)
    assert vecs.shape == (4, 1280) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, rtol=1e-5)
    sims = vecs @ vecs[0]
    assert sims[1] > 0.8 and sims[1] > sims[2] + 0.2 and sims[1] > sims[3] + 0.2


def test_missing_index_is_built_from_the_database(db, tmp_path):
    rng = np.random.default_rng(0)
    vectors = _unit(rng, 50)
    _add_vectors(db, vectors)
    index = VectorIndex(db, "test", 16, tmp_path / "idx").open()
    assert len(index) == 50 and index.path.exists()
    sims, ids = index.search(vectors[7], 3)
    assert ids[0][0] == 8 and sims[0][0] == pytest.approx(1.0, abs=1e-5)  # photo ids start at 1


def test_crash_between_commit_and_index_update_is_repaired(db, tmp_path):
    rng = np.random.default_rng(1)
    _add_vectors(db, _unit(rng, 10))
    VectorIndex(db, "test", 16, tmp_path / "idx").open()
    extra = _unit(rng, 3)
    _add_vectors(db, extra, start=10)  # committed, index file not updated: a crash at the worst moment
    index = VectorIndex(db, "test", 16, tmp_path / "idx").open()
    assert len(index) == 13
    assert index.search(extra[2], 1)[1][0][0] == 13


def test_diverged_or_corrupt_metadata_triggers_rebuild(db, tmp_path):
    rng = np.random.default_rng(2)
    _add_vectors(db, _unit(rng, 12))
    index = VectorIndex(db, "test", 16, tmp_path / "idx").open()
    index.meta_path.write_text("{not json")
    assert len(VectorIndex(db, "test", 16, tmp_path / "idx").open()) == 12


def test_index_of_another_backbone_or_dimension_is_refused(db, tmp_path):
    rng = np.random.default_rng(3)
    _add_vectors(db, _unit(rng, 5))
    index = VectorIndex(db, "test", 16, tmp_path / "idx").open()
    meta = json.loads(index.meta_path.read_text())
    index.meta_path.write_text(json.dumps({**meta, "backbone": "googlenet", "dim": 1024}))
    with pytest.raises(IndexMismatchError, match="built for googlenet"):
        VectorIndex(db, "test", 16, tmp_path / "idx").open()
    with pytest.raises(IndexMismatchError, match="query is 8-d"):
        index.search(np.ones(8, np.float32), 1)


def test_large_index_switches_to_ivf_with_high_recall_and_notices_removals(db, tmp_path, monkeypatch):
    monkeypatch.setattr(vi, "APPROX_THRESHOLD", 1000)
    monkeypatch.setattr(vi, "CHUNK", 700)  # built and checked in several chunks
    rng = np.random.default_rng(4)
    centers = _unit(rng, 40, 32)
    x = centers[rng.integers(0, 40, 3000)] + rng.normal(0, 0.3, (3000, 32)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    with db.session() as s:
        for i, v in enumerate(x):
            photo, _ = add_photo(s, f"{i:064d}", "/p", 1, 1)
            add_embedding(s, photo.id, "test", v)
    index = VectorIndex(db, "test", 32, tmp_path / "idx").open()
    stats = index.stats()
    assert stats["kind"] == "ivf" and stats["vectors"] == 3000 and stats["nprobe"] > 0
    assert stats["build_seconds"] > 0 and stats["build_peak_mb"] > 0
    assert stats["recall_at_10"] >= 0.9 and stats["factory"].startswith("IVF")  # on queries it was not tuned on
    tuned_on, _ = index._exact_sample(seed=vi.TUNING_SEED)
    held_out, _ = index._exact_sample(seed=vi.HELD_OUT_SEED, between=True)
    assert not (np.abs(held_out @ tuned_on.T) > 0.9999).any()  # no query of one sample is one of the other
    curated = np.arange(1, 3001, 7)
    _, ids = index.search(x[0], 10, among=curated)
    assert set(ids[0]) <= set(curated)
    from prismarec.studio.service import Studio

    Studio(db).delete_photo(5)  # a removal: the next query rebuilds without it
    index.refresh()
    assert len(index) == 2999 and 5 not in index.search(x[4], 10)[1][0]


def test_freshness_is_read_from_the_newest_id_and_a_removal_counter(db, tmp_path):
    from prismarec.db.store import bump, embedding_signature, verdict_signature

    with db.session() as s:
        photo, _ = add_photo(s, "a" * 64, "/p", 1, 1)
        add_embedding(s, photo.id, "test", np.ones(4, np.float32) / 2)
        before, verdicts = embedding_signature(s, "test"), verdict_signature(s)
        bump(s, "verdicts_withdrawn")
        assert embedding_signature(s, "test") == before and verdict_signature(s) != verdicts


def test_ingest_skips_duplicates_and_reports_bad_files(tmp_path, net, photos):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(photos["coffee"]).save(folder / "a.png")
    Image.fromarray(photos["coffee"]).save(folder / "same-bytes.png")
    Image.fromarray(photos["rocket"]).save(folder / "b.jpg")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    catalog = Catalog(Database(f"sqlite:///{tmp_path / 'c.db'}"), net, tmp_path / "idx")
    report = catalog.ingest([folder])
    assert sorted(p.split("/")[-1] for p in report.added) == ["a.png", "b.jpg"]
    assert [p.split("/")[-1] for p in report.skipped] == ["same-bytes.png"]
    assert [p.split("/")[-1] for p, _ in report.failed] == ["broken.jpg"]
    assert len(catalog.index) == 2  # identical bytes are one photo
    again = catalog.ingest([folder])
    assert not again.added and len(again.skipped) == 3


def test_file_cut_short_or_out_of_step_with_its_metadata_is_rebuilt(db, tmp_path):
    rng = np.random.default_rng(6)
    _add_vectors(db, _unit(rng, 9))
    index = VectorIndex(db, "test", 16, tmp_path / "idx").open()
    index.path.write_bytes(index.path.read_bytes()[:100])  # interrupted write
    assert len(VectorIndex(db, "test", 16, tmp_path / "idx").open()) == 9
    meta = json.loads(index.meta_path.read_text())
    index.meta_path.write_text(json.dumps({**meta, "count": 3}))
    assert len(VectorIndex(db, "test", 16, tmp_path / "idx").open()) == 9


def test_large_index_file_is_not_rewritten_for_every_photo(db, tmp_path, monkeypatch):
    monkeypatch.setattr(vi, "ALWAYS_SAVE_BELOW", 10)
    rng = np.random.default_rng(7)
    _add_vectors(db, _unit(rng, 20))
    index = VectorIndex(db, "test", 16, tmp_path / "idx").open()
    written = index.path.stat().st_mtime_ns
    _add_vectors(db, _unit(rng, 1), start=20)
    index.refresh()
    assert len(index) == 21 and index.path.stat().st_mtime_ns == written
    assert len(VectorIndex(db, "test", 16, tmp_path / "idx").open()) == 21  # a fresh process catches up


def _rebuild_many(url: str, folder: str, times: int) -> None:
    index = VectorIndex(Database(url), "test", 16, __import__("pathlib").Path(folder))
    for _ in range(times):
        index.rebuild()


@pytest.mark.slow
def test_processes_saving_one_index_at_once_never_collide(db, tmp_path):
    import multiprocessing as mp

    _add_vectors(db, _unit(np.random.default_rng(3), 40))
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_rebuild_many, args=(db.url, str(tmp_path / "idx"), 25)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    assert len(VectorIndex(db, "test", 16, tmp_path / "idx").open()) == 40
    assert not list((tmp_path / "idx").glob(".part-*"))


def test_temporary_files_of_killed_writers_are_cleaned_up(db, tmp_path):
    import os
    import time

    folder = tmp_path / "idx"
    folder.mkdir()
    stale, fresh = folder / ".part-test-abc.faiss", folder / ".part-test-def.faiss"
    stale.write_bytes(b"half a file"), fresh.write_bytes(b"being written now")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    VectorIndex(db, "test", 16, folder).open()
    assert not stale.exists() and fresh.exists()


def test_opening_a_registered_photo_decodes_once_and_never_hashes(db, net, photos, tmp_path, monkeypatch):
    import os

    import prismarec.indexer.catalog as catalog_module

    path = tmp_path / "chelsea.png"
    Image.fromarray(photos["chelsea"]).save(path)
    cat = Catalog(db, net, tmp_path / "index")
    photo_id = cat.register(path).id
    monkeypatch.setattr(catalog_module, "content_hash", lambda data: pytest.fail("a registered photo was re-hashed"))
    first, again = cat.photo(photo_id), cat.photo(photo_id)
    assert first.image is again.image and np.array_equal(first.image, photos["chelsea"])  # decoded once
    assert first.sha256 and first.embedding is not None and not first.image.flags.writeable
    Image.fromarray(photos["chelsea"][::-1].copy()).save(path)  # the file changes: decoded again
    os.utime(path, ns=(1, 1))
    assert np.array_equal(cat.photo(photo_id).image, photos["chelsea"][::-1])
