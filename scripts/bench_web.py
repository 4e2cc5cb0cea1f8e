"""Benchmark the curator's page under load: preview latency (p50/p99) for a signed-in curator,
alone and while an expensive full render runs, side by side in one run.

A real photo (skimage.data.chelsea) and the offline backbone; the server runs in-process
(uvicorn on 127.0.0.1) and is called over HTTP, as a browser would.

Run: .venv/bin/python -m prismarec.scripts.bench_web [--previews 20] [--render-size 1600]
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import skimage.data
import uvicorn
from PIL import Image

from prismarec.db import Database
from prismarec.db.store import add_curator_token
from prismarec.studio.service import Studio


def _serve(db_url: str) -> tuple[str, uvicorn.Server]:
    from prismarec.studio.web import create_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = uvicorn.Server(uvicorn.Config(create_app(db_url, backbone="efficientnet-lite0"), host="127.0.0.1",
                                           port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


def _previews(client: httpx.Client, photo_id: int, count: int) -> list[float]:
    times = []
    for i in range(count):
        body = {"photo_id": photo_id, "params": {"n2": 20 + i, "iter_n": 4, "octave_n": 2}}
        started = time.perf_counter()
        client.post("/api/preview", json=body).raise_for_status()
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--previews", type=int, default=20)
    parser.add_argument("--render-size", type=int, default=1600, help="width of the expensive render")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        os.environ["PRISMAREC_HOME"] = home
        db_url = f"sqlite:///{home}/bench.db"
        photo = Path(home) / "chelsea.png"
        Image.fromarray(skimage.data.chelsea()).save(photo)
        with Database(db_url).session() as s:
            token = add_curator_token(s, "bench")
        base, server = _serve(db_url)
        client = httpx.Client(base_url=base, timeout=600)
        client.post("/login", data={"token": token})
        csrf = re.search(r'name="csrf" content="([0-9a-f]+)"', client.get("/").text).group(1)
        client.headers["X-CSRF-Token"] = csrf
        photo_id = Studio(Database(db_url), "efficientnet-lite0").photo(photo).id
        _previews(client, photo_id, 2)  # warm up: the backbone loads on first use
        alone = _previews(client, photo_id, args.previews)
        render_client = httpx.Client(base_url=base, timeout=600, cookies=client.cookies, headers=client.headers)
        busy = threading.Thread(target=lambda: render_client.post("/api/render", json={
            "photo_id": photo_id, "params": {"size": args.render_size, "layer": "inception_4c/output",
                                             "iter_n": 20}}))
        busy.start()
        time.sleep(1.0)
        during = _previews(client, photo_id, args.previews)
        render_running = busy.is_alive()
        busy.join()
        server.should_exit = True
    for name, times in (("alone", alone), ("during a full render", during)):
        t = np.array(times)
        print(f"preview {name:22s}: p50 {np.percentile(t, 50):.2f} s, p99 {np.percentile(t, 99):.2f} s "
              f"({len(t)} previews)")
    print(f"the full render was still running when the last preview returned: {render_running}")


if __name__ == "__main__":
    main()
