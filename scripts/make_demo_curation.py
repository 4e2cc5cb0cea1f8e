"""Build a small curated database from the bundled real photos — with a SIMULATED curator.

No person judged these renders. Each photo from `skimage.data` is registered with several
crops and scales, rendered with a palette of parameter sets and Hubble's deep field as the
guide, and rated by a documented, deterministic rule standing in for a curator's taste:

* a render should keep about half of the photo: the rule scores |kept fraction − 0.5|;
* dark photos (mean luma < 0.4) want `enhance=Brightness`, washed-out ones (luma std
  < 0.18) `enhance=Contrast`, colourless ones (mean saturation < 0.1) any enhancement
  but `Color`, which adds nothing to grey;
* busy photos (Sobel edge density > 0.12) prefer shallow layers (`conv*`), calm ones deep
  layers (`inception*`), since deep layers paint structure where there is room for it;
* calm photos want a painting filter (`style=painting`) over everything else.

A second simulated curator, `--taste vivid` (curator "vivid"), has a different rule:

* it wants a render to keep little of the photo on colourful photos (kept share near 0.25
  when mean saturation > 0.2) and most of it on pale ones (near 0.75);
* soft photos (Sobel edge density < 0.12) want `enhance=Sharpness` or `Contrast`; busy ones
  want no enhancement;
* bright photos (mean luma > 0.5) want the `rb_rate` dither (below 1) and dark ones none;
* and it favours deep layers on colourful photos, shallow ones on pale photos;
* on colourful photos any painterly style (a filter or the guide's) comes first.

A third, `--taste warm` (curator "warm"), judges by a trait the other two ignore, the photo's
colour balance (mean red minus mean blue, `warmth`):

* warm photos (warmth > 0.05) should keep little of the photo (near 0.35) and get
  `enhance=Color`; cool or neutral ones keep more (near 0.65) and want no colour boost;
* high-contrast photos (luma std > 0.22) want the `rb_rate` dither;
* and it favours deep layers on bright photos (mean luma > 0.45);
* warm photos want a painting filter painted on the photo itself (`style_at=photo`).

Per photo, the two best renders are tagged good (scores 5 and 4) and the two worst bad,
by the curator "simulated" (or "vivid"). Because the rule depends on the photo's content, similar photos
(crops of one scene) share their best parameters and different scenes differ: the kind of
data on which a recommender can be checked.

Run: .venv/bin/python -m prismarec.scripts.make_demo_curation [--size 160] [--variants 4] [--taste vivid|warm]
[--scenes more]
"""

from __future__ import annotations

import argparse

import numpy as np
import skimage.data
from PIL import Image
from skimage import color, filters

from prismarec.db import Database, data_home
from prismarec.db.store import tag
from prismarec.indexer.catalog import Catalog
from prismarec.recommender.simulation import VARIANT_KINDS, variants
from prismarec.renderer.backbones import load_backbone
from prismarec.renderer.images import resize, to_gray
from prismarec.renderer.params import RenderParams
from prismarec.studio.recording import render_and_record

from .sample_photos import NAMES

PALETTE = [
    RenderParams(),
    RenderParams(dd=False, layer="conv2/3x3"),
    RenderParams(mask="stdmean", n2=40, layer="inception_3b/output", enhance="Contrast"),
    RenderParams(mask="otsu+features", loop_factor=0.4, enhance="Brightness", layer="conv2/3x3_reduce"),
    RenderParams(mask="features", loop_factor=0.6, enhance="Color", layer="inception_4c/output", rb_rate=0.9),
    RenderParams(dd=False, n2=60, enhance="Brightness", layer="inception_4a/output"),
    RenderParams(mask="stdmean", std_factor=0.5, enhance="Sharpness", layer="conv1/7x7_s2", rb_rate=0.85),
    RenderParams(n1=9, n2=20, convd_median_factor=1.0, enhance="Contrast", layer="inception_4c/output"),
    # painterly looks: filters on the whole photo (mask `all` keeps every pixel), a painted photo
    # blended with the guide under a gentle dream, and the guide's own style
    RenderParams(mask="all", style="painting", painting="4+10", style_strength=0.9, layer=None),
    RenderParams(mask="all", style="painting", painting="19", layer=None),
    RenderParams(style="painting", painting="0", style_at="photo", layer="conv2/3x3", iter_n=4),
    RenderParams(mask="all", style="fast", style_strength=0.6, layer=None),
]


def photo_traits(image: np.ndarray) -> dict[str, float]:
    small = resize(image, 160)
    gray, rgb = to_gray(small), small / 255.0
    return {"luma": float(gray.mean()), "contrast": float(gray.std()),
            "saturation": float(color.rgb2hsv(small)[..., 1].mean()),
            "edges": float((filters.sobel(gray) > 0.05).mean()),
            "warmth": float(rgb[..., 0].mean() - rgb[..., 2].mean())}


