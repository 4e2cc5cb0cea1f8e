"""Benchmark the learning loop: recommend latency at 10³-10⁶ indexed photos, the index's build
time, size and recall (exact below 10⁵, IVF-SQ8 above), and the ingest rate.

The large sizes use SYNTHETIC vectors (clustered unit vectors standing in for photo
embeddings, with one render and verdict per tenth photo); the query and the ingest run
on real photos from skimage.data with the real backbone.

Run: .venv/bin/python -m prismarec.scripts.bench_recommend [--sizes 1000 10000 100000 1000000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image
from sqlalchemy import insert

from prismarec.db import Database
from prismarec.db.models import Curator, Embedding, Photo, Render, Verdict
from prismarec.db.store import params_hash
from prismarec.indexer.catalog import Catalog
from prismarec.indexer.embed import embed
from prismarec.recommender.recommend import recommend_for_vector
from prismarec.renderer.backbones import load_backbone

from .make_demo_curation import PALETTE


def synthetic(n: int, centers: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """n unit vectors around random centres (photos of about 200 scenes' worth each)."""
    x = centers[rng.integers(0, len(centers), n)] + rng.normal(0, 0.6, (n, centers.shape[1])).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def fill(db: Database, backbone: str, n: int, dim: int, rng: np.random.Generator) -> None:
    """Bulk-insert n photos with SYNTHETIC embeddings and curated renders (one per tenth photo)."""
    centers = rng.normal(size=(max(n // 200, 5), dim)).astype(np.float32)
    sets = [p.to_json() for p in PALETTE]
    with db.session() as s:
        s.execute(insert(Curator), [{"name": "bench"}])
    for start in range(0, n, 50_000):  # in chunks: a million rows at once would hold the vectors twice
        part = range(start, min(n, start + 50_000))
        vectors = synthetic(len(part), centers, rng)
        with db.session() as s:
            s.execute(insert(Photo), [{"id": i + 1, "sha256": f"{i:064x}", "path": f"/synthetic/{i}.png", "width": 1,
                                       "height": 1} for i in part])
            s.execute(insert(Embedding), [{"photo_id": i + 1, "backbone": backbone, "dim": dim,
                                           "vector": v.astype("<f4").tobytes()}
                                          for i, v in zip(part, vectors, strict=True)])
    with db.session() as s:
        curated = range(0, n, 10)
        s.execute(insert(Render), [{"id": j + 1, "photo_id": i + 1, "params": sets[i % len(sets)],
                                    "params_hash": params_hash(PALETTE[i % len(sets)]), "backbone": backbone,
                                    "output_path": "/synthetic.png", "timings": "{}"} for j, i in enumerate(curated)])
        s.execute(insert(Verdict), [{"render_id": j + 1, "curator_id": 1, "verdict": "good", "score": 4,
                                     "current": True} for j in range(len(curated))])


def build_alone(url: str, backbone: str, dim: int, folder: Path) -> None:
    """Build the index in a process of its own, so that its recorded peak memory is the build's."""
    code = ("import sys; from pathlib import Path; from prismarec.db import Database; "
            "from prismarec.indexer.vector_index import VectorIndex; "
            "VectorIndex(Database(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])).rebuild()")
    subprocess.run([sys.executable, "-c", code, url, backbone, str(dim), str(folder)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--queries", type=int, default=20)
    args = parser.parse_args()
    net = load_backbone("auto")
    rng = np.random.default_rng(0)
    query_image = skimage.data.chelsea()
    embed([query_image], net)  # warm-up
    print(f"backbone {net.name} on {net.device}; query: skimage chelsea; synthetic index vectors")
    print(f"{'photos':>8} {'index':>6} {'build s':>8} {'build peak MB':>14} {'index MB':>9} {'embed ms':>9} "
          f"{'search ms':>10} {'db ms':>7} {'total ms':>9} {'recall@10':>10}")
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            db = Database(f"sqlite:///{tmp}/bench.db")
            fill(db, net.name, n, net.pooled_dim, rng)
            build_alone(db.url, net.name, net.pooled_dim, Path(tmp) / "index")
            catalog = Catalog(db, net, Path(tmp) / "index")
            meta = catalog.index.open().meta
            timings = []
            for _ in range(args.queries):
                t0 = time.perf_counter()
                vec = embed([query_image], net)[0]
                t1 = time.perf_counter()
                catalog.index.search(vec, 10)
                t2 = time.perf_counter()
                recommend_for_vector(catalog, vec)  # search again + DB + ranking
                t3 = time.perf_counter()
                timings.append((t1 - t0, t2 - t1, (t3 - t2) - (t2 - t1), t3 - t0 - (t2 - t1)))
            embed_s, search_s, db_s, total_s = np.median(np.array(timings), axis=0)
            size_mb = catalog.index.path.stat().st_size / 2**20
            recall = catalog.index.stats()["recall_at_10"]
            print(f"{n:>8} {meta.kind:>6} {meta.build_seconds:>8.1f} {meta.build_peak_mb:>14.0f} {size_mb:>9.0f} "
                  f"{embed_s * 1000:>9.1f} "
                  f"{search_s * 1000:>10.2f} {db_s * 1000:>7.1f} {total_s * 1000:>9.1f} {recall:>10.3f}", flush=True)
            db.close()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        names = ["astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field"]
        for i in range(48):
            image = getattr(skimage.data, names[i % len(names)])()
            y, x = rng.integers(0, 40, 2)
            Image.fromarray(image[y:, x:]).save(folder / f"{i}.jpg", quality=90)
        catalog = Catalog(Database(f"sqlite:///{tmp}/ingest.db"), net, Path(tmp) / "index")
        t = time.perf_counter()
        report = catalog.ingest([folder])
        elapsed = time.perf_counter() - t
        print(f"\ningest: {len(report.added)} real JPEG photos in {elapsed:.2f} s = "
              f"{len(report.added) / elapsed:.1f} photos/s (decode, hash, embed, store, index)")


if __name__ == "__main__":
    main()
