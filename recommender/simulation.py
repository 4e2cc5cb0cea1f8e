"""Generated curators: an evaluation of taste transfer that nobody can tune the learner to.

A SIMULATION, not people. Each curator is drawn from a seed: a palette of 6–12 parameter sets
from the whole parameter space (masks, windows, enhancements, layers, the style stage: fast style
and the painting filters, on the blend or on the photo) and a
taste over a bank of photo descriptors — tone, colour, warmth, tint, saturation, texture,
edges, flat areas, sharpness, faces, orientation, subject size, sky, what the photo shows
(a hand label per source photo). Several are not computed by the product at all (faces, the
subject's size, the label, sky); the others are computed here in their own way. A taste is,
per set, a bias plus weights on 2–4 of those descriptors (some as thresholds), sometimes a
preference for how much of the photo a set's keep map keeps, and the noise of a person:
every verdict is the utility plus Gaussian noise, so near-ties fall either way.

The photos are every real photo bundled with scikit-image, scikit-learn and matplotlib
(grey ones as RGB), distinct regions of the larger ones and three colour-mapped versions of
grey photos (scenes of their own); each scene comes in re-photographed variants (crops,
mirror, exposure, contrast, JPEG, rotation). Regions and tints of one source share a `group`,
so near-duplicates never straddle a split.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache

import numpy as np
from PIL import Image, ImageEnhance
from skimage import color, data, feature, filters

from prismarec.db.store import CuratedRender
from prismarec.renderer.images import resize, to_gray
from prismarec.renderer.painting import FILTERS
from prismarec.renderer.params import ENHANCEMENTS, MASK_CHOICES, STYLE_PLACES, RenderParams
from prismarec.renderer.registry import GOOGLENET_LAYERS

from .ranking import style_key

VARIANT_KINDS = 15  # how many `variants` can give


def variants(image: np.ndarray, count: int) -> list[np.ndarray]:
    """The photo, then what a re-photograph of it changes, up to `count`: crops of 80% at the
    corners, a 60% rescale, a mirror image, brighter and darker exposure, more and less contrast,
    heavy JPEG compression, slight rotations (cropped to the rotated frame) and a centre crop."""
    h, w = image.shape[:2]
    ch, cw = int(h * 0.8), int(w * 0.8)
    pil = Image.fromarray(image)
    out = [image, image[:ch, :cw], image[h - ch :, w - cw :], image[:ch, w - cw :], image[h - ch :, :cw],
           resize(image, max(32, int(w * 0.6)), keep_size=True), image[:, ::-1],
           *(np.asarray(ImageEnhance.Brightness(pil).enhance(f)) for f in (1.3, 0.7)),
           *(np.asarray(ImageEnhance.Contrast(pil).enhance(f)) for f in (1.4, 0.7)), _jpeg(pil, 15),
           *(_rotated(pil, angle) for angle in (6, -6)),
           image[(h - ch) // 2 : (h + ch) // 2, (w - cw) // 2 : (w + cw) // 2]]
    return [np.ascontiguousarray(v) for v in out[:count]]


# The variants a scene gets in the generated-curator evaluation, by index into `variants`: the photo,
# two crops, the mirror image, brighter and darker exposure, less contrast, JPEG at quality 15.
EVAL_VARIANTS = (0, 1, 2, 6, 7, 8, 10, 11)


def _jpeg(pil: Image.Image, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    pil.save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB"))


def _rotated(pil: Image.Image, angle: float) -> np.ndarray:
    """Rotated about the centre, then cropped to 80% so no corner is empty."""
    w, h = pil.size
    return np.asarray(pil.rotate(angle, resample=Image.BICUBIC).crop((w // 10, h // 10, w - w // 10, h - h // 10)))


@dataclass(frozen=True)
class Scene:
    name: str
    group: str  # the source photo: scenes of one group are held out together
    label: str  # what the photo shows: living, made, nature, science
    image: np.ndarray


def _rgb(image: np.ndarray) -> np.ndarray:
    if image.dtype == bool:
        image = image.astype(np.uint8) * 255
    elif image.dtype != np.uint8:
        image = (np.clip(image, 0, 1) * 255).astype(np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.shape[2] == 4:  # over white
        alpha = image[..., 3:] / 255.0
        image = (image[..., :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
    return np.ascontiguousarray(image[..., :3])


def _tinted(gray: np.ndarray, cmap: str) -> np.ndarray:
    from matplotlib import colormaps

    return (colormaps[cmap](to_gray(_rgb(gray)))[..., :3] * 255).astype(np.uint8)


def _matplotlib_photo(name: str) -> np.ndarray:
    from matplotlib import cbook

    return _rgb(np.asarray(Image.open(cbook.get_sample_data(name, asfileobj=False)).convert("RGBA")))


@cache
def scene_bank() -> tuple[Scene, ...]:
    """Every bundled photo as a scene, plus regions of the larger ones and tinted grey photos."""
    from sklearn.datasets import load_sample_images

    china, flower = load_sample_images().images
    left, right, _ = data.stereo_motorcycle()
    sources = {  # name: (label, image)
        "astronaut": ("living", data.astronaut()), "chelsea": ("living", data.chelsea()),
        "coffee": ("made", data.coffee()), "rocket": ("made", data.rocket()),
        "hubble_deep_field": ("science", data.hubble_deep_field()),
        "immunohistochemistry": ("science", data.immunohistochemistry()), "retina": ("science", data.retina()),
        "colorwheel": ("made", data.colorwheel()), "logo": ("made", data.logo()), "motorcycle": ("made", left),
        "china": ("made", china), "flower": ("living", flower),
        "grace_hopper": ("living", _matplotlib_photo("grace_hopper.jpg")),
        "camera": ("living", data.camera()), "brick": ("nature", data.brick()), "grass": ("nature", data.grass()),
        "gravel": ("nature", data.gravel()), "cell": ("science", data.cell()), "clock": ("made", data.clock()),
        "coins": ("made", data.coins()), "moon": ("science", data.moon()), "page": ("made", data.page()),
        "text": ("made", data.text()), "microaneurysms": ("science", data.microaneurysms()),
        "shepp_logan_phantom": ("science", data.shepp_logan_phantom()),
        "checkerboard": ("made", data.checkerboard()), "horse": ("living", data.horse()),
        "binary_blobs": ("science", data.binary_blobs(rng=0)),  # drawn: seeded, one bank every run
    }
    scenes = [Scene(name, name, label, _rgb(image)) for name, (label, image) in sources.items()]
    regions = {  # name: (source, rows, columns) as fractions of the source
        "astronaut_face": ("astronaut", (0.0, 0.55), (0.3, 0.85)), "retina_disc": ("retina", (0.3, 0.7), (0.55, 0.95)),
        "retina_edge": ("retina", (0.0, 0.4), (0.1, 0.6)), "hubble_left": ("hubble_deep_field", (0, 1), (0, 0.5)),
        "coffee_cup": ("coffee", (0.0, 1.0), (0.1, 0.6)), "china_roof": ("china", (0.0, 0.5), (0.2, 0.8)),
        "flower_centre": ("flower", (0.2, 0.8), (0.25, 0.75)), "motorcycle_right": ("motorcycle", (0, 1), (0, 1)),
        "grace_face": ("grace_hopper", (0.05, 0.55), (0.2, 0.8)), "rocket_sky": ("rocket", (0.0, 0.5), (0.0, 0.6)),
    }
    by_name = {s.name: s for s in scenes}
    for name, (source, (r0, r1), (c0, c1)) in regions.items():
        image = _rgb(right) if name == "motorcycle_right" else by_name[source].image
        h, w = image.shape[:2]
        scenes.append(Scene(name, source, by_name[source].label,
                            np.ascontiguousarray(image[int(r0 * h) : int(r1 * h), int(c0 * w) : int(c1 * w)])))
    for source, cmap in (("moon", "copper"), ("cell", "viridis"), ("gravel", "autumn")):
        scenes.append(Scene(f"{source}_{cmap}", source, by_name[source].label, _tinted(by_name[source].image, cmap)))
    return tuple(scenes)


LABELS = ("living", "made", "nature", "science")
DESCRIPTORS = ("luma", "contrast", "saturation", "warmth", "tint", "edges", "flat", "sharpness", "faces",
               "portrait", "subject", "sky", "greenery", *(f"shows_{label}" for label in LABELS))


@cache
def _face_detector() -> feature.Cascade:
    return feature.Cascade(data.lbp_frontal_face_cascade_filename())


def describe(image: np.ndarray, label: str) -> dict[str, float]:
    """The curator's own descriptors of a photo (`DESCRIPTORS`), at 128 px."""
    small = resize(image, 128)
    rgb = small / 255.0
    gray = to_gray(small)
    lab = color.rgb2lab(small)
    h, w = gray.shape
    faces = _face_detector().detect_multi_scale(img=to_gray(resize(image, 256)), scale_factor=1.2, step_ratio=1,
                                                min_size=(24, 24), max_size=(200, 200))
    border = np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]])
    subject = (np.linalg.norm(lab - np.median(border, axis=0), axis=2) > 20).mean()
    top = rgb[: h // 3]
    return {
        "luma": float(gray.mean()), "contrast": float(np.percentile(gray, 95) - np.percentile(gray, 5)),
        "saturation": float(color.rgb2hsv(small)[..., 1].mean()), "warmth": float(lab[..., 2].mean()),
        "tint": float(lab[..., 1].mean()), "edges": float(feature.canny(gray, sigma=1.5).mean()),
        "flat": float((filters.rank.entropy((gray * 255).astype(np.uint8), np.ones((7, 7), bool)) < 2.0).mean()),
        "sharpness": float(np.log1p(filters.laplace(gray).var() * 1e4)), "faces": float(len(faces) > 0),
        "portrait": float(h > w), "subject": float(subject),
        "sky": float((top[..., 2] > top[..., 0] + 0.05).mean()),
        "greenery": float(((rgb[..., 1] > rgb[..., 0] + 0.03) & (rgb[..., 1] > rgb[..., 2] + 0.03)).mean()),
        **{f"shows_{name}": float(label == name) for name in LABELS},
    }


def random_params(rng: np.random.Generator) -> RenderParams:
    """One parameter set from the whole space a curator might sweep."""
    return RenderParams(
        mask=str(rng.choice(MASK_CHOICES)), dd=bool(rng.random() < 0.7), cb=bool(rng.random() < 0.2),
        std_factor=round(float(rng.uniform(0.2, 2.0)), 2), loop_factor=round(float(rng.uniform(0.2, 2.0)), 2),
        n1=int(rng.integers(1, 16)), n2=int(rng.integers(8, 80)), n3=int(rng.choice([1, 1, 60, 120, 180])),
        convd_median_factor=round(float(rng.uniform(0.5, 3.0)), 2),
        convd_big_factor=round(float(rng.choice([0.0, 0.0, rng.uniform(0.1, 1.0)])), 2),
        rb_rate=round(float(rng.choice([1.0, 1.0, rng.uniform(0.8, 1.0)])), 2),
        enhance=None if rng.random() < 0.3 else str(rng.choice(ENHANCEMENTS)),
        enhance_factor=None if rng.random() < 0.6 else round(float(rng.uniform(0.5, 4.0)), 2),
        style=_random_style(rng), painting=_random_painting(rng), style_at=str(rng.choice(STYLE_PLACES)),
        style_strength=round(float(rng.uniform(0.3, 1.0)), 2),
        layer=None if rng.random() < 0.15 else str(rng.choice(list(GOOGLENET_LAYERS)[:12])),
        iter_n=int(rng.integers(5, 20)), step_size=round(float(rng.uniform(0.01, 3.0)), 2))


def _random_style(rng: np.random.Generator) -> str | None:
    """No style on about half the sets; a painting filter on a quarter, fast style on a quarter."""
    return str(rng.choice(["painting", "fast"], p=[0.5, 0.5])) if rng.random() < 0.5 else None


def _random_painting(rng: np.random.Generator) -> str:
    """One of the painting filters, or a blend of two."""
    a, b = (int(i) for i in rng.choice(len(FILTERS), size=2, replace=False))
    return str(a) if rng.random() < 0.7 else f"{a}+{b}"


@dataclass
class Curator:
    """A generated curator: a palette and a taste (`utility`), with a person's noise."""

    name: str
    palette: list[RenderParams]
    traits: list[str]  # the descriptors this curator's taste reads
    weights: np.ndarray  # (sets, traits)
    thresholds: np.ndarray  # (sets, traits): NaN where the trait counts linearly, else a step at this z-score
    bias: np.ndarray  # (sets,)
    keep_target: float | None  # a liking for renders that keep this share of the photo (None: indifferent)
    noise: float
    goods: int  # how many sets per photo are tagged good (scores 5, 4, …)
    bads: int

    @classmethod
    def generate(cls, seed: int) -> Curator:
        rng = np.random.default_rng(seed)
        palette = list({style_key(p): p for p in (random_params(rng) for _ in range(rng.integers(6, 13)))}.values())
        traits = [str(t) for t in rng.choice(DESCRIPTORS, size=int(rng.integers(2, 5)), replace=False)]
        shape = (len(palette), len(traits))
        weights = rng.normal(0, 1, shape) * (rng.random(shape) < 0.7)
        thresholds = np.where(rng.random(shape) < 0.4, rng.normal(0, 0.7, shape), np.nan)
        return cls(f"random-{seed}", palette, traits, weights, thresholds, rng.normal(0, 0.4, len(palette)),
                   float(rng.uniform(0.2, 0.8)) if rng.random() < 0.3 else None, float(rng.uniform(0.05, 0.3)),
                   int(rng.integers(1, 4)), int(rng.integers(1, 3)))

    def utility(self, z: dict[str, float], kept: np.ndarray) -> np.ndarray:
        """How much this curator likes each palette set on a photo (`z`: standardised descriptors;
        `kept`: the share each set's keep map keeps), before noise."""
        x = np.array([z[t] for t in self.traits])
        terms = np.where(np.isnan(self.thresholds), x, 1.5 * (x > np.nan_to_num(self.thresholds)) - 0.75)
        score = self.bias + (self.weights * terms).sum(axis=1)
        if self.keep_target is not None:
            score = score - 3.0 * np.abs(kept - self.keep_target)
        return score

    def verdicts(self, photo_id: int, utility: np.ndarray, rng: np.random.Generator, first_render_id: int
                 ) -> tuple[list[CuratedRender], list[tuple[int, RenderParams]]]:
        """Tag one photo's renders (one per palette set) as a person would: the noisy best `goods`
        good (5, 4, …), the worst `bads` bad, the rest seen and left untagged."""
        order = np.argsort(-(utility + rng.normal(0, self.noise, len(utility))))
        rows, seen = [], []
        for rank, i in enumerate(order):
            verdict = "good" if rank < self.goods else "bad" if rank >= len(order) - self.bads else None
            if verdict is None:
                seen.append((photo_id, self.palette[i]))
            else:
                rows.append(CuratedRender(photo_id, first_render_id + int(i), None, self.palette[i], verdict,
                                          5 - rank if verdict == "good" else 1, self.name))
        return rows, seen


def parse_curators(spec: str) -> int:
    """`random:N` -> N."""
    kind, _, count = spec.partition(":")
    if kind != "random" or not count.isdigit() or int(count) < 1:
        raise ValueError(f"--curators takes random:N (N generated curators), not {spec!r}")
    return int(count)
