"""Benchmark: the book's literal mask+blend formulas vs ours, and a default render per stage.

Run: .venv/bin/python -m scripts.bench_render   (both sides measured in this one run)
"""

from __future__ import annotations

import argparse
import time

import skimage.data

from renderer.backbones import load_backbone
from renderer.blend import blend, keep_map
from renderer.images import fit_cover, resize, to_gray
from renderer.masks import make_mask
from renderer.params import RenderParams
from renderer.pipeline import render, render_many
from scripts import book_reference as book


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=480)
    parser.add_argument("--n3", type=int, nargs="+", default=[1, 120, 180])
    args = parser.parse_args()

    photo = resize(skimage.data.astronaut(), args.size)
    guide = fit_cover(skimage.data.coffee(), photo.shape[1], photo.shape[0])
    gray = to_gray(photo)
    print(f"mask + keep map + blend at {photo.shape[1]}x{photo.shape[0]} (otsu mask, n1=5, n2=28)")
    print(f"{'n3':>5} {'book s':>10} {'ours s':>10} {'ratio':>10}")
    for n3 in args.n3:
        params = RenderParams(n3=n3)

        def literal(params=params):
            mask = book.do_otsu(gray, params.cb, params.dd)
            return book.do_convd_filter(params.n1, params.n2, params.n3, params.rb_rate, photo, guide, mask,
                                        params.convd_median_factor, params.convd_big_factor)

        def ours(params=params):
            return blend(photo, guide, keep_map(make_mask(gray, params), params), params)

        t_book = best_of(literal, 1 if n3 > 60 else 3)
        t_ours = best_of(ours, 20)
        print(f"{n3:>5} {t_book:>10.4f} {t_ours:>10.5f} {t_book / t_ours:>9.0f}x")

    for device in ["cpu"] + (["cuda"] if __import__("torch").cuda.is_available() else []):
        net = load_backbone("auto", device=device)
        params = RenderParams(size=args.size)
        render(photo, params, net, guide=guide)  # warm-up
        runs = [render(photo, params, net, guide=guide) for _ in range(5)]
        total = min(sum(r.timings.values()) for r in runs)
        stages = {k: min(r.timings[k] for r in runs) for k in runs[0].timings}
        print(f"\ndefault render with a guide ({params.layer}, {params.iter_n} iterations, {params.octave_n} "
              f"octaves, {photo.shape[1]}x{photo.shape[0]}) on {device}, backbone {net.name}: {total:.3f} s "
              "(best of 5)")
        for stage, seconds in stages.items():
            print(f"  {stage:<8} {seconds * 1000:8.1f} ms")
        jobs = [(photo, params.replace(rb_rate=1 - i / 100), guide) for i in range(8)]
        one_by_one = best_of(lambda jobs=jobs, net=net: [render(p, q, net, guide=g) for p, q, g in jobs], 2)
        batched = best_of(lambda jobs=jobs, net=net: render_many(jobs, net), 2)
        print(f"  8 renders: one by one {len(jobs) / one_by_one:.2f} renders/s, batched {len(jobs) / batched:.2f} "
              f"renders/s ({one_by_one / batched:.2f}x)")


if __name__ == "__main__":
    main()