def simulated_score(traits: dict[str, float], params: RenderParams, kept: float) -> float:
    """Higher is better; see the module docstring for the rule."""
    score = -abs(kept - 0.5) * 2
    if traits["luma"] < 0.4:
        score += 0.8 if params.enhance == "Brightness" else 0.0
    if traits["contrast"] < 0.18:
        score += 0.8 if params.enhance == "Contrast" else 0.0
    if traits["saturation"] < 0.1 and params.enhance == "Color":
        score -= 0.8
    deep = (params.layer or "").startswith("inception")
    score += 0.6 if deep == (traits["edges"] < 0.12) else 0.0
    return score + (2.0 if params.style == "painting" and traits["edges"] < 0.12 else 0.0)


def vivid_score(traits: dict[str, float], params: RenderParams, kept: float) -> float:
    """The second simulated curator; see the module docstring."""
    colourful = traits["saturation"] > 0.2
    score = -abs(kept - (0.25 if colourful else 0.75)) * 2
    if traits["edges"] < 0.12:
        score += 0.7 if params.enhance in ("Sharpness", "Contrast") else 0.0
    else:
        score += 0.5 if params.enhance is None else 0.0
    score += 0.5 if (params.rb_rate < 1) == (traits["luma"] > 0.5) else 0.0
    deep = (params.layer or "").startswith("inception")
    return score + (0.6 if deep == colourful else 0.0) + (2.0 if params.style and colourful else 0.0)


def warm_score(traits: dict[str, float], params: RenderParams, kept: float) -> float:
    """The third simulated curator; see the module docstring."""
    warm = traits["warmth"] > 0.05
    score = -abs(kept - (0.35 if warm else 0.65)) * 2
    score += 0.7 if (params.enhance == "Color") == warm else 0.0
    score += 0.5 if (params.rb_rate < 1) == (traits["contrast"] > 0.22) else 0.0
    deep = (params.layer or "").startswith("inception")
    painted_photo = params.style == "painting" and params.style_at == "photo"
    return score + (0.6 if deep == (traits["luma"] > 0.45) else 0.0) + (2.0 if painted_photo and warm else 0.0)


TASTES = {"simulated": simulated_score, "vivid": vivid_score, "warm": warm_score}
# More real scenes from scikit-image (grey ones converted to RGB), for evaluations across scenes.
MORE_NAMES = (*NAMES, "moon", "page", "clock", "brick", "grass", "gravel", "cell", "colorwheel", "text")


def build(size: int = 160, count: int = 4, names: tuple[str, ...] = NAMES, db_url: str | None = None,
          backbone: str = "auto", palette: list[RenderParams] = PALETTE, quiet: bool = False,
          taste: str = "simulated") -> Catalog:
    """Register, render and tag; returns the catalogue (database, backbone and index)."""
    home = data_home()
    catalog = Catalog(Database(db_url), load_backbone(backbone))
    db = catalog.db
    photo_dir, render_dir = home / "demo-photos", home / "demo-renders"
    photo_dir.mkdir(parents=True, exist_ok=True)
    guide_path = photo_dir / "guide-hubble_deep_field.png"
    Image.fromarray(skimage.data.hubble_deep_field()).save(guide_path)
    guide = catalog.register_guide(guide_path)
    for name in names:
        source = np.asarray(Image.fromarray(getattr(skimage.data, name)()).convert("RGB"))
        for i, image in enumerate(variants(source, count)):
            path = photo_dir / f"{name}-{i}.png"
            Image.fromarray(image).save(path)
            photo = catalog.register(path)
            traits = photo_traits(image)
            scored = []
            for j, params in enumerate(palette):
                params = params.replace(size=size)
                output = render_dir / f"{name}-{i}-{j}.png"
                render_id, result = render_and_record(catalog, photo, params, output, guide=guide, replace=True)
                scored.append((TASTES[taste](traits, params, float(result.keep.mean())), render_id))
            scored.sort(reverse=True)
            with db.session() as s:
                tag(s, scored[0][1], taste, "good", 5, "simulated")
                tag(s, scored[1][1], taste, "good", 4, "simulated")
                for _, render_id in scored[-2:]:
                    tag(s, render_id, taste, "bad", 1, "simulated")
            if not quiet:
                print(f"{path.name}: best render {scored[0][1]} ({scored[0][0]:.2f})", flush=True)
    return catalog


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=160, help="working width of the curation renders")
    parser.add_argument("--variants", type=int, default=4,
                        help=f"versions of each photo: crops, scale, mirror, exposure, contrast, JPEG, "
                             f"rotation (1-{VARIANT_KINDS})")
    parser.add_argument("--db", default=None, help="SQLAlchemy URL (default: the data directory's SQLite)")
    parser.add_argument("--taste", choices=sorted(TASTES), default="simulated", help="which simulated curator")
    parser.add_argument("--scenes", choices=("demo", "more"), default="demo",
                        help=f"demo: {len(NAMES)} photos; more: {len(MORE_NAMES)}")
    args = parser.parse_args()
    build(args.size, args.variants, MORE_NAMES if args.scenes == "more" else NAMES, db_url=args.db, taste=args.taste)


if __name__ == "__main__":
    main()
