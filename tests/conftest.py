import glob
import os
import shutil
import subprocess
import tempfile

import numpy as np
import pytest
import skimage.data

# Never touch (or leave an empty folder in) the user's torch cache.
os.environ.setdefault("TORCH_HOME", tempfile.mkdtemp(prefix="prismarec-torch-"))
# nor its prismarec cache; one for the whole run, so the network is exported for onnxruntime once
os.environ.setdefault("PRISMAREC_CACHE", tempfile.mkdtemp(prefix="prismarec-cache-"))

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    return {name: getattr(skimage.data, name)() for name in PHOTOS}


@pytest.fixture(scope="session")
def net():
    from prismarec.renderer.backbones import load_backbone

    return load_backbone("efficientnet-lite0", device="cpu")


@pytest.fixture(autouse=True)
def data_home(tmp_path, monkeypatch):
    """Every test gets its own data directory: database, index and renders."""
    home = tmp_path / "prismarec-home"
    monkeypatch.setenv("PRISMAREC_HOME", str(home))
    monkeypatch.delenv("PRISMAREC_DB", raising=False)
    return home


def _pg_bin() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else None


@pytest.fixture(scope="session")
def postgres_url():
    bindir = _pg_bin()
    if bindir is None:
        if os.environ.get("PRISMAREC_REQUIRE_POSTGRES"):  # set by `make test`: CI must not skip these
            pytest.fail("PostgreSQL server binaries not installed (make test installs Debian's postgresql)")
        pytest.skip("PostgreSQL server binaries not installed")
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    folder = tempfile.mkdtemp(prefix="prismarec-pg-")
    if as_user:
        shutil.chown(folder, "postgres")
    data, port = os.path.join(folder, "data"), "54329"
    subprocess.run([*as_user, f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", "prismarec"], check=True,
                   capture_output=True)
    subprocess.run([*as_user, f"{bindir}/pg_ctl", "-D", data, "-l", os.path.join(folder, "log"), "-w", "-o",
                    f"-k {folder} -p {port} -c listen_addresses=''", "start"], check=True, capture_output=True)
    yield f"postgresql+psycopg://prismarec@/postgres?host={folder}&port={port}"
    subprocess.run([*as_user, f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)
