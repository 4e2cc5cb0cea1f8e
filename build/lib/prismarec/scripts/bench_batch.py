"""Throughput of `recommend-and-render` on a folder: one process, then 1, 2 and 4 worker processes.

A folder of real photos (skimage.data's colour photos and crops of them, 24 by default) is
rendered into a fresh output folder per run, each run a whole `prismarec recommend-and-render`
process (start-up, embeddings, recommendations and renders: what a user waits for). The
library is empty, so each photo gets the house look (a painting filter).

    python -m prismarec.scripts.bench_batch [--photos 24] [--workers 1 2 4]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import skimage.data
from PIL import Image

SOURCES = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field")


def make_photos(folder: Path, count: int) -> None:
    """`count` distinct photos: each source whole and in corner crops."""
    n = 0
    while n < count:
        for name in SOURCES:
            image = getattr(skimage.data, name)()
            h, w = image.shape[:2]
            k = n // len(SOURCES)
            crop = image[(k % 2) * h // 5 : h - ((k + 1) % 2) * h // 5, (k // 2 % 2) * w // 5 : w]
            Image.fromarray(crop).save(folder / f"{name}-{k}.png")
            n += 1
            if n == count:
                return


def run(folder: Path, out: Path, home: Path, workers: int | None) -> float:
    args = [str(Path(sys.executable).parent / "prismarec"), "recommend-and-render", str(folder), "-o", str(out),
            "--backbone", "efficientnet-lite0", "--set", "size=480", "--json"]
    args += ["--workers", str(workers)] if workers else []
    start = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, env={**os.environ, "PRISMAREC_HOME": str(home)})
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=24)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = root / "photos"
        folder.mkdir()
        make_photos(folder, args.photos)
        home = root / "home"
        run(folder, root / "warm-up", home, None)  # embeddings stored, caches warm: every run does the same work
        print(f"{args.photos} photos, {os.cpu_count()} cores; seconds for the whole command, photos per second")
        base = run(folder, root / "one-process", home, None)
        print(f"one process           {base:6.1f} s  {args.photos / base:5.2f}/s  1.00x")
        for n in args.workers:
            took = run(folder, root / f"workers-{n}", home, n)
            print(f"--workers {n:<2}          {took:6.1f} s  {args.photos / took:5.2f}/s  {base / took:4.2f}x")


if __name__ == "__main__":
    main()
