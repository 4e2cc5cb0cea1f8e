"""The learning loop from the command line: ingest, render, tag, recommend, recommend-and-render."""

import json

from PIL import Image
from typer.testing import CliRunner

from prismarec.cli.main import app

runner = CliRunner()
LITE = ["--backbone", "efficientnet-lite0"]


def _save(tmp_path, photos, name, crop=None):
    path = tmp_path / f"{name}.png"
    img = photos[name] if crop is None else photos[name][crop]
    Image.fromarray(img).save(path)
    return path


def test_render_tag_recommend_round_trip(tmp_path, photos):
    coffee = _save(tmp_path, photos, "coffee")
    res = runner.invoke(app, ["render", str(coffee), "--set", "size=96", "--set", "n2=40", *LITE, "--json",
                              "-o", str(tmp_path / "r.png")])
    assert res.exit_code == 0, res.output
    render_id = json.loads(res.stdout)["render_id"]
    res = runner.invoke(app, ["tag", str(render_id), "--good", "--score", "5", "--curator", "ann"])
    assert res.exit_code == 2 and "no curator named 'ann'" in res.stderr  # a new name may be a typo
    res = runner.invoke(app, ["tag", str(render_id), "--good", "--score", "5", "--curator", "ann", "--new-curator"])
    assert res.exit_code == 0, res.output

    crop = _save(tmp_path, photos, "coffee", (slice(20, 380), slice(30, 560)))
    res = runner.invoke(app, ["recommend", str(crop), *LITE, "--json"])
    assert res.exit_code == 0, res.output
    rec = json.loads(res.stdout)
    assert {"params", "alternatives", "confidence", "neighbours", "fallback"} <= set(rec)
    assert not rec["fallback"] and rec["params"]["n2"] == 40
    assert rec["params"]["size"] == "auto"  # size is the user's choice, not part of a style
    assert rec["neighbours"][0]["verdicts"][0]["render_id"] == render_id


def test_untag_and_curator_list_and_remove(tmp_path, photos):
    coffee = _save(tmp_path, photos, "coffee")
    res = runner.invoke(app, ["render", str(coffee), "--set", "size=64", "--set", "layer=None", *LITE, "--json",
                              "-o", str(tmp_path / "r.png")])
    render_id = str(json.loads(res.stdout)["render_id"])
    assert runner.invoke(app, ["curator", "add", "bo"]).exit_code == 0
    assert runner.invoke(app, ["tag", render_id, "--bad", "--curator", "bo"]).exit_code == 0
    listed = json.loads(runner.invoke(app, ["curator", "list", "--json"]).stdout)
    assert listed == [{"name": "bo", "verdicts": 1, "can_sign_in": True}]
    assert runner.invoke(app, ["untag", render_id, "--curator", "bo"]).exit_code == 0
    again = runner.invoke(app, ["untag", render_id, "--curator", "bo"])
    assert again.exit_code == 2 and "has no verdict" in again.stderr
    assert runner.invoke(app, ["curator", "remove", "bo"]).exit_code == 0
    listed = json.loads(runner.invoke(app, ["curator", "list", "--json"]).stdout)
    assert listed == [{"name": "bo", "verdicts": 0, "can_sign_in": False}]  # history kept, sign-in revoked
    assert runner.invoke(app, ["curator", "remove", "nobody"]).exit_code == 2


def test_tag_errors_are_clear(tmp_path):
    assert runner.invoke(app, ["tag", "1", "--good", "--bad", "--curator", "a"]).exit_code == 2
    res = runner.invoke(app, ["tag", "12345", "--good", "--curator", "ann"])
    assert res.exit_code == 2 and "no render with id 12345" in res.stderr


