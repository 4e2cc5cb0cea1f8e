"""A user's database survives the upgrade: recommend and eval run on work stored under older rules."""

import hashlib
import json

from alembic import command
from PIL import Image
from sqlalchemy import create_engine
from typer.testing import CliRunner

from prismarec.cli.main import app
from prismarec.db.session import alembic_config
from prismarec.indexer.embed import embed
from prismarec.renderer.params import RenderParams

runner = CliRunner()
LITE = ["--backbone", "efficientnet-lite0"]


def test_old_database_with_rejected_values_upgrades_recommends_and_evaluates(tmp_path, photos, net):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    cfg = alembic_config()
    rows = []
    for photo_id, name in enumerate(("coffee", "rocket", "chelsea"), 1):
        path = tmp_path / f"{name}.png"
        Image.fromarray(photos[name]).save(path)
        # written directly, as revision 0002 stored it: values today's ranges reject, a key that no longer exists
        stored = {**RenderParams(layer=None).to_dict(), "convd_big_factor": 50.0, "n2": 9000 + photo_id,
                  "all_mask": False}
        del stored["post_relu"]
        rows.append((photo_id, path, stored, embed([photos[name]], net)[0]))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
        conn.exec_driver_sql("INSERT INTO curators (id, name, created_at) VALUES (1, 'ann', '2026-01-01')")
        for photo_id, path, stored, vector in rows:
            sha = hashlib.sha256(path.read_bytes()).hexdigest()
            conn.exec_driver_sql("INSERT INTO photos VALUES (?, ?, ?, 640, 427, '2026-01-01')",
                                 (photo_id, sha, str(path)))
            conn.exec_driver_sql("INSERT INTO embeddings (photo_id, backbone, dim, vector, created_at) "
                                 "VALUES (?, 'efficientnet-lite0', 1280, ?, '2026-01-01')",
                                 (photo_id, vector.tobytes()))
            conn.exec_driver_sql(
                "INSERT INTO renders (id, photo_id, params, params_hash, output_path, timings, created_at) "
                "VALUES (?, ?, ?, 'x', '/o.png', '{}', '2026-01-01')", (photo_id, photo_id, json.dumps(stored)))
            conn.exec_driver_sql("INSERT INTO verdicts (render_id, curator_id, verdict, score, current, created_at) "
                                 "VALUES (?, 1, 'good', 5, 1, '2026-01-01')", (photo_id,))
    engine.dispose()

    crop = tmp_path / "coffee-crop.png"
    Image.fromarray(photos["coffee"][20:400, 40:600]).save(crop)
    res = runner.invoke(app, ["--db", url, "recommend", str(crop), *LITE, "--json"])
    assert res.exit_code == 0, res.output
    rec = json.loads(res.stdout)
    assert not rec["fallback"]
    assert (rec["params"]["convd_big_factor"], rec["params"]["n2"]) == (20.0, 4096)  # clamped into today's range
    res = runner.invoke(app, ["--db", url, "eval", "--size", "48", "--plot", str(tmp_path / "c.png"), *LITE,
                              "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["protocols"]["photo"]["photos"] == 3
