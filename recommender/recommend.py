"""`recommend`: embed a photo, find its nearest curated neighbours, choose their best parameter set."""

from __future__ import annotations

import logging
import pickle
import threading
from dataclasses import asdict, dataclass, field

import numpy as np
from sqlalchemy.orm import Session

from prismarec.db.models import Photo
from prismarec.db.store import (
    curated,
    curated_photo_ids,
    curator_exists,
    embedding_matrix,
    untagged,
    verdict_signature,
)
from prismarec.indexer.catalog import Catalog
from prismarec.renderer.files import atomic_write
from prismarec.renderer.images import ImageError, load_image
from prismarec.renderer.params import RenderParams

from .choose import NEIGHBOURS, choose, explain, learn
from .ranking import MIN_SIMILARITY, Candidate
from .taste import Library, TasteModel, TastePhoto

log = logging.getLogger(__name__)
TASTE_VERSION = 12  # bump when the model's features or fields change: stored models are then learnt again
MAX_LIBRARY = 2000  # the newest curated photos the taste model learns from


@dataclass
class Neighbour:
    photo_id: int
    path: str
    similarity: float
    verdicts: list[dict] = field(default_factory=list)  # render_id, verdict, score, curator, weight


@dataclass
class Recommendation:
    params: RenderParams
    alternatives: list[RenderParams]
    confidence: float
    neighbours: list[Neighbour]
    fallback: bool
    explanation: str
    guide_id: int | None = None
    backbone: str | None = None
    source: str = "neighbours"  # what decided: neighbours | taste model | most-liked set | house look

    def to_dict(self) -> dict:
        return {"params": self.params.to_dict(), "alternatives": [a.to_dict() for a in self.alternatives],
                "confidence": self.confidence, "neighbours": [asdict(n) for n in self.neighbours],
                "fallback": self.fallback, "source": self.source, "explanation": self.explanation,
                "guide_id": self.guide_id, "backbone": self.backbone}


def recommend_for_vector(catalog: Catalog, vector: np.ndarray, k: int = 5, *, image: np.ndarray | None = None,
                         min_similarity: float = MIN_SIMILARITY, curator: str | None = None) -> Recommendation:
    """Recommend from an embedding (and the photo, which the taste model needs for new scenes),
    learning from curated photos only (of `curator`, or everyone's)."""
    index = catalog.index
    index.refresh()
    with catalog.db.reading() as s:
        if curator is not None and not curator_exists(s, curator):
            raise ValueError(f"no curator named {curator!r}")
        among = _curated_ids(catalog, s, curator)
    hits: list[tuple[int, float]] = []
    if len(index) and len(among):
        sims, ids = index.search(vector, NEIGHBOURS, among=among)
        hits = [(int(i), float(s)) for i, s in zip(ids[0], sims[0], strict=True) if i >= 0]
    with catalog.db.reading() as s:
        rows = curated(s, [pid for pid, _ in hits], curator)
        paths = {pid: s.get(Photo, pid).path for pid, _ in hits}

    def every_row() -> list:
        with catalog.db.reading() as s:
            return curated(s, curator=curator)

    whose = f"{curator}'s" if curator else "the curators'"
    photo = TastePhoto.of(image, vector) if image is not None else None
    choice = choose(hits, rows, every_row, lambda: taste_model(catalog, curator), photo, k=k,
                    min_similarity=min_similarity, whose=whose)
    chosen = choice.chosen
    guide = chosen.guide_id if chosen is not None else choice.guide_id
    return Recommendation(choice.styles[choice.keys[0]], [choice.styles[key] for key in choice.keys[1:]],
                          round(choice.confidence, 4), _neighbours(hits, paths, choice.ranked), choice.fallback,
                          explain(choice), guide, catalog.embedder.name, choice.source)


_MODELS: dict[tuple, TasteModel] = {}  # per process: (database, backbone, curator, verdicts) -> model
_CURATED: dict[tuple, np.ndarray] = {}  # per process: (database, curator, verdicts) -> curated photo ids
# Request threads share these caches: one learns while the others wait for its model, never learn it twice.
_LEARNING = threading.Lock()
_READING = threading.Lock()


def _curated_ids(catalog: Catalog, s: Session, curator: str | None) -> np.ndarray:
    """Ids of the curated photos, read again only when verdicts changed (a recommendation stays O(k))."""
    key = (catalog.db.url, curator, *verdict_signature(s))
    with _READING:
        if key not in _CURATED:
            _CURATED.clear()
            _CURATED[key] = np.array(sorted(curated_photo_ids(s, curator)), np.int64)
        return _CURATED[key]


def taste_model(catalog: Catalog, curator: str | None) -> TasteModel | None:
    """The taste model of the current verdicts: remembered in this process and in the index folder,
    learnt again (from the curated photos' files) when verdicts changed since."""
    with catalog.db.reading() as s:
        signature = _signature(catalog, s, curator)
    with _LEARNING:
        if signature not in _MODELS:  # read again: another thread may have learnt newer verdicts meanwhile
            with catalog.db.reading() as s:
                signature = _signature(catalog, s, curator)
        if signature not in _MODELS:
            model, learnt_from = _stored_model(catalog, curator, signature)
            _MODELS.clear()
            _MODELS[learnt_from] = model  # a verdict given meanwhile is in it: kept under what it saw
            return model
        return _MODELS[signature]


