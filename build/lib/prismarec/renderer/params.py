"""The one parameter set shared by the renderer, database, recommender, CLI and web page.

Each field is declared once, with its default, its accepted range, the narrower range a
slider offers (the book controller's, for comfort) and its meaning; help texts, validation
and the web controls are generated from that declaration.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, fields
from typing import Any

from .painting import FILTERS, canonical_painting, parse_painting

log = logging.getLogger(__name__)

MASK_PARTS = ("otsu", "features", "stdmean", "all")
BACKBONES = ("googlenet", "efficientnet-lite0")  # the networks a dream can run on (`renderer.backbones`)
DEFAULT_MAX_SECONDS = 300.0  # what the CLI and the web page allow one render unless told otherwise
# The masks offered as choices: each part alone, and the book's combinations.
MASK_CHOICES = (*MASK_PARTS, "otsu+features", "otsu+stdmean", "stdmean+features", "otsu+stdmean+features")
# `renderer.style`: feed-forward arbitrary style, the book's PrismaTensor, and the 26 painting filters
STYLES = ("fast", "gatys", "painting")
STYLE_PLACES = ("blend", "photo")  # what the style paints: the photo-guide blend (the book's order), or the photo
ENHANCEMENTS = ("Sharpness", "Brightness", "Contrast", "Color", "CONTOUR", "EDGES", "EMBOSS", "EEM", "EE")

# Version of the stored parameter schema. 1: conv layers were dreamt after their ReLU (no
# `post_relu` field). 2: `post_relu` added, pre-ReLU by default as Caffe's forward(end=blob).
# 3: the style stage (`style`, `style_strength`, `style_iters`), off by default.
# 4: painting filters (`style=painting`, `painting`) and where the style paints (`style_at`).
# 5: `size` is auto, full or a width, and the windows `n1`-`n3` and `jitter` are stated at
#    REFERENCE_WIDTH whatever the size (before, in pixels of the render's own width).
PARAMS_VERSION = 5
REFERENCE_WIDTH = 480  # the book's working width: windows and jitter are stated in its pixels
AUTO_LONG_SIDE = 1080  # size=auto: the photo's own resolution, the long side at most this (Prisma's)
SIZES = ("auto", "full")  # besides a width in pixels


ROLES = ("mask", "keep", "enhance", "style", "dream", "geometry")  # the stage a field belongs to


def _field(role: str, default: Any, meaning: str, low: float | None = None, high: float | None = None,
           slider: tuple[float, float] | None = None) -> Any:
    """A dataclass field carrying its role (the stage it sets), meaning, accepted range and slider range."""
    assert role in ROLES, role
    meta = {"role": role, "help": meaning}
    if low is not None:
        meta |= {"range": (low, high), "slider": slider or (low, high)}
    return dataclasses.field(default=default, metadata=meta)


@dataclass(frozen=True)
class RenderParams:
    """Every knob of a render, with the book's defaults.

    Frozen: derive variants with `dataclasses.replace` (or `.replace`). Stored as JSON
    through `to_dict` / `from_dict`; unknown keys and out-of-range values raise `ValueError`.
    Ranges admit every value the book's worker and chapter use; `from_stored` loads
    parameters recorded under older rules without refusing them.
    """

    # mask: which pixels of the photo survive
    mask: str = _field("mask", "otsu", "which pixels survive: otsu, features, stdmean, all, or a '+' combination")
    dd: bool = _field("mask", True, "otsu keeps the bright side (true) or the dark side (false)")
    cb: bool = _field("mask", False, "clear mask objects that touch the border")
    std_factor: float = _field("mask", 1.0, "stdmean keeps pixels outside mean ± std_factor·std", 0.0, 10.0, (0.0, 2.0))
    loop_factor: float = _field("mask", 1.0, "features grow corner peaks by width/10·loop_factor pixels", 0.0, 10.0,
                                (0.0, 2.0))
    # keep map: box filters of the mask and the keep condition
    n1: int = _field("keep", 5, "small box window, in pixels at 480 px wide: keeps the rough structure", 1, 4096,
                     (1, 240))
    n2: int = _field("keep", 28, "medium box window, in pixels at 480 px wide: keeps enclosed parts", 1, 4096, (1, 240))
    n3: int = _field("keep", 1, "big box window, in pixels at 480 px wide: removes scattered edges (1 = off)", 1, 4096,
                     (1, 240))
    convd_median_factor: float = _field("keep", 1.5, "keep where medium mean > factor·mean(big)", 0.0, 20.0,
                                        (0.0, 5.0))
    convd_big_factor: float = _field("keep", 0.0, "or where small > 0 and big > factor·mean(big)", 0.0, 20.0,
                                     (0.0, 1.0))
    rb_rate: float = _field("keep", 1.0, "below 1, channels R, G, B keep with probability rate, rate−0.1, rate−0.2",
                            0.0, 1.0)
    seed: int = _field("keep", 0, "seeds the rb_rate dither and the dream jitter", 0, 2**32 - 1, (0, 1000))
    # enhancement before the dream
    enhance: str | None = _field("enhance", None, "Pillow enhancement before the dream, or None")
    enhance_factor: float | None = _field(
        "enhance", None, "its strength; None uses the book's (Sharpness 8.8, Brightness 1.8, Contrast 2.6, Color 7.6)",
        0.0, 20.0)
    # style: the guide image painted onto the blend, before the dream
    style: str | None = _field("style", None, "paint before the dream: painting (a built-in filter, no guide "
                                              "needed), fast (the guide's style, a feed-forward network, about a "
                                              "second), gatys (the guide's style, the book's PrismaTensor, "
                                              "minutes), or None")
    painting: str = _field("style", "0", "painting: the filter 0-25 (`prismarec styles`) or a blend, 3+12 or "
                                         "3:0.7+12:0.3")
    style_at: str = _field("style", "blend", "what the style paints: blend (the photo-guide blend, the book's "
                                             "order) or photo (the photo itself, then the blend: the subject "
                                             "survives)")
    style_strength: float = _field("style", 1.0, "fast: how far the style moves from the photo's own look toward the "
                                        "guide's (0 keeps the photo's); painting: how much of the painting "
                                        "covers the image", 0.0, 1.0)
    style_iters: int = _field("style", 800, "gatys: Adam iterations (the chapter's experiment uses 1500)", 1, 5000,
                              (10, 2000))
    # dream
    layer: str | None = _field("dream", "conv2/3x3_reduce", "network layer to dream (`prismarec layers`), or None "
                                                            "for no dream")
    post_relu: bool = _field("dream", False, "dream a conv layer after its ReLU instead of before (Caffe's blob)")
    guide_dream: bool = _field("dream", False, "steer the dream toward the guide's features instead of amplifying "
                                               "the layer")
    iter_n: int = _field("dream", 10, "gradient steps per octave", 1, 5000, (1, 100))
    octave_n: int = _field("dream", 4, "number of scales dreamt, coarse to fine", 1, 12, (1, 8))
    octave_scale: float = _field("dream", 1.4, "size ratio between octaves", 1.05, 4.0, (1.05, 2.0))
    step_size: float = _field("dream", 1.5, "step in 0-255 pixel units, normalised by the mean gradient", 0.01, 20.0,
                              (0.01, 5.0))
    jitter: int = _field("dream", 32, "random shift (pixels at 480 px wide) before each step, hides the tiling grid", 0,
                         512, (0, 128))
    # geometry
    size: int | str = _field("geometry", "auto", "output width: auto (the photo's own, the long side at most "
                                                 "1080), full (every pixel) or a width in pixels; the height "
                                                 "follows the photo", 32, 8192)
    keep_size: bool = _field("geometry", True, "keep the photo's proportions (true) or make it square like the book's "
                                   "worker (false)")

    def __post_init__(self) -> None:
        for f in fields(self):
            check_field(f.name, getattr(self, f.name))
        object.__setattr__(self, "painting", canonical_painting(self.painting))  # `12+3` and `3+12` are one set

    def replace(self, **changes: Any) -> RenderParams:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RenderParams:
        if not isinstance(data, dict):
            raise ValueError(f"parameters must be a JSON object of name: value, got {type(data).__name__}")
        unknown = sorted(set(data) - set(field_names()))
        if unknown:
            raise ValueError(f"unknown parameter(s) {', '.join(map(str, unknown))}; valid: {', '.join(field_names())}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> RenderParams:
        return cls.from_dict(parse_json(text))

    @classmethod
    def from_stored(cls, data: Any, version: int | None = PARAMS_VERSION) -> tuple[RenderParams, list[str]]:
        """Parameters recorded by any version, never refused: upgraded to this schema, values
        that today's rules reject replaced (clamped into range, else the default).

        Returns the parameters and one note per change, for logs and migrations.
        """
        notes: list[str] = []
        if isinstance(data, str):
            try:
                data = parse_json(data)
            except ValueError as exc:
                data, notes = {}, [str(exc)]
        if not isinstance(data, dict):
            data, notes = {}, [f"stored parameters were {type(data).__name__}, not an object: defaults used"]
        data = dict(data)
        if (version or 1) < 2 and "post_relu" not in data:
            data["post_relu"] = True  # version 1 dreamt conv layers after their ReLU
        if (version or 1) < 5:
            _to_reference_width(data)
        default = cls()
        values = {}
        for f in fields(cls):
            value = data.pop(f.name, getattr(default, f.name))
            try:
                check_field(f.name, value)
            except ValueError as exc:
                value = _repaired(f.name, value, getattr(default, f.name))
                notes.append(f"{exc}: using {value!r}")
            values[f.name] = value
        notes += [f"unknown parameter {key!r} dropped" for key in sorted(map(str, data))]
        return cls(**values), notes


def _to_reference_width(data: dict[str, Any]) -> None:
    """Before version 5 the windows and jitter were pixels of the render's own width (480 when not
    stored): restated at REFERENCE_WIDTH, so the stored set renders as it did."""
    size = data.setdefault("size", REFERENCE_WIDTH)
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0 or size == REFERENCE_WIDTH:
        return
    for name, least in (("n1", 1), ("n2", 1), ("n3", 1), ("jitter", 0)):
        value = data.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            data[name] = max(least, round(value * REFERENCE_WIDTH / size))


def _repaired(name: str, value: Any, default: Any) -> Any:
    """An out-of-range number clamped into range (as an int for int fields); anything else the default."""
    spec = field_specs()[name]
    if "range" in spec and isinstance(value, int | float) and not isinstance(value, bool) and value == value:
        low, high = spec["range"]
        clamped = min(max(value, low), high)
        return round(clamped) if spec["type"].startswith("int") else float(clamped)
    return default


def parse_json(text: str | bytes) -> Any:
    """`json.loads` whose every failure (syntax, nesting too deep, bad bytes) is a one-line ValueError."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc})") from None
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except UnicodeDecodeError:
        raise ValueError("JSON is not UTF-8 text") from None


