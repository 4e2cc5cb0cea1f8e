"""Where a render's PNG goes: never over a file the render did not make, never two renders to one file.

A render file, its stored parameters and its verdicts must describe one picture, or a verdict
teaches the recommender the wrong look. So an existing file is replaced only when asked, a
catalogued photo never, and a batch names its files so that no earlier render loses its picture.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import func, select

from prismarec.db import Database
from prismarec.db.models import Photo, Verdict
from prismarec.db.store import content_hash, render_writing_to


def _same_file(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))


def check_output(db: Database, output: str | os.PathLike, *, overwrite: bool = False,
                 inputs: Iterable[str | os.PathLike | None] = ()) -> int | None:
    """Refuse an output that would destroy or confuse stored work, before any work is done.

    Refused: not a .png; one of the inputs; a catalogued photo (even with `overwrite`); an
    existing file, or the file of an earlier render, without `overwrite`; an earlier render's
    file that carries verdicts. Returns the id of the verdict-less render whose file
    `overwrite` will replace (its record is superseded by the new one), else None.
    """
    path = Path(output)
    if path.suffix.lower() != ".png":
        raise ValueError(f"output must be a .png file, got {path}")
    for given in inputs:
        if given is not None and _same_file(path, Path(given)):
            raise ValueError(f"output {path} is the input {given}; choose another -o")
    absolute = str(path.resolve())
    exists = path.is_file()
    sha = content_hash(path.read_bytes()) if exists else None
    with db.reading() as s:
        photo = s.scalar(select(Photo.id).where((Photo.path == absolute) | (Photo.sha256 == sha)).limit(1))
        if photo is not None:
            raise ValueError(f"output {path} is photo {photo} of the catalogue; a render never replaces a photo, "
                             "choose another -o")
        earlier = render_writing_to(s, absolute)
        judged = earlier is not None and s.scalar(select(func.count(Verdict.id)).where(Verdict.render_id == earlier))
    if earlier is not None and judged:
        raise ValueError(f"output {path} is the file of render {earlier}, which has verdicts; choose another -o "
                         f"(or delete render {earlier} first)")
    if (exists or earlier is not None) and not overwrite:
        what = f"the file of render {earlier}" if earlier is not None else "an existing file"
        raise FileExistsError(f"output {path} is {what}; pass --overwrite to replace it, or choose another -o")
    return earlier


def fresh_output(db: Database, folder: Path, stem: str, taken: set[Path]) -> Path:
    """`stem.png`, else `stem-2.png`, `stem-3.png`, …: the first name that is no file, no earlier
    render's record, and not `taken` (the inputs and this run's names); it is added to `taken`."""
    n = 1
    while True:
        candidate = folder / (f"{stem}.png" if n == 1 else f"{stem}-{n}.png")
        resolved = candidate.resolve()
        if resolved not in taken and not candidate.exists():
            with db.reading() as s:
                if render_writing_to(s, str(resolved)) is None:
                    taken.add(resolved)
                    return candidate
        taken.add(resolved)
        n += 1
