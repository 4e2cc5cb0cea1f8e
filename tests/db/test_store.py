import hashlib
import json
import multiprocessing as mp
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, func, select

from prismarec.db import Database, Render, Verdict
from prismarec.db.session import alembic_config
from prismarec.db.store import add_photo, add_render, curated, find_renders, params_hash, tag, untagged
from prismarec.renderer.params import PARAMS_VERSION, RenderParams, at_width


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    """Each test runs on SQLite and on PostgreSQL (a fresh schema per test)."""
    if request.param == "sqlite":
        yield Database(f"sqlite:///{tmp_path / 'p.db'}")
        return
    database = Database(request.getfixturevalue("postgres_url"))
    yield database
    with database.engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    database.close()


def _render(db, sha="a" * 64, params=RenderParams()):
    with db.session() as s:
        photo, _ = add_photo(s, sha, "/x.png", 10, 10)
        return photo.id, add_render(s, photo.id, None, params, "efficientnet-lite0", "/o.png", {"dream": 0.1}).id


def test_schema_is_at_alembic_head(db):
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with db.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head
        if db.is_sqlite:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_same_bytes_are_one_photo(db):
    with db.session() as s:
        a, created_a = add_photo(s, "b" * 64, "/one.png", 5, 5)
        b, created_b = add_photo(s, "b" * 64, "/two.png", 5, 5)
    assert created_a and not created_b and a.id == b.id


def test_later_verdict_replaces_earlier_and_history_is_kept(db):
    _, render_id = _render(db)
    with db.session() as s:
        tag(s, render_id, "ann", "good", 5)
        tag(s, render_id, "ann", "bad", 2, "on second look")
        tag(s, render_id, "bob", "good")
    with db.session() as s:
        rows = {(c.curator, c.verdict, c.score) for c in curated(s)}
        history = s.scalar(select(func.count(Verdict.id)))
    assert rows == {("ann", "bad", 2), ("bob", "good", None)}
    assert history == 3


@pytest.mark.parametrize(("verdict", "score", "message"),
                         [("meh", None, "good or bad"), ("good", 6, "score"), ("good", 0, "score"),
                          ("good", 3.7, "whole number"), ("good", True, "whole number"), ("bad", "5", "whole number")])
def test_bad_verdicts_rejected(db, verdict, score, message):
    _, render_id = _render(db)
    with pytest.raises(ValueError, match=message), db.session() as s:
        tag(s, render_id, "ann", verdict, score)


def test_unknown_render_rejected(db):
    with pytest.raises(ValueError, match="no render with id 99"), db.session() as s:
        tag(s, 99, "ann", "good")


def test_find_render_matches_photo_guide_and_params(db):
    photo_id, render_id = _render(db)
    with db.session() as s:
        assert [r.id for r in find_renders(s, photo_id, None, RenderParams())] == [render_id]
        assert find_renders(s, photo_id, None, RenderParams(n1=3)) == []
        assert find_renders(s, photo_id, 7, RenderParams()) == []


def test_untagged_renders_are_those_without_a_current_verdict_of_the_curator(db):
    photo_id, liked = _render(db)
    with db.session() as s:
        add_render(s, photo_id, None, RenderParams(n1=3), "efficientnet-lite0", "/p.png", {})
        disliked = add_render(s, photo_id, None, RenderParams(n1=5), "efficientnet-lite0", "/q.png", {}).id
        tag(s, liked, "ann", "good", 5)
        tag(s, disliked, "bob", "bad", 1)
    with db.session() as s:
        assert {p.n1 for _, p in untagged(s, [photo_id])} == {3}
        assert {p.n1 for _, p in untagged(s, [photo_id], "ann")} == {3, 5}  # bob's verdict is not ann's
        assert {p.n1 for _, p in untagged(s, [photo_id], "bob")} == {RenderParams().n1, 3}
        assert untagged(s, [photo_id + 1]) == []
        assert all(pid == photo_id for pid, _ in untagged(s, [photo_id]))


