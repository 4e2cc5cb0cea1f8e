"""The one parameter set shared by the renderer, database, recommender, CLI and web page."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, fields
from typing import Any

MASK_PARTS = ("otsu", "features", "stdmean", "all")
ENHANCEMENTS = ("Sharpness", "Brightness", "Contrast", "Color", "CONTOUR", "EDGES", "EMBOSS", "EEM", "EE")

# Numeric fields: (low, high) inclusive; the keep-map and mask factors use the book controller's ranges.
RANGES: dict[str, tuple[float, float]] = {
    "std_factor": (0.0, 2.0),
    "loop_factor": (0.0, 2.0),
    "n1": (1, 480),
    "n2": (1, 480),
    "n3": (1, 480),
    "convd_median_factor": (0.0, 5.0),
    "convd_big_factor": (0.0, 1.0),
    "rb_rate": (0.0, 1.0),
    "seed": (0, 2**32 - 1),
    "enhance_factor": (0.0, 20.0),
    "iter_n": (1, 200),
    "octave_n": (1, 10),
    "octave_scale": (1.05, 4.0),
    "step_size": (0.01, 20.0),
    "jitter": (0, 256),
    "size": (32, 4096),
}

HELP: dict[str, str] = {
    "mask": "which pixels survive: otsu, features, stdmean, all, or a '+' combination",
    "dd": "otsu keeps the bright side (true) or the dark side (false)",
    "cb": "clear mask objects that touch the border",
    "std_factor": "stdmean keeps pixels outside mean ± std_factor·std",
    "loop_factor": "features grow corner peaks by width/10·loop_factor pixels",
    "n1": "small box window: keeps the rough structure",
    "n2": "medium box window: keeps enclosed parts",
    "n3": "big box window: removes scattered edges (1 = off)",
    "convd_median_factor": "keep where medium mean > factor·mean(big)",
    "convd_big_factor": "or where small > 0 and big > factor·mean(big)",
    "rb_rate": "below 1, channels R, G, B keep with probability rate, rate−0.1, rate−0.2",
    "seed": "seeds the rb_rate dither and the dream jitter",
    "enhance": "Pillow enhancement before the dream, or None",
    "enhance_factor": "its strength; None uses the book's (Sharpness 8.8, Brightness 1.8, Contrast 2.6, Color 7.6)",
    "layer": "network layer to dream (`prismarec layers`), or None for no dream",
    "guide_dream": "steer the dream toward the guide's features instead of amplifying the layer",
    "iter_n": "gradient steps per octave",
    "octave_n": "number of scales dreamt, coarse to fine",
    "octave_scale": "size ratio between octaves",
    "step_size": "step in 0-255 pixel units, normalised by the mean gradient",
    "jitter": "random shift (pixels) before each step, hides the grid",
    "size": "working width in pixels",
    "keep_size": "keep the aspect ratio (true) or make it square like the book (false)",
}


@dataclass(frozen=True)
class RenderParams:
    """Every knob of a render, with the book's defaults.

    Frozen: derive variants with `dataclasses.replace` (or `.replace`). Stored as JSON
    through `to_dict` / `from_dict`; unknown keys and out-of-range values raise `ValueError`.
    """

    # mask: which pixels of the photo survive
    mask: str = "otsu"  # otsu | features | stdmean | all, or a "+" combination
    dd: bool = True  # otsu keeps the bright side (True) or the dark side (False)
    cb: bool = False  # clear mask objects touching the border
    std_factor: float = 1.0  # stdmean band: outside mean ± std_factor·std
    loop_factor: float = 1.0  # features: growth radius = width/10·loop_factor
    # keep map: box filters of the mask and the keep condition
    n1: int = 5  # small window
    n2: int = 28  # medium window
    n3: int = 1  # big window
    convd_median_factor: float = 1.5
    convd_big_factor: float = 0.0
    rb_rate: float = 1.0  # per-channel keep probability (R, R-0.1, R-0.2) below 1
    seed: int = 0  # seeds the rb_rate dither and the dream jitter
    # enhancement before the dream
    enhance: str | None = None  # one of ENHANCEMENTS or None
    enhance_factor: float | None = None  # None: the book's default for that enhancement
    # dream
    layer: str | None = "conv2/3x3_reduce"  # book blob name or backbone layer; None: no dream
    guide_dream: bool = False  # steer the dream toward the guide's features instead of amplifying
    iter_n: int = 10
    octave_n: int = 4
    octave_scale: float = 1.4
    step_size: float = 1.5  # in 0-255 pixel units, as the book
    jitter: int = 32
    # geometry
    size: int = 480  # working width
    keep_size: bool = False  # keep aspect ratio (True) or square like the book (False)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in RANGES and value is not None:
                _check_number(f.name, value, f.type)
        for f in fields(self):
            if f.type == "bool" and not isinstance(getattr(self, f.name), bool):
                raise ValueError(f"{f.name} must be true or false, got {getattr(self, f.name)!r}")
        parts = mask_parts(self.mask)
        if not parts:
            raise ValueError(f"mask must be one of {', '.join(MASK_PARTS)} or a '+' combination, got {self.mask!r}")
        if self.enhance is not None and self.enhance not in ENHANCEMENTS:
            raise ValueError(f"enhance must be None or one of {', '.join(ENHANCEMENTS)}, got {self.enhance!r}")
        if self.layer is not None and (not isinstance(self.layer, str) or not self.layer):
            raise ValueError(f"layer must be a layer name or None, got {self.layer!r}")

    def replace(self, **changes: Any) -> RenderParams:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RenderParams:
        unknown = sorted(set(data) - set(field_names()))
        if unknown:
            raise ValueError(f"unknown parameter(s) {', '.join(unknown)}; valid: {', '.join(field_names())}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> RenderParams:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"parameters are not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError("parameters JSON must be an object")
        return cls.from_dict(data)


def allowed(name: str) -> str:
    """The values a field accepts, in words, for help texts."""
    if name in RANGES:
        low, high = RANGES[name]
        return f"{low} – {high}" + (" or None" if name == "enhance_factor" else "")
    return {"mask": " | ".join(MASK_PARTS) + ", or a+b", "enhance": "None | " + " | ".join(ENHANCEMENTS),
            "layer": "a layer name or None"}.get(name, "true | false")


def field_names() -> list[str]:
    return [f.name for f in fields(RenderParams)]


def field_types() -> dict[str, str]:
    return {f.name: str(f.type) for f in fields(RenderParams)}


def mask_parts(mask: Any) -> list[str]:
    """Split a mask spec like 'otsu+features'; empty list when any part is unknown."""
    if not isinstance(mask, str):
        return []
    parts = [p.strip() for p in mask.split("+")]
    return parts if parts and all(p in MASK_PARTS for p in parts) else []


def parse_value(text: str) -> Any:
    """Parse a `--set` value: None, true/false, int, float, else the string itself."""
    low = text.strip().lower()
    if low in ("none", "null"):
        return None
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_assignments(items: list[str]) -> dict[str, Any]:
    """Turn ['n1=5', 'layer=None'] into {'n1': 5, 'layer': None}."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"expected key=value, got {item!r}")
        out[key.strip()] = parse_value(value)
    return out


def _check_number(name: str, value: Any, type_name: str) -> None:
    wants_int = type_name.startswith("int")
    ok_types = (int,) if wants_int else (int, float)
    if isinstance(value, bool) or not isinstance(value, ok_types):
        kind = "an integer" if wants_int else "a number"
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    low, high = RANGES[name]
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value!r}")