def check_field(name: str, value: Any) -> None:
    """Raise a ValueError naming the field, the bad value and what is allowed."""
    spec = field_specs()[name]
    kind = spec["type"]
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false, got {value!r}")
    elif "range" in spec:
        if (value is None and "None" in kind) or (name == "size" and value in SIZES):
            return
        wants_int = kind.startswith("int")
        if isinstance(value, bool) or not isinstance(value, int if wants_int else int | float):
            raise ValueError(f"{name} must be {'an integer' if wants_int else 'a number'}, got {value!r}")
        low, high = spec["range"]
        if not low <= value <= high:  # NaN fails too
            raise ValueError(f"{name} must be in [{low}, {high}], got {value!r}")
    elif name == "mask":
        if not mask_parts(value):
            raise ValueError(f"mask must be one of {', '.join(MASK_PARTS)} or a '+' combination, got {value!r}")
    elif name == "enhance":
        if value is not None and value not in ENHANCEMENTS:
            raise ValueError(f"enhance must be None or one of {', '.join(ENHANCEMENTS)}, got {value!r}")
    elif name == "style":
        if value is not None and value not in STYLES:
            raise ValueError(f"style must be None or one of {', '.join(STYLES)}, got {value!r}")
    elif name == "painting":
        parse_painting(value)
    elif name == "style_at":
        if value not in STYLE_PLACES:
            raise ValueError(f"style_at must be one of {', '.join(STYLE_PLACES)}, got {value!r}")
    elif name == "layer" and value is not None and (not isinstance(value, str) or not value):
        raise ValueError(f"layer must be a layer name or None, got {value!r}")