def test_recommend_with_empty_index_falls_back(tmp_path, photos):
    res = runner.invoke(app, ["recommend", str(_save(tmp_path, photos, "rocket")), *LITE, "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["fallback"] is True


def test_ingest_reports_bad_files_with_exit_1(tmp_path, photos):
    folder = tmp_path / "in"
    folder.mkdir()
    _save(folder, photos, "chelsea")
    (folder / "junk.png").write_text("not an image")
    res = runner.invoke(app, ["ingest", str(folder), *LITE, "--json"])
    assert res.exit_code == 1
    report = json.loads(res.stdout)
    assert len(report["added"]) == 1 and report["failed"][0]["path"].endswith("junk.png")


def test_recommend_and_render_continues_past_bad_files(tmp_path, photos):
    good = _save(tmp_path, photos, "chelsea")
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    outdir = tmp_path / "out"
    res = runner.invoke(app, ["recommend-and-render", str(good), str(bad), "-o", str(outdir), *LITE, "--json"])
    assert res.exit_code == 1
    report = json.loads(res.stdout)
    assert [r["photo"] for r in report["renders"]] == [str(good)]
    assert (outdir / "chelsea.png").exists() and report["failed"][0]["photo"] == str(bad)
    assert report["renders"][0]["fallback"] is True


def test_guide_auto_takes_the_deciding_renders_guide(tmp_path, photos):
    coffee, guide = _save(tmp_path, photos, "coffee"), _save(tmp_path, photos, "astronaut")
    res = runner.invoke(app, ["render", str(coffee), "--guide", str(guide), "--set", "size=64", "--set", "iter_n=1",
                              *LITE, "--json", "-o", str(tmp_path / "r.png")])
    render_id = json.loads(res.stdout)["render_id"]
    assert runner.invoke(app, ["tag", str(render_id), "--good", "--curator", "ann", "--new-curator"]).exit_code == 0
    crop = _save(tmp_path, photos, "coffee", (slice(10, 390), slice(20, 580)))
    res = runner.invoke(app, ["recommend-and-render", str(crop), "--guide", "auto", "--set", "size=64",
                              "-o", str(tmp_path / "out"), *LITE, "--json"])
    assert res.exit_code == 0, res.output
    made = json.loads(res.stdout)["renders"][0]
    assert made["guide_id"] is not None and made["params"]["size"] == 64 and not made["fallback"]


def test_sweep_command_renders_the_grid_resumes_and_draws_sheets(tmp_path, photos):
    photo, guide = _save(tmp_path, photos, "rocket"), _save(tmp_path, photos, "coffee")
    args = ["sweep", str(photo), "--guide", str(guide), "--grid", "layer=conv2/3x3_reduce,None",
            "--grid", "rb_rate=0.85,1.0", "--set", "size=64", "--set", "iter_n=1", "-o", str(tmp_path / "sw"),
            *LITE, "--json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert report["tasks"] == 4 and len(report["rendered"]) == 4
    assert report["contact_sheets"][0]["rows"] == 2 and report["contact_sheets"][0]["columns"] == 2
    assert (tmp_path / "sw" / "rocket" / "coffee" / "layer-None_rbrate-0.85.png").exists()
    again = json.loads(runner.invoke(app, args).stdout)
    assert not again["rendered"] and sorted(again["skipped"]) == sorted(report["rendered"])
    bad = runner.invoke(app, [*args[:-1], "--grid", "bogus=1,2"])
    assert bad.exit_code == 2 and "unknown parameter 'bogus'" in bad.stderr


def test_delete_asks_first_and_removes_renders_with_their_files(tmp_path, photos):
    coffee = _save(tmp_path, photos, "coffee")
    outputs = []
    for n2 in (20, 30):
        out = tmp_path / f"r{n2}.png"
        res = runner.invoke(app, ["render", str(coffee), "--set", "size=64", "--set", "layer=None", "--set",
                                  f"n2={n2}", *LITE, "--json", "-o", str(out)])
        outputs.append((json.loads(res.stdout)["render_id"], json.loads(res.stdout)["photo_id"], out))
    first, photo_id, first_file = outputs[0]
    assert runner.invoke(app, ["delete", "render", str(first)], input="n\n").exit_code == 1
    assert first_file.exists()
    assert runner.invoke(app, ["delete", "render", str(first), "--yes"]).exit_code == 0
    assert not first_file.exists()
    assert runner.invoke(app, ["delete", "render", str(first), "--yes"]).exit_code == 2  # already gone
    res = runner.invoke(app, ["delete", "photo", str(photo_id), "--yes"])
    assert res.exit_code == 0 and "1 render" in res.stdout
    assert not outputs[1][2].exists() and coffee.exists()  # the user's photo stays