def test_params_round_trip_through_the_database(db):
    params = RenderParams(mask="otsu+features", layer=None, rb_rate=0.85, enhance="Color")
    _, render_id = _render(db, params=params)
    with db.session() as s:
        assert RenderParams.from_json(s.get(Render, render_id).params) == params


def _writer(url: str, worker: int, count: int) -> None:
    db = Database(url)
    for i in range(count):
        with db.session() as s:
            photo, _ = add_photo(s, f"{worker:032d}{i:032d}", f"/{worker}-{i}.png", 4, 4)
            render = add_render(s, photo.id, None, RenderParams(seed=i), None, "/o.png", {})
            tag(s, render.id, f"curator{worker}", "good", 4)


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    Database(url).close()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(url, w, 40)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with Database(url).session() as s:
        assert s.scalar(select(func.count(Render.id))) == 80
        assert s.scalar(select(func.count(Verdict.id))) == 80


def test_bad_url_is_a_clear_error():
    with pytest.raises(ValueError, match="not a database URL"):
        Database("not a url")


@contextmanager
def _database_at(url: str, revision: str) -> Iterator[Connection]:
    """A database at an old schema revision holding photo 1, for the caller to fill as that version did."""
    engine = create_engine(url)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        conn.exec_driver_sql("INSERT INTO photos VALUES (1, 'h', '/p.png', 1, 1, '2026-01-01')")
        yield conn
    engine.dispose()


def test_upgrade_from_first_revision_keeps_and_backfills_data(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    with _database_at(url, "0001") as conn:
        conn.exec_driver_sql(
            "INSERT INTO renders (id, photo_id, params, params_hash, output_path, timings, created_at) "
            f"VALUES (1, 1, '{RenderParams(layer='conv2/3x3', mask='stdmean').to_json()}', 'x', '/o.png', '{{}}', "
            "'2026-01-01')")
    with Database(url).session() as s:
        render = s.get(Render, 1)
        assert (render.layer, render.mask) == ("conv2/3x3", "stdmean")


def test_simultaneous_tags_leave_one_current_verdict_per_curator(db):
    """Threads race to create the same curator and re-tag the same render; on PostgreSQL the
    transactions truly overlap. Nothing fails and each curator has exactly one current verdict."""
    from concurrent.futures import ThreadPoolExecutor

    _, render_id = _render(db)

    def work(i: int) -> None:
        with db.session() as s:
            tag(s, render_id, f"racer{i % 3}", "good" if i % 2 else "bad", 1 + i % 5)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(120)))
    with db.session() as s:
        current = s.execute(select(Verdict.curator_id, func.count()).where(Verdict.current.is_(True))
                            .group_by(Verdict.curator_id)).all()
        assert s.scalar(select(func.count(Verdict.id))) == 120
    assert sorted(n for _, n in current) == [1, 1, 1]


