"""What installing prismarec puts into site-packages."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_holds_one_import_package_with_its_data(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path), str(ROOT)], check=True, capture_output=True)
    [wheel] = tmp_path.glob("prismarec-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"prismarec", wheel.name.split("-py")[0] + ".dist-info"}
    for needed in ("prismarec/renderer/pipeline.py", "prismarec/db/migrations/versions/0009_canonical_params_hash.py",
                   "prismarec/db/migrations/script.py.mako", "prismarec/studio/web/templates/tune.html",
                   "prismarec/studio/web/static/app.js", "prismarec/scripts/make_demo_curation.py"):
        assert needed in names, needed
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "prismarec = prismarec.cli.main:run" in text
