"""Every id and every file means one thing: no overwrites, no reused ids, nothing written on refusal."""

import json
import os
import socket
import sqlite3
import subprocess
import sys

import pytest
from alembic import command
from PIL import Image
from sqlalchemy import create_engine
from typer.testing import CliRunner

from prismarec.cli.main import app
from prismarec.db import Database
from prismarec.db.session import alembic_config
from prismarec.db.store import current_verdicts

runner = CliRunner()
LITE = ["--backbone", "efficientnet-lite0"]
FAST = ["--set", "size=64", "--set", "iter_n=1", "--set", "octave_n=1"]
RUNAWAY = ["--set", "iter_n=5000", "--set", "octave_n=12", "--set", "octave_scale=1.05",
           "--set", "layer=inception_4c/output", "--set", "size=4096"]  # estimated at hours
TABLES = ("photos", "guides", "embeddings", "renders", "verdicts", "curators")


def save(path, image):
    Image.fromarray(image).save(path)
    return path


def ok(args):
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    return res


def rows(home):
    with sqlite3.connect(home / "prismarec.db") as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def files(root):
    """Every file and its time, but the database (counted by rows) and the index folder (a cache
    of the database: the vector index and the learnt taste may be brought up to date by any command)."""
    return {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file() and "index" not in p.parent.name
            and not p.name.startswith("prismarec.db")}


@pytest.fixture
def stocked(tmp_path, photos):
    """A catalogue with one photo (coffee), one render of it (done.png) with a verdict, and photo files."""
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("coffee", "rocket", "chelsea"):
        save(folder / f"{name}.png", photos[name])
    res = ok(["render", str(folder / "coffee.png"), "-o", str(tmp_path / "done.png"), *LITE, *FAST, "--json"])
    ok(["tag", str(json.loads(res.stdout)["render_id"]), "--good", "--curator", "ann", "--new-curator"])
    return folder


REFUSALS = {
    "over budget": (["render", "{in}/rocket.png", "-o", "{tmp}/new.png", *RUNAWAY], 2, "estimated at"),
    "existing output": (["render", "{in}/rocket.png", "-o", "{in}/chelsea.png", *FAST], 2, "--overwrite"),
    "a catalogued photo": (["render", "{in}/rocket.png", "-o", "{in}/coffee.png", "--overwrite", *FAST], 2,
                           "photo 1 of the catalogue"),
    "a judged render's file": (["render", "{in}/rocket.png", "-o", "{tmp}/done.png", "--overwrite", *FAST], 2,
                               "has verdicts"),
    "missing guide": (["render", "{in}/rocket.png", "--guide", "{tmp}/nope.png", "-o", "{tmp}/new.png"], 2,
                      "no such file"),
    "style without guide": (["render", "{in}/rocket.png", "--set", "style=fast", "-o", "{tmp}/new.png"], 2,
                            "needs a guide"),
    "unknown layer": (["render", "{in}/rocket.png", "--set", "layer=nope", "-o", "{tmp}/new.png"], 2, "nope"),
    "not a png": (["render", "{in}/rocket.png", "-o", "{tmp}/new.jpg"], 2, ".png"),
    "batch over budget": (["recommend-and-render", "{in}/rocket.png", "-o", "{tmp}/out", *RUNAWAY], 1,
                          "estimated at"),
    "batch unknown curator": (["recommend-and-render", "{in}", "-o", "{tmp}/out", "--curator", "bob"], 2,
                              "no curator named 'bob'"),
    "sweep over budget": (["sweep", "{in}/rocket.png", "-o", "{tmp}/sw", "--grid", "size=64,4096",
                           "--set", "iter_n=5000", "--set", "layer=inception_4c/output"], 2, "estimated at"),
    "sweep missing guide": (["sweep", "{in}/rocket.png", "--guide", "{tmp}/nope.png", "-o", "{tmp}/sw"], 2,
                            "no such file"),
    "tag unknown curator": (["tag", "1", "--good", "--curator", "bob"], 2, "no curator named 'bob'"),
}


@pytest.mark.parametrize("kind", list(REFUSALS))
def test_a_refusal_leaves_database_and_disk_as_they_were(kind, stocked, tmp_path, data_home):
    args, code, needle = REFUSALS[kind]
    args = [a.format(**{"in": stocked, "tmp": tmp_path}) for a in args]
    if args[0] != "tag":
        args += LITE
    before_rows, before_files = rows(data_home), files(tmp_path)
    res = runner.invoke(app, args)
    assert res.exit_code == code, res.output
    assert needle in res.output and "Traceback" not in res.output
    assert rows(data_home) == before_rows
    assert files(tmp_path) == before_files


