"""`recommend`: embed a photo, find its nearest curated neighbours, choose their best parameter set."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from db.models import Photo
from db.store import curated, curated_photo_ids, curator_exists
from indexer.catalog import Catalog
from renderer.params import RenderParams

from .ranking import MIN_SIMILARITY, Candidate, confidence, diverse, most_liked, rank

NEIGHBOURS = 10


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

    def to_dict(self) -> dict:
        return {"params": self.params.to_dict(), "alternatives": [a.to_dict() for a in self.alternatives],
                "confidence": self.confidence, "neighbours": [asdict(n) for n in self.neighbours],
                "fallback": self.fallback, "explanation": self.explanation, "guide_id": self.guide_id,
                "backbone": self.backbone}


def recommend_for_vector(catalog: Catalog, vector: np.ndarray, k: int = 5, *, exclude: set[int] | None = None,
                         min_similarity: float = MIN_SIMILARITY, curator: str | None = None) -> Recommendation:
    """Recommend from an embedding, among curated photos only (of `curator`, or everyone's);
    `exclude` leaves photos out (the query itself, in evaluation)."""
    index = catalog.index
    index.refresh()
    with catalog.db.session() as s:
        if curator is not None and not curator_exists(s, curator):
            raise ValueError(f"no curator named {curator!r}")
        among = np.array(sorted(set(curated_photo_ids(s, curator)) - (exclude or set())), np.int64)
    hits: list[tuple[int, float]] = []
    if len(index) and len(among):
        sims, ids = index.search(vector, NEIGHBOURS, among=among)
        hits = [(int(i), float(s)) for i, s in zip(ids[0], sims[0], strict=True) if i >= 0]
    with catalog.db.session() as s:
        rows = curated(s, [pid for pid, _ in hits], curator)
        paths = {pid: s.get(Photo, pid).path for pid, _ in hits}
    ranked = rank(hits, rows, min_similarity)
    picks = diverse(ranked, k)
    neighbours = _neighbours(hits, paths, ranked)
    if not picks:
        return _fallback(catalog, hits, rows, neighbours, min_similarity, curator, exclude)
    best = picks[0]
    return Recommendation(best.params, [c.params for c in picks[1:]], confidence(best, ranked), neighbours, False,
                          _explain(best), best.guide_id, catalog.net.name)


def _fallback(catalog: Catalog, hits: list[tuple[int, float]], rows: list, neighbours: list[Neighbour],
              min_similarity: float, curator: str | None, exclude: set[int] | None) -> Recommendation:
    """No similar curated photo liked anything: the curators' most-liked set, else the book's defaults."""
    whose = f"{curator}'s" if curator else "the curators'"
    if not hits:
        why = "the index is empty" if not len(catalog.index) else f"no photo has {whose} verdicts yet"
    elif max(sim for _, sim in hits) < min_similarity:
        why = f"no curated photo is similar enough (closest {max(sim for _, sim in hits):.2f} < {min_similarity})"
    else:
        why = "no similar photo has a render curators marked good"
    with catalog.db.session() as s:
        liked = most_liked([r for r in curated(s, curator=curator) if r.photo_id not in (exclude or set())])
    if liked is not None:
        return Recommendation(liked, [], 0.0, neighbours, True, f"fell back to {whose} most-liked set: {why}",
                              None, catalog.net.name)
    return Recommendation(RenderParams(), [], 0.0, neighbours, True, f"fell back to the book's defaults: {why}",
                          None, catalog.net.name)


def recommend(catalog: Catalog, photo_path: str, k: int = 5, min_similarity: float = MIN_SIMILARITY,
              curator: str | None = None) -> Recommendation:
    """Register the photo (so later verdicts on its renders count), then recommend for it.

    Neighbours are searched among curated photos only: a photo that was itself curated is its
    own closest neighbour, so its verdicts weigh most; an uncurated one never is.
    """
    photo = catalog.register(photo_path)
    return recommend_for_vector(catalog, photo.embedding, k, min_similarity=min_similarity, curator=curator)


def _neighbours(hits: list[tuple[int, float]], paths: dict[int, str], ranked: list[Candidate]) -> list[Neighbour]:
    by_photo = {pid: Neighbour(pid, paths[pid], round(sim, 4)) for pid, sim in hits}
    for cand in ranked:
        for sp in cand.support:
            by_photo[sp.photo_id].verdicts.append({"render_id": sp.render_id, "verdict": sp.verdict,
                                                   "score": sp.score, "curator": sp.curator,
                                                   "weight": round(sp.weight, 4)})
    return list(by_photo.values())


def _explain(best: Candidate) -> str:
    good = [sp for sp in best.support if sp.weight > 0]
    bad = [sp for sp in best.support if sp.weight < 0]
    lines = [f"chosen set scored {best.total:.3f} from {len(good)} good and {len(bad)} bad verdict(s):"]
    lines += [f"  photo {sp.photo_id} (similarity {sp.similarity:.3f}), render {sp.render_id}: {sp.verdict}"
              f"{'' if sp.score is None else f' {sp.score}/5'} by {sp.curator}" for sp in best.support[:8]]
    return "\n".join(lines)
