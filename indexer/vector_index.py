"""A FAISS index per backbone over photo embeddings — a cache of the database, rebuilt at will.

Ids are photo ids; vectors are unit-length so inner product is cosine similarity. A large
file is rewritten only after enough additions; until then `open` adds the newest embeddings
from the database, which is the source of truth. Exact
(`IndexFlatIP`) while small; past `APPROX_THRESHOLD` vectors an HNSW graph, whose recall@10
against exact search `stats()` measures. On a machine with a GPU and faiss-gpu, flat
searches run there.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np

from db import Database, StorageError, index_dir
from db.store import embedding_matrix, embedding_signature
from renderer.files import atomic_write

log = logging.getLogger(__name__)

APPROX_THRESHOLD = 100_000
ALWAYS_SAVE_BELOW = 20_000  # smaller files are cheap to rewrite after every addition
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 64, 128


class IndexMismatchError(ValueError):
    """An index file built for another backbone or dimension."""


@dataclass
class IndexMeta:
    backbone: str
    dim: int
    count: int  # embeddings in the index
    max_embedding_id: int  # the newest embedding it holds: the database may be ahead after a crash
    kind: str  # "flat" or "hnsw"


def make_index(dim: int, count: int) -> faiss.Index:
    """Exact inner product while small, HNSW past APPROX_THRESHOLD; ids are photo ids."""
    if count < APPROX_THRESHOLD:
        base = faiss.IndexFlatIP(dim)
    else:
        base = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        base.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        base.hnsw.efSearch = HNSW_EF_SEARCH
    return faiss.IndexIDMap2(base)


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

    # -- loading and repair ------------------------------------------------------------
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

    def refresh(self) -> None:
        """Open on first use, then only catch up with the database."""
        if self.index is None:
            self.open()
        else:
            self.sync()

    def sync(self) -> None:
        """Add embeddings the database has and the file lacks (e.g. after a crash); rebuild if they diverged."""
        assert self.meta is not None and self.index is not None
        with self.db.session() as s:
            count, top = embedding_signature(s, self.backbone)
            if (count, top) == (self.meta.count, self.meta.max_embedding_id):
                return
            photo_ids, emb_ids, vectors = embedding_matrix(s, self.backbone, after_id=self.meta.max_embedding_id)
        if self.meta.count + len(emb_ids) != count or self._needs_new_kind(count):
            log.info("index %s diverged from the database: rebuilding", self.path)
            self.rebuild()
            return
        log.info("index %s: adding %d embeddings the database has", self.path, len(emb_ids))
        self._add(photo_ids, emb_ids, vectors)
        self._unsaved += len(emb_ids)
        if self.index.ntotal < ALWAYS_SAVE_BELOW or self._unsaved >= max(256, self.index.ntotal // 100):
            self._save()

    def rebuild(self) -> VectorIndex:
        with self.db.session() as s:
            photo_ids, emb_ids, vectors = embedding_matrix(s, self.backbone)
        self.index = make_index(self.dim, len(photo_ids))
        self.meta = IndexMeta(self.backbone, self.dim, 0, 0, "flat")
        self._add(photo_ids, emb_ids, vectors)
        self._save()
        return self

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
        self.meta.kind = "hnsw" if isinstance(faiss.downcast_index(self.index.index), faiss.IndexHNSW) else "flat"
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
        if among is None:
            return self._searcher().search(q, k)
        selector = faiss.IDSelectorBatch(np.ascontiguousarray(among, np.int64))
        params = (faiss.SearchParametersHNSW(sel=selector, efSearch=HNSW_EF_SEARCH) if self.meta.kind == "hnsw"
                  else faiss.SearchParameters(sel=selector))
        return self.index.search(q, k, params=params)

    def _searcher(self) -> faiss.Index:
        if self.meta and self.meta.kind == "flat" and faiss.get_num_gpus() > 0 and self.index.ntotal > 0:
            if self._gpu is None:
                self._gpu = faiss.index_cpu_to_all_gpus(self.index)
            return self._gpu
        return self.index

    def __len__(self) -> int:
        return 0 if self.index is None else int(self.index.ntotal)

    def stats(self, queries: int = 200, k: int = 10) -> dict:
        """Size, kind, where it searches, and recall@k against exact search for approximate indexes."""
        if self.index is None:
            self.open()
        assert self.index is not None and self.meta is not None
        info = {"backbone": self.backbone, "dim": self.dim, "vectors": int(self.index.ntotal), "kind": self.meta.kind,
                "file": str(self.path), "gpus": faiss.get_num_gpus(), "recall_at_10": 1.0}
        if self.meta.kind != "flat" and self.index.ntotal:
            info["recall_at_10"] = recall_at_k(self.index, queries, k)
        return info


def recall_at_k(index: faiss.IndexIDMap2, queries: int = 200, k: int = 10, seed: int = 0) -> float:
    """Recall@k of `index` against an exact flat search, using stored vectors (jittered) as queries."""
    n = index.ntotal
    rng = np.random.default_rng(seed)
    stored = index.index.reconstruct_n(0, n)
    ids = faiss.vector_to_array(index.id_map)
    picks = rng.choice(n, size=min(queries, n), replace=False)
    q = stored[picks] + rng.normal(0, 0.01, (len(picks), index.d)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    exact = faiss.IndexFlatIP(index.d)
    exact.add(np.ascontiguousarray(stored, np.float32))
    _, truth = exact.search(q, k)
    _, found = index.search(q, k)
    truth_ids = ids[truth]
    return float(np.mean([len(set(t) & set(f)) / k for t, f in zip(truth_ids, found, strict=True)]))