def test_render_never_replaces_a_file_unless_asked(tmp_path, photos, data_home):
    photo = save(tmp_path / "p.png", photos["coffee"])
    mine = tmp_path / "mine.png"
    mine.write_bytes(b"the user's own file")
    res = runner.invoke(app, ["render", str(photo), "-o", str(mine), *LITE, *FAST])
    assert res.exit_code == 2 and "--overwrite" in res.stderr
    assert mine.read_bytes() == b"the user's own file"
    first = json.loads(ok(["render", str(photo), "-o", str(mine), "--overwrite", *LITE, *FAST, "--json"]).stdout)
    assert Image.open(mine).text["prismarec:params"]
    # a render nobody judged is superseded by the one that replaces its file: one record per file
    second = json.loads(ok(["render", str(photo), "-o", str(mine), "--overwrite", *LITE, "--set", "size=80",
                            "--set", "iter_n=1", "--set", "octave_n=1", "--json"]).stdout)
    assert second["render_id"] > first["render_id"]
    with sqlite3.connect(data_home / "prismarec.db") as conn:
        owners = conn.execute("SELECT id FROM renders WHERE output_path = ?", (str(mine.resolve()),)).fetchall()
    assert owners == [(second["render_id"],)]
    assert Image.open(mine).width == 80


def test_batch_rerun_resumes_and_never_shares_a_file(tmp_path, photos, data_home):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("coffee", "rocket"):
        save(folder / f"{name}.png", photos[name])
    first = json.loads(ok(["recommend-and-render", str(folder), "-o", str(folder), *LITE, *FAST, "--json"]).stdout)
    assert {os.path.basename(r["output"]) for r in first["renders"]} == {"coffee-2.png", "rocket-2.png"}
    again = json.loads(ok(["recommend-and-render", str(folder), "-o", str(folder), *LITE, *FAST, "--json"]).stdout)
    assert again["renders"] == [] and len(again["skipped"]) == 2  # the renders were not taken for photos
    assert {r["render_id"] for r in again["skipped"]} == {r["render_id"] for r in first["renders"]}
    other = json.loads(ok(["recommend-and-render", str(folder / "coffee.png"), "-o", str(folder), *LITE, *FAST,
                           "--set", "n1=3", "--json"]).stdout)
    assert os.path.basename(other["renders"][0]["output"]) == "coffee-3.png"
    with sqlite3.connect(data_home / "prismarec.db") as conn:
        assert conn.execute("SELECT count(*) FROM photos").fetchone()[0] == 2
        paths = [p for (p,) in conn.execute("SELECT output_path FROM renders")]
    assert len(paths) == len(set(paths)) == 3


def test_deleted_ids_are_never_given_again(tmp_path, photos, data_home):
    photo = save(tmp_path / "p.png", photos["coffee"])
    made = [json.loads(ok(["render", str(photo), *LITE, *FAST, "--set", f"n1={n}", "--json"]).stdout)["render_id"]
            for n in (3, 4)]
    ok(["tag", str(made[1]), "--good", "--curator", "ann", "--new-curator"])
    ok(["delete", "render", str(made[1]), "--yes"])
    again = json.loads(ok(["render", str(photo), *LITE, *FAST, "--json"]).stdout)["render_id"]
    assert again > made[1]
    ok(["tag", str(again), "--good", "--curator", "ann"])
    with sqlite3.connect(data_home / "prismarec.db") as conn:
        assert conn.execute("SELECT max(id) FROM verdicts").fetchone()[0] == 2


