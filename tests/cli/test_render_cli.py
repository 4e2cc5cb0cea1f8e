import json

import pytest
from PIL import Image
from typer.testing import CliRunner

from prismarec.cli.main import app
from prismarec.renderer.images import read_png_metadata
from prismarec.renderer.params import RenderParams

runner = CliRunner()


@pytest.fixture
def photo_files(tmp_path, photos):
    paths = {}
    for name in ("chelsea", "coffee"):
        paths[name] = tmp_path / f"{name}.jpg"
        Image.fromarray(photos[name]).save(paths[name])
    return paths


def test_render_writes_png_with_params_and_backbone(tmp_path, photo_files):
    out = tmp_path / "out.png"
    res = runner.invoke(app, ["render", str(photo_files["chelsea"]), "--guide", str(photo_files["coffee"]),
                              "--set", "size=128", "--set", "iter_n=2", "--set", "rb_rate=0.9",
                              "--backbone", "efficientnet-lite0", "-o", str(out), "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["backbone"] == "efficientnet-lite0" and set(report["timings"]) >= {"mask", "blend", "dream"}
    meta = read_png_metadata(out)
    params = RenderParams.from_json(meta["prismarec:params"])
    assert (params.size, params.iter_n, params.rb_rate) == (128, 2, 0.9)
    assert meta["prismarec:backbone"] == "efficientnet-lite0"
    with Image.open(out) as img:
        assert img.size == (128, 85)  # chelsea is 451x300: proportions kept


def test_render_with_a_fast_style_paints_a_large_photo_and_records_the_model(tmp_path, photo_files):
    out = tmp_path / "painted.png"
    res = runner.invoke(app, ["render", str(photo_files["coffee"]), "--guide", str(photo_files["chelsea"]),
                              "--set", "style=fast", "--set", "layer=None", "--set", "size=1024",
                              "--backbone", "efficientnet-lite0", "-o", str(out), "--json"])
    assert res.exit_code == 0, res.output
    assert "style" in json.loads(res.stdout)["timings"]
    assert read_png_metadata(out)["prismarec:style_model"] == "magenta-arbitrary-v1-int8"
    with Image.open(out) as img:
        assert img.size == (1024, 683)  # coffee is 600x400
    no_guide = runner.invoke(app, ["render", str(photo_files["coffee"]), "--set", "style=fast",
                                   "--backbone", "efficientnet-lite0", "-o", str(tmp_path / "x.png")])
    assert no_guide.exit_code == 2 and "needs a guide image" in no_guide.stderr


def test_params_file_then_sets(tmp_path, photo_files):
    pfile = tmp_path / "p.json"
    pfile.write_text(json.dumps({"size": 96, "layer": None, "n1": 9}))
    out = tmp_path / "o.png"
    res = runner.invoke(app, ["render", str(photo_files["coffee"]), "--params", str(pfile), "--set", "n1=3",
                              "-o", str(out), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["params"]["n1"] == 3 and json.loads(res.stdout)["backbone"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--set", "n1=0"], "n1 must be in"), (["--set", "bogus=1"], "unknown parameter"),
     (["--set", "layer=inception_9z/output"], "unknown layer"), (["--set", "mask=blob"], "mask must be")],
)
def test_bad_parameters_exit_2_without_output(tmp_path, photo_files, args, message):
    out = tmp_path / "o.png"
    res = runner.invoke(app, ["render", str(photo_files["coffee"]), *args, "--backbone", "efficientnet-lite0",
                              "-o", str(out)])
    assert res.exit_code == 2
    assert message in res.stderr and "Traceback" not in res.output
    assert not out.exists() and not list(tmp_path.glob(".part-*"))


def test_bad_files_exit_2(tmp_path):
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"\xff\xd8 not really a jpeg")
    for path, message in ((tmp_path / "missing.jpg", "no such file"), (junk, "not a readable image")):
        res = runner.invoke(app, ["render", str(path), "-o", str(tmp_path / "o.png")])
        assert res.exit_code == 2 and message in res.stderr


def test_layers_lists_book_names():
    res = runner.invoke(app, ["layers"])
    assert res.exit_code == 0 and "inception_4c/output" in res.stdout and "inception_3a/5x5_reduce" in res.stdout
