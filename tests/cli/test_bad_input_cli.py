"""Bad input and broken storage: exit 0 or 2 with one line, nothing lost, nothing left behind."""

import json
import os
import sqlite3
import stat

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from prismarec.cli.main import app

runner = CliRunner()
LITE = ["--backbone", "efficientnet-lite0"]
FAST = ["--set", "size=64", "--set", "iter_n=1", "--set", "octave_n=1"]


def save(path, image):
    Image.fromarray(image).save(path)
    return path


def one_line_error(res, *needles):
    assert res.exit_code == 2, res.output
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert "Traceback" not in res.output and len(errors) == 1, res.stderr
    for needle in needles:
        assert needle in res.stderr, res.stderr


def test_render_refuses_to_overwrite_its_input(tmp_path, photos):
    mine = save(tmp_path / "mine.png", photos["coffee"])
    before = mine.read_bytes()
    res = runner.invoke(app, ["render", str(mine), "-o", str(mine), *LITE, *FAST])
    one_line_error(res, "is the input")
    assert mine.read_bytes() == before


def test_photos_with_one_name_get_distinct_outputs(tmp_path, photos):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    save(a / "x.png", photos["coffee"])
    save(b / "x.png", photos["rocket"])
    res = runner.invoke(app, ["recommend-and-render", str(a / "x.png"), str(b / "x.png"), "-o", str(a), *LITE,
                              *FAST, "--json"])
    assert res.exit_code == 0, res.output
    outputs = [r["output"] for r in json.loads(res.stdout)["renders"]]
    assert len(set(outputs)) == 2 and all(os.path.exists(o) for o in outputs)
    assert str(a / "x.png") not in outputs  # the input in the output folder is kept
    np.testing.assert_array_equal(np.asarray(Image.open(a / "x.png")), photos["coffee"])


def test_an_extreme_aspect_is_refused_quickly(tmp_path):
    sliver = save(tmp_path / "sliver.png", np.full((20000, 3, 3), 200, np.uint8))
    res = runner.invoke(app, ["render", str(sliver), "--set", "size=160", "-o", str(tmp_path / "o.png"), *LITE])
    one_line_error(res, "aspect")
    assert not (tmp_path / "o.png").exists()


def test_a_runaway_render_is_refused_with_its_estimate(tmp_path, photos):
    photo = save(tmp_path / "p.png", photos["coffee"])
    res = runner.invoke(app, ["render", str(photo), "--set", "iter_n=5000", "--set", "layer=inception_4c/output",
                              "--set", "size=4096", "-o", str(tmp_path / "o.png"), *LITE])
    one_line_error(res, "estimated at", "--max-seconds")
    assert not (tmp_path / "o.png").exists()


def test_file_names_that_are_not_utf8_work_everywhere(tmp_path, photos):
    folder = tmp_path / "in"
    folder.mkdir()
    odd = folder / os.fsdecode(b"caf\xe9-\xff.png")
    save(odd, photos["chelsea"])
    save(folder / "plain.png", photos["coffee"])
    res = runner.invoke(app, ["ingest", str(folder), *LITE, "--json"])
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.stdout)["added"]) == 2
    out = tmp_path / "out"
    res = runner.invoke(app, ["recommend-and-render", str(odd), "-o", str(out), *LITE, *FAST])
    assert res.exit_code == 0, res.output
    assert (out / os.fsdecode(b"caf\xe9-\xff.png")).exists()
    res = runner.invoke(app, ["render", str(odd), "-o", str(tmp_path / "o.png"), *LITE, *FAST])
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize(("content", "needle"), [
    ('{"params": [1, 2]}', "JSON object"), ("[" * 100_000, "nested too deeply"), ("{nope", "not valid JSON"),
    ('{"n1": "five"}', "n1 must be an integer"), (b"\xff\xfe\x00", "JSON")])
def test_bad_params_files_are_one_line(tmp_path, photos, content, needle):
    pfile = tmp_path / "p.json"
    pfile.write_bytes(content if isinstance(content, bytes) else content.encode())
    photo = save(tmp_path / "p.png", photos["coffee"])
    res = runner.invoke(app, ["render", str(photo), "--params", str(pfile), "-o", str(tmp_path / "o.png"), *LITE])
    one_line_error(res, needle)


def test_a_damaged_database_is_one_line_and_untouched(tmp_path, photos, data_home):
    data_home.mkdir(parents=True, exist_ok=True)
    damaged = data_home / "prismarec.db"
    damaged.write_bytes(b"this is not a database" * 100)
    before = damaged.read_bytes()
    photo = save(tmp_path / "p.png", photos["coffee"])
    res = runner.invoke(app, ["render", str(photo), "-o", str(tmp_path / "o.png"), *LITE, *FAST])
    one_line_error(res, str(damaged), "damaged")
    assert damaged.read_bytes() == before and not (tmp_path / "o.png").exists()


def test_a_read_only_database_fails_before_the_render(tmp_path, photos):
    path = tmp_path / "ro.db"
    runner.invoke(app, ["--db", f"sqlite:///{path}", "params"])
    res = runner.invoke(app, ["--db", f"sqlite:///{path}", "ingest", str(save(tmp_path / "a.png", photos["rocket"])),
                              *LITE])
    assert res.exit_code == 0, res.output
    url = f"sqlite:///file:{path}?mode=ro&uri=true"
    photo = save(tmp_path / "p.png", photos["coffee"])
    res = runner.invoke(app, ["--db", url, "render", str(photo), "-o", str(tmp_path / "o.png"), *LITE, *FAST])
    one_line_error(res, "read-only")
    assert not (tmp_path / "o.png").exists()


def test_a_locked_database_is_one_line(tmp_path, photos, monkeypatch):
    monkeypatch.setenv("PRISMAREC_LOCK_TIMEOUT", "1")
    path = tmp_path / "locked.db"
    url = f"sqlite:///{path}"
    assert runner.invoke(app, ["--db", url, "ingest", str(save(tmp_path / "a.png", photos["rocket"])),
                               *LITE]).exit_code == 0
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        res = runner.invoke(app, ["--db", url, "render", str(save(tmp_path / "p.png", photos["coffee"])), "-o",
                                  str(tmp_path / "o.png"), *LITE, *FAST])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    one_line_error(res, "locked by another process")


def test_an_unwritable_index_folder_fails_before_the_render(tmp_path, photos, data_home):
    data_home.mkdir(parents=True, exist_ok=True)
    (data_home / "index").write_text("a file where the index folder should be")
    photo = save(tmp_path / "p.png", photos["coffee"])
    res = runner.invoke(app, ["render", str(photo), "-o", str(tmp_path / "o.png"), *LITE, *FAST])
    one_line_error(res, "index folder", "cannot write")
    assert not (tmp_path / "o.png").exists()


def test_outputs_follow_the_umask(tmp_path, photos):
    old = os.umask(0o022)
    try:
        out = tmp_path / "o.png"
        res = runner.invoke(app, ["render", str(save(tmp_path / "p.png", photos["coffee"])), "-o", str(out), *LITE,
                                  *FAST])
    finally:
        os.umask(old)
    assert res.exit_code == 0, res.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
