"""Where prismarec keeps its data: `PRISMAREC_HOME` (default: the user's data directory)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def data_home() -> Path:
    home = Path(os.environ.get("PRISMAREC_HOME") or platformdirs.user_data_dir("prismarec"))
    home.mkdir(parents=True, exist_ok=True)
    return home


def default_url() -> str:
    """`PRISMAREC_DB` if set, else an embedded SQLite file in the data directory."""
    return os.environ.get("PRISMAREC_DB") or f"sqlite:///{data_home() / 'prismarec.db'}"


def index_dir() -> Path:
    """The index folder (created by the first write, so a bad location fails with the index's own error)."""
    return data_home() / "index"


def cache_dir() -> Path:
    """`PRISMAREC_CACHE` (default: the user's cache directory): what can be made again, such as
    networks exported for onnxruntime; shared by every database."""
    return Path(os.environ.get("PRISMAREC_CACHE") or platformdirs.user_cache_dir("prismarec"))


def renders_dir() -> Path:
    path = data_home() / "renders"
    path.mkdir(parents=True, exist_ok=True)
    return path