def _signature(catalog: Catalog, s: Session, curator: str | None) -> tuple:
    """What a taste model is learnt from: the database, backbone, curator, model version and verdicts."""
    return (catalog.db.url, catalog.embedder.name, curator, TASTE_VERSION, *verdict_signature(s))


def _stored_model(catalog: Catalog, curator: str | None, signature: tuple) -> tuple[TasteModel, tuple]:
    """The model kept in the index folder when it was learnt from these verdicts, else learnt now and
    kept; with the signature of the verdicts it was learnt from."""
    path = catalog.index.path.parent / f"taste-{catalog.embedder.name}-{curator or 'everyone'}.pkl"
    try:
        stored_signature, stored = pickle.loads(path.read_bytes())
        if stored_signature == signature:
            return stored, signature
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError, TypeError):
        pass
    model, learnt_from = _learn(catalog, curator)
    model = model.stored()  # predicts as it will when read back
    try:
        atomic_write(path, lambda tmp: tmp.write_bytes(pickle.dumps((learnt_from, model))))
    except OSError as exc:  # a cache: carry on without it
        log.warning("cannot keep the taste model in %s: %s", path, exc)
    return model, learnt_from


@dataclass
class _Seen:
    """What learning computed from a library's photos, by content (SHA-256): kept for this process's
    next learning, since a server learns again after every verdict. It shares the model's arrays."""

    small: dict[str, np.ndarray] = field(default_factory=dict)  # thumbnails
    outcomes: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)  # (photo, set) -> outcome


_SEEN: dict[tuple[str, str | None], _Seen] = {}  # per process: (database URL, curator) -> the last library


def _learn(catalog: Catalog, curator: str | None) -> tuple[TasteModel, tuple]:
    """Learn from the newest curated photos; files are read (and outcomes computed) only for photos
    this process has not learnt from before. Returns the model and the signature (`_signature`) of
    the verdicts it saw, read in the same transaction."""
    with catalog.db.reading() as s:
        signature = _signature(catalog, s, curator)
        rows = curated(s, curator=curator)
        ids = sorted({r.photo_id for r in rows})[-MAX_LIBRARY:]
        photos = {p.id: (p.path, p.sha256) for p in s.query(Photo).where(Photo.id.in_(ids))}
        passed_over = untagged(s, ids, curator)
        photo_ids, _, matrix = embedding_matrix(s, catalog.embedder.name, photo_ids=ids)
    vectors = {int(pid): v for pid, v in zip(photo_ids, matrix, strict=True)}
    log.info("learning taste from %d curated photos", len(ids))
    seen = _SEEN.get((catalog.db.url, curator), _Seen())
    images, unreadable = {}, []
    for pid, (path, sha) in photos.items():
        try:
            images[pid] = seen.small[sha] if sha in seen.small else load_image(path)
        except ImageError as exc:
            unreadable.append(str(exc))
    if unreadable:
        log.warning("taste model: %d curated photos unreadable, left out (first: %s)", len(unreadable), unreadable[0])
    by_sha = {sha: pid for pid, (_, sha) in photos.items()}
    known = {(by_sha[sha], key): v for (sha, key), v in seen.outcomes.items() if sha in by_sha}
    library = Library.build(images, vectors, [r for r in rows if r.photo_id in images], passed_over, known)
    model = learn(library, rows)
    _SEEN[catalog.db.url, curator] = _Seen({photos[pid][1]: library.images[pid] for pid in library.photo_ids},
                                           {(photos[pid][1], key): v for (pid, key), v in library.outcomes.items()})
    return model, signature


def recommend(catalog: Catalog, photo_path: str, k: int = 5, min_similarity: float = MIN_SIMILARITY,
              curator: str | None = None) -> Recommendation:
    """Register the photo (so later verdicts on its renders count), then recommend for it.

    Neighbours are searched among curated photos only: a photo that was itself curated is its
    own closest neighbour, so its verdicts weigh most; an uncurated one never is.
    """
    photo = catalog.register(photo_path)
    return recommend_for_vector(catalog, photo.embedding, k, image=photo.image, min_similarity=min_similarity,
                                curator=curator)


def _neighbours(hits: list[tuple[int, float]], paths: dict[int, str], ranked: list[Candidate]) -> list[Neighbour]:
    by_photo = {pid: Neighbour(pid, paths[pid], round(sim, 4)) for pid, sim in hits}
    for cand in ranked:
        for sp in cand.support:
            by_photo[sp.photo_id].verdicts.append({"render_id": sp.render_id, "verdict": sp.verdict,
                                                   "score": sp.score, "curator": sp.curator,
                                                   "weight": round(sp.weight, 4)})
    return list(by_photo.values())
