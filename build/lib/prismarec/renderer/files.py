"""Atomic file writes shared by renders and the index: a unique temporary name, then a rename.

A reader never sees half a file, two processes never share a temporary name, a write that must
not replace anything (`replace=False`) fails instead of clobbering, and the temporary files a
killed process left behind are removed by the next write in that folder.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

PART_PREFIX = ".part-"
STALE_AFTER_S = 3600  # a temporary file this old belongs to a process that died, whatever its pid says


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, and belongs to someone else
        return True
    return True


def _writer_tag() -> str:
    """`<host>.<pid>` of this process: a folder shared by the machines of a cluster holds part
    files whose pid means something only on the machine that wrote them."""
    return f"{socket.gethostname().replace('-', '_')}.{os.getpid()}"


def _writer_died(part: Path, cutoff: float) -> bool:
    """A part file is `.part-<host>.<pid>-…`: stale once that process on this host is gone, or
    after STALE_AFTER_S whoever wrote it."""
    host, _, pid = part.name[len(PART_PREFIX):].split("-", 1)[0].rpartition(".")
    if host == _writer_tag().rpartition(".")[0] and pid.isdigit() and not _alive(int(pid)):
        return True
    return part.stat().st_mtime < cutoff


def remove_stale_parts(folder: Path, older_than_s: float = STALE_AFTER_S) -> int:
    """Delete temporary files of writes that never finished; returns how many."""
    removed, cutoff = 0, time.time() - older_than_s
    for part in folder.glob(f"{PART_PREFIX}*"):
        try:
            if part.is_file() and _writer_died(part, cutoff):
                part.unlink()
                removed += 1
        except OSError:  # another process got there first, or it is not ours to remove
            continue
    return removed


@contextmanager
def atomic_path(path: str | os.PathLike, *, replace: bool = True) -> Iterator[Path]:
    """Yield a unique temporary path beside `path`; on success it becomes `path` with the
    permissions a plain `open()` would give (umask applied), on failure it is removed.

    With `replace` false an existing `path` is never replaced: FileExistsError instead, decided
    atomically (a hard link), so two processes cannot both claim one name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(path.parent)
    fd, tmp_name = tempfile.mkstemp(prefix=f"{PART_PREFIX}{_writer_tag()}-{path.stem}-", suffix=path.suffix,
                                    dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        if replace:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise FileExistsError(f"{path} already exists (not replaced)") from None
            tmp.unlink()
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None], *, replace: bool = True) -> Path:
    """Call `write(temporary_path)`, then move the result into place atomically."""
    with atomic_path(path, replace=replace) as tmp:
        write(tmp)
    return Path(path)