_SPECS: dict[str, dict[str, Any]] = {}


def field_specs() -> dict[str, dict[str, Any]]:
    """name -> {"type", "kind" (bool, int, float, text), "optional", "help", for numbers "range"
    and "slider", for named values "choices" (layers depend on the backbone)}: every front end's
    controls and help come from here."""
    if not _SPECS:
        choices = {"mask": MASK_CHOICES, "enhance": ENHANCEMENTS, "style": STYLES, "style_at": STYLE_PLACES,
                   "size": (*SIZES, "480", "1080", "2048"),
                   "painting": tuple(str(i) for i in range(len(FILTERS)))}
        for f in fields(RenderParams):
            kind = str(f.type).split(" | ")[0]
            _SPECS[f.name] = {"type": str(f.type), "kind": "text" if kind == "str" else kind,
                              "optional": "None" in str(f.type), **f.metadata,
                              **({"choices": choices[f.name]} if f.name in choices else {})}
    return _SPECS


def allowed(name: str) -> str:
    """The values a field accepts, in words, for help texts."""
    spec = field_specs()[name]
    if name == "size":
        return "auto | full | a width, 32 – 8192"
    if "range" in spec:
        low, high = spec["range"]
        return f"{low} – {high}" + (" or None" if "None" in spec["type"] else "")
    words = {"mask": " | ".join(MASK_PARTS) + ", or a+b", "layer": "a layer name or None",
             "painting": f"0 – {len(FILTERS) - 1}, or a blend a+b (a:0.7+b:0.3)"}
    if name in words:
        return words[name]
    if "choices" in spec:
        return ("None | " if spec["optional"] else "") + " | ".join(spec["choices"])
    return "true | false"


