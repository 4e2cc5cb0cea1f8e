"""A FAISS index per backbone over photo embeddings — a cache of the database, rebuilt at will.

Ids are photo ids; vectors are unit-length so inner product is cosine similarity. A large
file is rewritten only after enough additions; until then `open` adds the newest embeddings
from the database, which is the source of truth. Whether the file is current is read from the
newest embedding id and a removal counter, two index lookups, so it costs the same at any size.

Exact (`IndexFlatIP`) while small; past `APPROX_THRESHOLD` vectors an inverted file with 8-bit
scalar-quantised vectors (`IVF{nlist},SQ8`, about 4·√n lists; at build time the fewest lists
to search that reach recall@10 ≥ 0.95 against exact search on a sample are found and kept): a
quarter of the flat index's memory (10⁶ × 1280-d: 1.3 GB instead of 5.1 GB), built in chunks
read from the database so a rebuild never holds all the vectors twice, with recall@10 against
exact search that `stats()` measures (also in chunks). On a machine with a GPU and faiss-gpu,
flat searches run there. A single query runs on one thread: more only add overhead.
"""

from __future__ import annotations

import functools
import json
import logging
import resource
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np
from faiss.contrib.evaluation import knn_intersection_measure
from sqlalchemy.orm import Session

from prismarec.db import Database, StorageError, index_dir
from prismarec.db.store import embedding_count, embedding_matrix, embedding_sample, embedding_signature
from prismarec.renderer.files import atomic_write

log = logging.getLogger(__name__)

APPROX_THRESHOLD = 100_000
ALWAYS_SAVE_BELOW = 20_000  # smaller files are cheap to rewrite after every addition
NPROBES = (8, 16, 32, 64, 128, 256)  # lists searched: the smallest reaching TARGET_RECALL is kept
TARGET_RECALL = 0.95
TUNING_SEED, HELD_OUT_SEED = 0, 1  # nprobe is chosen on one sample of queries; recall is reported on another
TRAIN_PER_LIST = 40  # k-means sees this many vectors per list (faiss advises 30-256)
CHUNK = 50_000  # vectors read from the database at a time when building or checking recall


class IndexMismatchError(ValueError):
    """An index file built for another backbone or dimension."""


@dataclass
class IndexMeta:
    backbone: str
    dim: int
    count: int  # embeddings in the index
    max_embedding_id: int  # the newest embedding it holds: the database may be ahead after a crash
    kind: str  # "flat" or "ivf"
    removed: int = 0  # the database's embedding-removal counter when the index was built
    nprobe: int = 0  # lists an IVF search visits (0 for flat)
    build_seconds: float = 0.0  # the last full rebuild
    build_peak_mb: float = 0.0  # the rebuilding process's peak resident memory, whatever else it did
    factory: str = "Flat"  # faiss's index_factory string of the index, for reading it back and for reports


def lists_for(count: int) -> int:
    return max(64, int(4 * np.sqrt(count)))


def factory_for(count: int) -> str:
    """Exact inner product while small, IVF-SQ8 past APPROX_THRESHOLD (to be trained)."""
    return "Flat" if count < APPROX_THRESHOLD else f"IVF{lists_for(count)},SQ8"


def make_index(dim: int, count: int) -> faiss.Index:
    """The index `factory_for` names, inner product; ids are photo ids."""
    return faiss.IndexIDMap2(faiss.index_factory(dim, factory_for(count), faiss.METRIC_INNER_PRODUCT))


def peak_memory_mb() -> float:
    """This process's peak resident memory: Linux's VmHWM, which starts afresh at exec (getrusage's
    maximum also counts what a parent held when it spawned this process), else getrusage's."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


@contextmanager
def _threads(count: int) -> Iterator[None]:
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(count)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _locked(method: Callable) -> Callable:
    """The method holds the index's lock: a search never sees an index half replaced."""
    @functools.wraps(method)
    def run(self: VectorIndex, *args, **kwargs):  # noqa: ANN202
        with self._lock:
            return method(self, *args, **kwargs)

    return run