def test_a_database_with_values_todays_rules_reject_upgrades_and_loads(tmp_path):
    """Rows written at revision 0002 (conv layers then dreamt after ReLU; values out of today's
    ranges, an unknown key; two current verdicts from a race) upgrade without losing anything."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    stored = {**RenderParams().to_dict(), "convd_big_factor": 50.0, "n3": 9000, "all_mask": True}
    del stored["post_relu"]
    with _database_at(url, "0002") as conn:
        conn.exec_driver_sql("INSERT INTO curators (id, name, created_at) VALUES (1, 'ann', '2026-01-01')")
        conn.exec_driver_sql(
            "INSERT INTO renders (id, photo_id, params, params_hash, output_path, timings, created_at, layer, mask) "
            "VALUES (1, 1, ?, 'x', '/o.png', '{}', '2026-01-01', 'conv2/3x3_reduce', 'otsu')", (json.dumps(stored),))
        for vid, verdict in ((1, "bad"), (2, "good")):
            conn.exec_driver_sql("INSERT INTO verdicts (id, render_id, curator_id, verdict, score, current, created_at)"
                                 " VALUES (?, 1, 1, ?, 4, 1, '2026-01-01')", (vid, verdict))
    db = Database(url)
    with db.session() as s:
        [row] = curated(s)
        render = s.get(Render, 1)
        assert row.verdict == "good"  # the newest of the raced verdicts stays current
        assert (row.params.convd_big_factor, row.params.n3, row.params.post_relu) == (20.0, 4096, True)
        assert render.params_version == PARAMS_VERSION and json.loads(render.params_original) == stored
        assert RenderParams.from_json(render.params) == row.params
        assert s.scalar(select(func.count(Verdict.id))) == 2


def test_renders_stored_before_the_style_stage_are_found_again_after_the_upgrade(tmp_path):
    """A version-2 row (no style fields) gets today's text and hash, so a resumed sweep finds it."""
    url = f"sqlite:///{tmp_path / 'v2.db'}"
    stored = {k: v for k, v in RenderParams(n2=40, size=480).to_dict().items() if not k.startswith("style")}
    text = json.dumps(stored, sort_keys=True)
    with _database_at(url, "0003") as conn:
        conn.exec_driver_sql(
            "INSERT INTO renders (id, photo_id, params, params_version, params_hash, output_path, timings, created_at,"
            " layer, mask) VALUES (1, 1, ?, 2, ?, '/o.png', '{}', '2026-01-01', 'conv2/3x3_reduce', 'otsu')",
            (text, hashlib.sha256(text.encode()).hexdigest()))
    with Database(url).session() as s:
        render = s.get(Render, 1)
        assert render.params_version == PARAMS_VERSION and render.style_model is None
        assert RenderParams.from_json(render.params) == RenderParams(n2=40, size=480)
        assert [r.id for r in find_renders(s, 1, None, RenderParams(n2=40, size=480))] == [1]


def test_a_set_stored_at_another_width_keeps_its_windows_in_pixels_after_the_upgrade(tmp_path):
    """Version-4 windows were pixels of the render's own width: at 128 px, n1=5 and n2=28 are
    restated at 480 px (19 and 105), which scale back to 5 and 28 at 128 px."""
    url = f"sqlite:///{tmp_path / 'v4.db'}"
    text = json.dumps(RenderParams(n1=5, n2=28, jitter=8).to_dict() | {"size": 128}, sort_keys=True)
    with _database_at(url, "0007") as conn:
        conn.exec_driver_sql(
            "INSERT INTO renders (id, photo_id, params, params_version, params_hash, output_path, timings, created_at,"
            " layer, mask) VALUES (1, 1, ?, 4, ?, '/o.png', '{}', '2026-01-01', 'conv2/3x3_reduce', 'otsu')",
            (text, hashlib.sha256(text.encode()).hexdigest()))
    with Database(url).session() as s:
        render = s.get(Render, 1)
        params = RenderParams.from_json(render.params)
        assert render.params_version == PARAMS_VERSION and render.params_original is None
        assert (params.n1, params.n2, params.jitter, params.size) == (19, 105, 30, 128)
        work = at_width(params, 128)
        assert (work.n1, work.n2, work.jitter) == (5, 28, 8)


def test_a_sets_hash_covers_only_what_differs_from_the_defaults():
    """So a field added later with a default changes no stored hash; 1 and 1.0 are one value."""
    assert params_hash(RenderParams()) == hashlib.sha256(b"{}").hexdigest()
    assert params_hash(RenderParams(n2=40)) == hashlib.sha256(json.dumps({"n2": 40}).encode()).hexdigest()
    assert params_hash(RenderParams(rb_rate=1)) == params_hash(RenderParams(rb_rate=1.0)) == params_hash(RenderParams())
    assert params_hash(RenderParams(n2=40)) != params_hash(RenderParams(n2=41))