def field_names() -> list[str]:
    return [f.name for f in fields(RenderParams)]


def fields_of(role: str) -> tuple[str, ...]:
    """The fields that set one stage (`ROLES`), in declaration order."""
    return tuple(f.name for f in fields(RenderParams) if f.metadata["role"] == role)


RANGES: dict[str, tuple[float, float]] = {n: s["range"] for n, s in field_specs().items() if "range" in s}
SLIDERS: dict[str, tuple[float, float]] = {n: s["slider"] for n, s in field_specs().items() if "slider" in s}
HELP: dict[str, str] = {n: s["help"] for n, s in field_specs().items()}


def output_width(params: RenderParams, shape: tuple[int, ...]) -> int:
    """The render's width for a photo of `shape` (H, W, ...): `size` resolved."""
    h, w = shape[:2]
    if params.size == "full":
        return w
    if params.size == "auto":
        return w if max(h, w) <= AUTO_LONG_SIDE else max(1, round(w * AUTO_LONG_SIDE / max(h, w)))
    return int(params.size)


def at_width(params: RenderParams, width: int) -> RenderParams:
    """The working parameters of a render `width` wide: the windows and jitter, stated at
    REFERENCE_WIDTH, scaled to it, so a set looks the same at every size (the book's `n1`-`n3`
    are pixels of its 480-pixel image; at 1080 pixels the same windows would keep other pixels).
    For the stages only: what is stored is the set as stated."""
    ratio = width / REFERENCE_WIDTH
    return params.replace(size=width, n1=max(1, round(params.n1 * ratio)), n2=max(1, round(params.n2 * ratio)),
                          n3=max(1, round(params.n3 * ratio)), jitter=round(params.jitter * ratio))


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
