"""What one `prismarec recommend PHOTO --json` costs as a whole process, beside `prismarec --help`.

Each call is a fresh process (imports, database, index, taste model, embedding, decision): what
a script calling the CLI once per photo waits for. Three commands, side by side in one run:
`--help`; `recommend` on a photo never seen (a new crop each time, so it is embedded and
registered); `recommend` on a photo already registered. Wall time (median) and peak memory of
the process. The library is `PRISMAREC_HOME` (default: the demo's, made by `make demo`); the
first call learns the taste model and exports the network if needed and is not counted.

    python -m prismarec.scripts.bench_startup [--repeats 5] [--home demo/home]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image

CLI = [str(Path(sys.executable).parent / "prismarec")]  # the console script a user runs


def run(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(seconds, peak resident MB) of one process."""
    started = time.perf_counter()
    process = subprocess.Popen(CLI + args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"{' '.join(args)} failed (status {status})")
    return time.perf_counter() - started, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--home", type=Path, default=Path(os.environ.get("PRISMAREC_HOME", "demo/home")))
    args = parser.parse_args()
    if not (args.home / "prismarec.db").exists():
        parser.error(f"no library in {args.home}: run `make demo` first, or pass --home")
    env = os.environ | {"PRISMAREC_HOME": str(args.home.resolve()), "OMP_NUM_THREADS": "1"}
    coffee = skimage.data.coffee()
    with tempfile.TemporaryDirectory() as folder:
        def new_photo(i: int) -> str:
            """A crop of coffee no run has seen (the library may hold earlier runs' crops)."""
            k, path = i % 20, Path(folder) / f"coffee-{time.time_ns()}.png"
            Image.fromarray(np.roll(coffee, time.time_ns() % 97, axis=1)[k * 3 : 300 + k * 3, k * 5 : 400 + k * 5]
                            ).save(path)
            return str(path)

        known = new_photo(0)
        run(["recommend", known, "--json"], env)  # learns, exports and registers: not counted
        rows: dict[str, list[float]] = {"--help": [], "recommend, new photo": [], "recommend, registered photo": []}
        peaks: dict[str, float] = {}
        for i in range(args.repeats):
            for name, command in (("--help", ["--help"]),
                                  ("recommend, new photo", ["recommend", new_photo(i), "--json"]),
                                  ("recommend, registered photo", ["recommend", known, "--json"])):
                seconds, peak = run(command, env)
                rows[name].append(seconds)
                peaks[name] = max(peaks.get(name, 0.0), peak)
    print(f"{'command':30} {'median s':>9} {'min s':>7} {'peak MB':>8}")
    for name, times in rows.items():
        print(f"{name:30} {statistics.median(times):9.2f} {min(times):7.2f} {peaks[name]:8.0f}")


if __name__ == "__main__":
    main()
