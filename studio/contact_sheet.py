"""Contact sheets: a sweep's renders of one photo in a labelled grid, like an X/Y plot.

Columns are the values of the last varying parameter; rows are the combinations of the others.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from prismarec.renderer.images import save_png

from .sweep import SweepTask

THUMB = 160
PAD = 6
LABEL_W = 220
HEADER_H = 28


def grid_axes(tasks: list[SweepTask]) -> tuple[list[tuple], list[Any], str]:
    """(row keys, column values, column name) from the tasks' labels, in sweep order."""
    dims: dict[str, list[Any]] = {}
    for task in tasks:
        for key, value in task.label:
            if value not in dims.setdefault(key, []):
                dims[key].append(value)
    if not dims:
        return [()], [None], ""
    names = list(dims)
    col_name = names[-1]
    rows = list(itertools.product(*(dims[n] for n in names[:-1])))
    return [tuple(zip(names[:-1], r, strict=True)) for r in rows], dims[col_name], col_name


def contact_sheet(tasks: list[SweepTask], path: Path, thumb: int = THUMB) -> tuple[Path, tuple[int, int]]:
    """Write the sheet for one photo's tasks; returns its path and (rows, columns)."""
    rows, cols, col_name = grid_axes(tasks)
    font = ImageFont.load_default(size=13)
    width = LABEL_W + len(cols) * (thumb + PAD) + PAD
    height = HEADER_H + len(rows) * (thumb + PAD) + PAD
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    for c, value in enumerate(cols):
        draw.text((LABEL_W + c * (thumb + PAD) + PAD, 8), f"{col_name}={value}" if col_name else "", fill="black",
                  font=font)
    by_cell = {(tuple((k, v) for k, v in t.label if k != col_name), dict(t.label).get(col_name)): t for t in tasks}
    for r, row in enumerate(rows):
        y = HEADER_H + r * (thumb + PAD) + PAD
        draw.multiline_text((PAD, y + 4), "\n".join(f"{k}={v}" for k, v in row), fill="black", font=font)
        for c, value in enumerate(cols):
            x = LABEL_W + c * (thumb + PAD) + PAD
            task = by_cell.get((row, value))
            try:
                with Image.open(task.output) as img:
                    img.thumbnail((thumb, thumb))
                    sheet.paste(img.convert("RGB"), (x, y))
            except (OSError, AttributeError):
                draw.rectangle((x, y, x + thumb, y + thumb), outline="red")
                draw.text((x + 8, y + thumb // 2), "failed", fill="red", font=font)
    save_png(np.asarray(sheet), path)
    return path, (len(rows), len(cols))