def test_an_old_database_is_migrated_to_never_reuse_ids(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0005")
        conn.exec_driver_sql("INSERT INTO photos VALUES (1, 'a', '/p.png', 8, 8, '2026-01-01')")
        conn.exec_driver_sql("INSERT INTO curators (id, name, created_at) VALUES (1, 'ann', '2026-01-01')")
        for render_id in (1, 2, 3):
            conn.exec_driver_sql("INSERT INTO renders (id, photo_id, params, params_hash, output_path, timings, "
                                 "created_at) VALUES (?, 1, '{}', 'x', ?, '{}', '2026-01-01')",
                                 (render_id, f"/r{render_id}.png"))
            conn.exec_driver_sql("INSERT INTO verdicts (render_id, curator_id, verdict, current, created_at) "
                                 "VALUES (?, 1, 'good', 1, '2026-01-01')", (render_id,))
    engine.dispose()
    db = Database(url)  # migrates; foreign keys stay on, yet recreating the tables cascaded nothing
    with db.session() as s:
        assert [v[1] for v in current_verdicts(s, 3)] == ["good"]
        assert s.connection().exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        s.connection().exec_driver_sql("DELETE FROM renders WHERE id = 3")
    with db.session() as s:
        s.connection().exec_driver_sql("INSERT INTO renders (photo_id, params, params_hash, output_path, timings, "
                                       "params_version, created_at) VALUES (1, '{}', 'x', '/n.png', '{}', 1, '2026')")
        assert s.connection().exec_driver_sql("SELECT max(id) FROM renders").scalar() == 4
        assert s.connection().exec_driver_sql("SELECT count(*) FROM verdicts").scalar() == 2


def test_a_new_verdict_keeps_the_earlier_score_and_note(tmp_path, photos, data_home):
    photo = save(tmp_path / "p.png", photos["coffee"])
    rid = json.loads(ok(["render", str(photo), *LITE, *FAST, "--json"]).stdout)["render_id"]
    ok(["tag", str(rid), "--good", "--score", "4", "--note", "too dark", "--curator", "ann", "--new-curator"])
    ok(["tag", str(rid), "--bad", "--curator", "ann"])
    db = Database()
    with db.reading() as s:
        assert current_verdicts(s, rid) == [("ann", "bad", 4, "too dark")]
    ok(["tag", str(rid), "--good", "--curator", "ann", "--fresh"])
    with db.reading() as s:
        assert current_verdicts(s, rid) == [("ann", "good", None, None)]


def test_readers_do_not_wait_for_a_writer(tmp_path, photos, data_home, monkeypatch):
    monkeypatch.setenv("PRISMAREC_LOCK_TIMEOUT", "1")
    ok(["curator", "add", "ann"])
    holder = sqlite3.connect(data_home / "prismarec.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO curators (name, created_at) VALUES ('bob', '2026-01-01')")
    try:
        res = runner.invoke(app, ["curator", "list", "--json"])
        writing = runner.invoke(app, ["tag", "1", "--good", "--curator", "ann"])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert res.exit_code == 0, res.output
    assert [c["name"] for c in json.loads(res.stdout)] == ["ann"]  # the snapshot before the writer's change
    assert writing.exit_code == 2 and "locked" in writing.stderr  # writes still queue, then say why


def test_a_dead_writers_part_file_is_removed_by_the_next_render(tmp_path, photos):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    out = tmp_path / "out"
    out.mkdir()
    host = socket.gethostname().replace("-", "_")
    left = out / f".part-{host}.{int(dead.stdout)}-x-abc.png"
    left.write_bytes(b"")
    alive = out / f".part-{host}.{os.getpid()}-y-abc.png"  # a write still in progress in a live process
    elsewhere = out / f".part-otherhost.{int(dead.stdout)}-z-abc.png"  # another machine's pid: not ours to judge
    elsewhere.write_bytes(b"")
    alive.write_bytes(b"")
    ok(["render", str(save(tmp_path / "p.png", photos["coffee"])), "-o", str(out / "o.png"), *LITE, *FAST])
    assert not left.exists() and alive.exists() and elsewhere.exists()


def test_cli_output_is_readable_in_a_pipe(tmp_path, photos, monkeypatch):
    long_dir = tmp_path / ("a-folder-with-a-name-long-enough-to-pass-eighty-columns-" * 2)
    long_dir.mkdir()
    photo = save(long_dir / "coffee.png", photos["coffee"])
    res = ok(["render", str(photo), "-o", str(long_dir / "o.png"), *LITE, *FAST])
    assert str(long_dir / "o.png") in res.stdout.splitlines()[0]
    assert ok(["--version"]).stdout.startswith("prismarec ")
    for command_ in (["render"], ["recommend-and-render"], ["sweep"], ["tag"], ["eval"]):
        text = ok([*command_, "--help"]).stdout
        assert "<bool>" not in text and "<list" not in text and "{" not in text.split("\n\n")[0], text
    res = ok(["sweep", str(photo), "-o", str(tmp_path / "sw"), "--grid", "n1=3,4", *LITE, *FAST])
    assert "render ids (new): 2 3" in res.stdout


def test_a_batch_reports_each_photo_as_it_finishes(tmp_path, photos, monkeypatch):
    from prismarec.studio.service import Studio

    for name in ("coffee", "rocket"):
        save(tmp_path / f"{name}.png", photos[name])
    real = Studio.plan_auto
    calls = []

    def interrupted(self, photo, *args, **kwargs):
        calls.append(photo)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, photo, *args, **kwargs)

    monkeypatch.setattr(Studio, "plan_auto", interrupted)
    res = runner.invoke(app, ["recommend-and-render", str(tmp_path / "coffee.png"), str(tmp_path / "rocket.png"),
                              "-o", str(tmp_path / "out"), *LITE, *FAST])
    assert res.exit_code != 0
    assert "out/coffee.png (rendered" in res.stdout  # printed before the second photo stopped the batch


@pytest.mark.slow
def test_a_folder_rendered_by_worker_processes_resumes_and_lists_its_failures(tmp_path, photos):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("coffee", "rocket", "chelsea"):
        save(folder / f"{name}.png", photos[name])
    (folder / "broken.jpg").write_bytes(b"not a photo")
    args = ["recommend-and-render", str(folder), "-o", str(tmp_path / "out"), "--workers", "2", *LITE, *FAST,
            "--json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 1  # the broken file failed; the others rendered
    report = json.loads(first.stdout)
    assert sorted(os.path.basename(r["output"]) for r in report["renders"]) == ["chelsea.png", "coffee.png",
                                                                              "rocket.png"]
    assert [os.path.basename(f["photo"]) for f in report["failed"]] == ["broken.jpg"]
    assert all((tmp_path / "out" / f"{n}.png").is_file() for n in ("coffee", "rocket", "chelsea"))
    again = json.loads(runner.invoke(app, args).stdout)  # a second run renders only what is missing
    assert again["renders"] == [] and len(again["skipped"]) == 3
    assert {r["render_id"] for r in again["skipped"]} == {r["render_id"] for r in report["renders"]}
