"""Benchmark: the book's literal mask+blend formulas vs ours; the dream vs the notebook loop
(`scripts/notebook_dream.py`) on the same backbone and layer, as published or in inference form,
in GFLOP per CPU-second beside a float32 matmul's, and its memory floor (the bytes its kernels
move, at a copy's rate); a default render per stage; batched against one-by-one renders.

Run: .venv/bin/python -m prismarec.scripts.bench_render [--threads N]   (every side measured in this one run)
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import skimage.data
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from torch.utils.flop_counter import FlopCounterMode

from prismarec.renderer.backbones import load_backbone
from prismarec.renderer.blend import blend, keep_map
from prismarec.renderer.cost import pixel_steps
from prismarec.renderer.dream import amplify, dream, full_precision, gradient
from prismarec.renderer.images import fit_cover, resize, to_gray
from prismarec.renderer.masks import make_mask
from prismarec.renderer.params import RenderParams
from prismarec.renderer.pipeline import render, render_many
from prismarec.scripts import book_reference as book
from prismarec.scripts.notebook_dream import notebook_dream


def best_of(fn, repeats: int) -> float:
    return best_of_both(fn, repeats)[0]


def best_of_both(fn, repeats: int) -> tuple[float, float]:
    """Fewest wall seconds and fewest CPU seconds (all threads) over `repeats` runs."""
    return race({"": fn}, repeats)[""]


def race(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, tuple[float, float]]:
    """Fewest wall and CPU seconds of each function over `repeats` rounds that run them in turn, so
    that a shared machine's slow spells fall on every side alike."""
    wall: dict[str, list[float]] = {name: [] for name in fns}
    cpu: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    return {name: (min(wall[name]), min(cpu[name])) for name in fns}


def matmul_gflop_rates(n: int = 2048) -> tuple[float, float]:
    """A float32 matmul's GFLOP per wall second and per CPU second: the machine's practical peak."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    wall, cpu = best_of_both(lambda: a @ b, 5)
    return 2 * n**3 / wall / 1e9, 2 * n**3 / cpu / 1e9


def copy_gb_per_s(mb: int = 32) -> float:
    """Bytes read and written per second by a copy of activation-sized tensors: the memory side of
    the roofline."""
    a, b = torch.ones(mb << 18), torch.empty(mb << 18)
    return 2 * a.nbytes / best_of(lambda: b.copy_(a), 20) / 1e9


class BytesMoved(TorchDispatchMode):
    """Bytes each operation reads and writes (its tensor arguments and results; views are free):
    what the dream's sequence of kernels must move through memory at least."""

    def __init__(self):
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if not func.is_view and func not in (torch.ops.aten.empty.memory_format, torch.ops.aten.detach.default):
            self.total += sum(t.nbytes for t in tree_leaves((args, kwargs, out)) if isinstance(t, torch.Tensor))
        return out


def dream_gigabytes(net, image, params: RenderParams) -> float:
    """GB the dream's kernels move on `net`, counted at one size and scaled by pixel-steps."""
    x = torch.rand(1, 3, 128, 128, device=net.device) * 255
    with BytesMoved() as moved:
        gradient(net, x, net.resolve(params.layer, params.post_relu), amplify)
    return moved.total / 128**2 * pixel_steps(params, *image.shape[:2]) / 1e9


def dream_gflop(net, image, params: RenderParams) -> float:
    """GFLOP of the dream's forward and backward passes: counted at one size on `net` as published
    (fused kernels hide from the counter), scaled by pixel-steps."""
    x = torch.rand(1, 3, 128, 128, device=net.device) * 255
    with FlopCounterMode(display=False) as counter:
        gradient(net, x, net.resolve(params.layer, params.post_relu), amplify)
    return counter.get_total_flops() / 128**2 * pixel_steps(params, *image.shape[:2]) / 1e9


def compare_dreams(image, layers: list[str], repeats: int = 3) -> None:
    """The dream against the notebook loop on the network as published, and the dream on the
    published network (to separate the loop's gain from the inference form's), on the CPU."""
    ours, as_published = load_backbone("auto", device="cpu"), load_backbone("auto", device="cpu", inference_form=False)
    peak_wall, peak_cpu = matmul_gflop_rates()
    bandwidth = copy_gb_per_s()
    print(f"\ndream vs the notebook loop on {image.shape[1]}x{image.shape[0]}, {ours.name}, CPU, "
          f"{torch.get_num_threads()} threads, best of {repeats}; float32 matmul: {peak_wall:.0f} GFLOP/s, "
          f"{peak_cpu:.0f} GFLOP per CPU-s; copy: {bandwidth:.0f} GB/s")
    print("(memory floor: the GB the dream's kernels read and write, at the copy's rate)")
    print(f"{'layer':>22} {'notebook s':>11} {'dream, published s':>19} {'dream s':>8} {'CPU-s vs notebook':>18} "
          f"{'wall vs notebook':>17} {'GFLOP/CPU-s':>12} {'of matmul':>10} {'GB':>6} {'memory floor s':>15}")
    for layer in layers:
        params = RenderParams(layer=layer)
        with full_precision():
            times = race({"notebook": lambda p=params: notebook_dream(as_published, image, p),
                          "published": lambda p=params: dream(as_published, image, p),
                          "ours": lambda p=params: dream(ours, image, p)}, repeats)
        (notebook, notebook_cpu), (published, _), (wall, cpu) = times["notebook"], times["published"], times["ours"]
        rate = dream_gflop(as_published, image, params) / cpu
        gigabytes = dream_gigabytes(ours, image, params)
        print(f"{layer:>22} {notebook:>11.2f} {published:>19.2f} {wall:>8.2f} {cpu / notebook_cpu:>18.2f} "
              f"{wall / notebook:>17.2f} {rate:>12.1f} {rate / peak_cpu:>10.0%} {gigabytes:>6.1f} "
              f"{gigabytes / bandwidth:>15.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=480)
    parser.add_argument("--n3", type=int, nargs="+", default=[1, 120, 180])
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--layers", nargs="+", default=["conv2/3x3_reduce", "inception_4c/output"])
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

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

    compare_dreams(photo, args.layers)

    for device in ["cpu"] + (["cuda"] if torch.cuda.is_available() else []):
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
        times = race({"one by one": lambda jobs=jobs, net=net: [render(p, q, net, guide=g) for p, q, g in jobs],
                      "batched": lambda jobs=jobs, net=net: render_many(jobs, net)}, 3)
        one_by_one, batched = times["one by one"][0], times["batched"][0]
        print(f"  8 renders: one by one {len(jobs) / one_by_one:.2f} renders/s, batched {len(jobs) / batched:.2f} "
              f"renders/s ({one_by_one / batched:.2f}x)")


if __name__ == "__main__":
    main()
