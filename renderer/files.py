"""Atomic file writes shared by renders and the index: a unique temporary name, then a rename.

A reader never sees half a file, two processes never share a temporary name, and the
temporary files a killed process left behind are removed by the next write in that folder.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

PART_PREFIX = ".part-"
STALE_AFTER_S = 3600  # a temporary file this old belongs to a process that died


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def remove_stale_parts(folder: Path, older_than_s: float = STALE_AFTER_S) -> int:
    """Delete temporary files of writes that never finished; returns how many."""
    removed, cutoff = 0, time.time() - older_than_s
    for part in folder.glob(f"{PART_PREFIX}*"):
        try:
            if part.is_file() and part.stat().st_mtime < cutoff:
                part.unlink()
                removed += 1
        except OSError:  # another process got there first, or it is not ours to remove
            continue
    return removed


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a unique temporary path beside `path`; on success it replaces `path` with the
    permissions a plain `open()` would give (umask applied), on failure it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(path.parent)
    fd, tmp_name = tempfile.mkstemp(prefix=f"{PART_PREFIX}{path.stem}-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call `write(temporary_path)`, then move the result into place atomically."""
    with atomic_path(path) as tmp:
        write(tmp)
    return Path(path)
