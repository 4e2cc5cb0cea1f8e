"""Rows of looks for one photo, drawn as labelled thumbnails.

The painting filters sheet (`prismarec styles --sheet`) shows a photo in every built-in filter;
the filter strip (`prismarec strip`, the tune page's row) shows it in its recommended looks and
then in the painting filters, those curators liked most first — Prisma's row of filters.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from prismarec.db.store import CuratedRender
from prismarec.renderer.backbones import Backbone
from prismarec.renderer.images import resize
from prismarec.renderer.painting import FILTERS, describe
from prismarec.renderer.params import RenderParams
from prismarec.renderer.pipeline import render

THUMB = 200
PAD = 8
LABEL_H = 34


@dataclass(frozen=True)
class Look:
    label: str
    params: RenderParams
    confidence: float | None = None  # the recommender's, for the recommended look


def filter_look(index: int | str) -> RenderParams:
    """A painting filter on the whole photo, nothing else: the filter as the network paints it."""
    return RenderParams(mask="all", style="painting", painting=str(index), layer=None)


def filter_looks() -> list[Look]:
    return [Look(f"{i} {name}", filter_look(i)) for i, name in enumerate(FILTERS)]


def liked_filters(rows: Iterable[CuratedRender]) -> list[str]:
    """Painting filters (and blends) by the balance of good over bad verdicts on renders using them."""
    balance: Counter[str] = Counter()
    for row in rows:
        if row.params.style == "painting":
            balance[row.params.painting] += 1 if row.verdict == "good" else -1
    return [spec for spec, n in balance.most_common() if n > 0]


def strip_looks(recommended: RenderParams, alternatives: list[RenderParams], confidence: float,
                liked: list[str]) -> list[Look]:
    """The recommendation, its alternatives, then every painting filter — liked ones first — once each."""
    looks = [Look("recommended", recommended, confidence)]
    looks += [Look(f"alternative {i}", p) for i, p in enumerate(alternatives, 1)]
    shown = {look.params.painting for look in looks if look.params.style == "painting" and look.params.mask == "all"}
    order = liked + [str(i) for i in range(len(FILTERS)) if str(i) not in liked]
    return looks + [Look(describe(spec), filter_look(spec)) for spec in order if spec not in shown]


def render_look(small: np.ndarray, look: Look, net: Backbone | None, guide: np.ndarray | None) -> np.ndarray | None:
    """A look as it renders on a thumbnail (its windows scale with it); None when it needs what is
    missing (a guide for the guide's style, a backbone for a dream)."""
    try:
        return render(small, look.params.replace(size=small.shape[1]), net, guide=guide).image
    except ValueError:
        return None


def caption(look: Look) -> str:
    """The look's label, with the recommender's confidence where it has one (none: nothing liked yet)."""
    if look.confidence is None:
        return look.label
    return look.label + (f" ({look.confidence:.0%} sure)" if look.confidence > 0 else " (nothing liked yet)")


def draw_looks(photo: np.ndarray, looks: list[Look], net: Backbone | None, *, guide: np.ndarray | None = None,
               columns: int | None = None, thumb: int = THUMB, with_photo: bool = True,
               on_look: Callable[[], None] | None = None) -> Image.Image:
    """The photo and each look rendered at thumbnail width, in rows of `columns`, labelled.

    A look that cannot be drawn (`render_look`) is marked."""
    small = resize(photo, thumb)
    cells = [("photo", small)] if with_photo else []
    for look in looks:
        image = render_look(small, look, net, guide)
        cells.append((caption(look) if image is not None else f"{look.label}: not drawn", image))
        if on_look:
            on_look()
    columns = columns or len(cells)
    rows = -(-len(cells) // columns)
    height = small.shape[0]
    sheet = Image.new("RGB", (columns * (thumb + PAD) + PAD, rows * (height + LABEL_H + PAD) + PAD), "white")
    draw, font = ImageDraw.Draw(sheet), ImageFont.load_default(size=13)
    for n, (label, image) in enumerate(cells):
        x, y = PAD + (n % columns) * (thumb + PAD), PAD + (n // columns) * (height + LABEL_H + PAD)
        if image is None:
            draw.rectangle((x, y, x + thumb - 1, y + height - 1), outline="red")
        else:
            sheet.paste(Image.fromarray(image).resize((thumb, height)), (x, y))
        draw.text((x, y + height + 4), label, fill="black", font=font)
    return sheet