class VectorIndex:
    """The FAISS index of one backbone's embeddings, kept in step with the database."""

    def __init__(self, db: Database, backbone: str, dim: int, folder: Path | None = None):
        self.db, self.backbone, self.dim = db, backbone, dim
        folder = folder or index_dir()
        self.path = folder / f"{backbone}.faiss"
        self.meta_path = folder / f"{backbone}.json"
        self.index: faiss.Index | None = None
        self.meta: IndexMeta | None = None
        self._gpu: faiss.Index | None = None
        self._unsaved = 0  # vectors added since the file was written; a large file is not rewritten for each
        self._lock = threading.RLock()  # request threads search while another syncs or rebuilds

    # -- loading and repair ------------------------------------------------------------
    @_locked
    def open(self) -> VectorIndex:
        """Load the file, refusing a foreign one; build it when missing, catch up when stale."""
        if not self.path.exists() or not self.meta_path.exists():
            log.info("index %s missing: building from the database", self.path)
            return self.rebuild()
        try:
            meta = IndexMeta(**json.loads(self.meta_path.read_text()))
        except (OSError, ValueError, TypeError):
            log.warning("index metadata %s unreadable: rebuilding", self.meta_path)
            return self.rebuild()
        if meta.backbone != self.backbone or meta.dim != self.dim:
            raise IndexMismatchError(
                f"index {self.path} was built for {meta.backbone} ({meta.dim}-d), not {self.backbone} "
                f"({self.dim}-d); run `prismarec index rebuild` or remove the file")
        try:
            index = faiss.read_index(str(self.path))
        except RuntimeError:
            log.warning("index %s unreadable: rebuilding", self.path)
            return self.rebuild()
        if index.d != self.dim or index.ntotal != meta.count:
            log.warning("index %s does not match its metadata (interrupted write?): rebuilding", self.path)
            return self.rebuild()
        self.index, self.meta = index, meta
        self.sync()
        return self

    @_locked
    def refresh(self) -> None:
        """Open on first use, then only catch up with the database."""
        if self.index is None:
            self.open()
        else:
            self.sync()

    @_locked
    def sync(self) -> None:
        """Add embeddings the database has and the file lacks (e.g. after a crash); rebuild if they diverged."""
        assert self.meta is not None and self.index is not None
        with self.db.reading() as s:
            top, removed = embedding_signature(s, self.backbone)
            if (top, removed) == (self.meta.max_embedding_id, self.meta.removed):
                return
            stale = removed != self.meta.removed or top < self.meta.max_embedding_id
            if not stale:
                photo_ids, emb_ids, vectors = embedding_matrix(s, self.backbone, after_id=self.meta.max_embedding_id)
        if stale:
            log.info("index %s: embeddings were removed or the file is another database's: rebuilding", self.path)
            self.rebuild()
            return
        if self._needs_new_kind(self.meta.count + len(emb_ids)):
            log.info("index %s reached %d vectors: rebuilding as an approximate index", self.path, APPROX_THRESHOLD)
            self.rebuild()
            return
        log.info("index %s: adding %d embeddings the database has", self.path, len(emb_ids))
        self._add(photo_ids, emb_ids, vectors)
        self._unsaved += len(emb_ids)
        if self.index.ntotal < ALWAYS_SAVE_BELOW or self._unsaved >= max(256, self.index.ntotal // 100):
            self._save()

    @_locked
    def rebuild(self) -> VectorIndex:
        """Build from the database in chunks (trained on a random sample first when approximate)."""
        start = time.perf_counter()
        with self.db.reading() as s:
            count = embedding_count(s, self.backbone)
            _, removed = embedding_signature(s, self.backbone)
            self.index = make_index(self.dim, count)
            if not self.index.is_trained:
                self._train(s, count)
        self.meta = IndexMeta(self.backbone, self.dim, 0, 0, "flat", removed, factory=factory_for(count))
        while True:
            with self.db.reading() as s:
                photo_ids, emb_ids, vectors = embedding_matrix(s, self.backbone, self.meta.max_embedding_id, CHUNK)
            if not len(photo_ids):
                break
            self._add(photo_ids, emb_ids, vectors)
            del photo_ids, emb_ids, vectors  # else this chunk is still held while the next is read
        empty = np.zeros(0, np.int64)
        self._add(empty, empty, np.zeros((0, self.dim), np.float32))  # sets kind and count, also when empty
        if self.meta.kind == "ivf":
            queries, truth = self._exact_sample(seed=TUNING_SEED)
            for nprobe in NPROBES:
                self.meta.nprobe = nprobe
                recall = self._recall(queries, truth)
                if recall >= TARGET_RECALL:
                    break
            log.info("index %s: searching %d lists reaches recall@10 %.3f", self.path, nprobe, recall)
        self.meta.build_seconds = round(time.perf_counter() - start, 2)
        self.meta.build_peak_mb = peak_memory_mb()
        self._save()
        return self

    def _train(self, s: Session, count: int) -> None:
        """Train on a random sample, released before the vectors are added (0.8 GB at 10⁶ photos)."""
        sample = embedding_sample(s, self.backbone, TRAIN_PER_LIST * lists_for(count))
        log.info("index %s: training %d lists on %d vectors", self.path, lists_for(count), len(sample))
        self.index.train(sample)

    def _needs_new_kind(self, count: int) -> bool:
        return self.meta is not None and self.meta.kind == "flat" and count >= APPROX_THRESHOLD

    def _add(self, photo_ids: np.ndarray, emb_ids: np.ndarray, vectors: np.ndarray) -> None:
        assert self.index is not None and self.meta is not None
        if len(photo_ids):
            if vectors.shape[1] != self.dim:
                raise IndexMismatchError(f"embeddings are {vectors.shape[1]}-d, the index {self.dim}-d")
            self.index.add_with_ids(np.ascontiguousarray(vectors, np.float32), photo_ids)
            self.meta.max_embedding_id = int(emb_ids.max())
        self.meta.count = int(self.index.ntotal)
        self.meta.kind = "flat" if isinstance(faiss.downcast_index(self.index.index), faiss.IndexFlat) else "ivf"
        self._gpu = None

    def _save(self) -> None:
        """Write index then metadata, each atomically under a name no other process uses: a crash
        leaves an old-but-valid pair or a metadata file that does not match, which `open` repairs."""
        assert self.index is not None and self.meta is not None
        self._unsaved = 0
        text = json.dumps(asdict(self.meta))
        with self._storage_errors():
            atomic_write(self.path, lambda tmp: faiss.write_index(self.index, str(tmp)))
            atomic_write(self.meta_path, lambda tmp: tmp.write_text(text))

    def check_writable(self) -> None:
        """Fail now, before any work, if the index folder cannot take the file."""
        with self._storage_errors():
            atomic_write(self.path.parent / ".write-check", lambda tmp: tmp.write_bytes(b""))
            (self.path.parent / ".write-check").unlink()

    @contextmanager
    def _storage_errors(self) -> Iterator[None]:
        try:
            yield
        except (OSError, RuntimeError) as exc:  # faiss reports I/O failures as RuntimeError
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).splitlines()[-1]
            raise StorageError(f"index folder {self.path.parent}: cannot write ({reason}); make it writable, "
                               "or point PRISMAREC_HOME elsewhere (the index is rebuilt from the database)") from None

    # -- queries -------------------------------------------------------------------------
    @_locked
    def search(self, queries: np.ndarray, k: int, among: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(similarities, photo ids) of the k nearest photos per query; id -1 pads short results.

        `among` restricts the search to those photo ids (e.g. the curated ones), so uncurated
        look-alikes cannot push them out of the k nearest.
        """
        if self.index is None:
            self.open()
        assert self.index is not None
        q = np.ascontiguousarray(np.atleast_2d(queries), np.float32)
        if q.shape[1] != self.dim:
            raise IndexMismatchError(f"query is {q.shape[1]}-d, the {self.backbone} index {self.dim}-d")
        with _threads(1 if len(q) == 1 else faiss.omp_get_max_threads()):
            if among is None and self.meta.kind == "flat":
                return self._searcher().search(q, k)
            selector = None if among is None else faiss.IDSelectorBatch(np.ascontiguousarray(among, np.int64))
            return self.index.search(q, k, params=self._params(selector))

    def _params(self, selector: faiss.IDSelector | None = None) -> faiss.SearchParameters:
        if self.meta is not None and self.meta.kind == "ivf":
            return faiss.SearchParametersIVF(sel=selector, nprobe=self.meta.nprobe)
        return faiss.SearchParameters(sel=selector)

    def _searcher(self) -> faiss.Index:
        if self.meta and self.meta.kind == "flat" and faiss.get_num_gpus() > 0 and self.index.ntotal > 0:
            if self._gpu is None:
                self._gpu = faiss.index_cpu_to_all_gpus(self.index)
            return self._gpu
        return self.index

    def __len__(self) -> int:
        return 0 if self.index is None else int(self.index.ntotal)

    @_locked
    def stats(self, queries: int = 200, k: int = 10) -> dict:
        """Size, kind, where it searches, and recall@k against exact search for approximate indexes."""
        if self.index is None:
            self.open()
        assert self.index is not None and self.meta is not None
        info = {"backbone": self.backbone, "dim": self.dim, "vectors": int(self.index.ntotal), "kind": self.meta.kind,
                "nprobe": self.meta.nprobe, "factory": self.meta.factory, "file": str(self.path),
                "file_mb": round(self.path.stat().st_size / 2**20, 1),
                "build_seconds": self.meta.build_seconds, "build_peak_mb": self.meta.build_peak_mb,
                "gpus": faiss.get_num_gpus(), "recall_at_10": 1.0}
        if self.meta.kind != "flat" and self.index.ntotal:
            info["recall_at_10"] = self.recall_at_k(queries, k)
        return info

    def recall_at_k(self, queries: int = 200, k: int = 10) -> float:
        """Recall@k against exact search, on queries the index was not tuned on: midpoints of pairs
        of stored vectors drawn with another seed than the tuning sample's (points near the data,
        in no list's training and in no tuning query); exact neighbours found in chunks, so memory
        stays bounded at any size."""
        return self._recall(*self._exact_sample(queries, k, seed=HELD_OUT_SEED, between=True), k)

    def _exact_sample(self, queries: int = 200, k: int = 10, seed: int = TUNING_SEED,
                      between: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(queries, their exact k nearest photo ids), one pass over the database in chunks. The
        queries are stored vectors jittered, or with `between` the midpoints of two stored vectors."""
        rng = np.random.default_rng(seed)
        with self.db.reading() as s:
            q = embedding_sample(s, self.backbone, 2 * queries if between else queries, seed)
        q = (q[0::2] + q[1::2]) / 2 if between else q + rng.normal(0, 0.01, q.shape).astype(np.float32)
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        best_sims = np.full((len(q), k), -np.inf, np.float32)
        best_ids = np.full((len(q), k), -1, np.int64)
        after = 0
        while True:
            with self.db.reading() as s:
                photo_ids, emb_ids, vectors = embedding_matrix(s, self.backbone, after, CHUNK)
            if not len(photo_ids):
                break
            after = int(emb_ids[-1])
            sims = np.concatenate([best_sims, q @ vectors.T], axis=1)
            ids = np.concatenate([best_ids, np.broadcast_to(photo_ids, (len(q), len(photo_ids)))], axis=1)
            top = np.argsort(-sims, axis=1)[:, :k]
            best_sims, best_ids = np.take_along_axis(sims, top, 1), np.take_along_axis(ids, top, 1)
        return q, best_ids

    def _recall(self, queries: np.ndarray, truth: np.ndarray, k: int = 10) -> float:
        _, found = self.search(queries, k)
        return float(knn_intersection_measure(truth[:, :k], found[:, :k]))
