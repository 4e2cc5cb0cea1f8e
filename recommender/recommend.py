"""`recommend`: embed a photo, find its nearest curated neighbours, choose their best parameter set."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from db.models import Photo
from db.store import curated
from indexer.catalog import Catalog
from renderer.params import RenderParams

from .ranking import MIN_SIMILARITY, Candidate, confidence, diverse, rank

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
                         min_similarity: float = MIN_SIMILARITY) -> Recommendation:
    """Recommend from an embedding; `exclude` leaves photos out (the query itself, in evaluation)."""
    index = catalog.index
    index.refresh()
    hits: list[tuple[int, float]] = []
    if len(index):
        sims, ids = index.search(vector, NEIGHBOURS + len(exclude or ()))
        hits = [(int(i), float(s)) for i, s in zip(ids[0], sims[0], strict=True)
                if i >= 0 and int(i) not in (exclude or set())][:NEIGHBOURS]
    with catalog.db.session() as s:
        rows = curated(s, [pid for pid, _ in hits])
        paths = {pid: s.get(Photo, pid).path for pid, _ in hits}
    ranked = rank(hits, rows, min_similarity)
    picks = diverse(ranked, k)
    neighbours = _neighbours(hits, paths, ranked)
    if not picks:
        closest = max((sim for pid, sim in hits if any(r.photo_id == pid for r in rows)), default=None)
        if not len(index):
            why = "the index is empty"
        elif closest is not None and closest < min_similarity:
            why = f"no curated photo is similar enough (closest {closest:.2f} < {min_similarity})"
        else:
            why = "no similar photo has a render curators marked good"
        return Recommendation(RenderParams(), [], 0.0, neighbours, True,
                              f"fell back to the book's defaults: {why}", None, catalog.net.name)
    best = picks[0]
    return Recommendation(best.params, [c.params for c in picks[1:]], confidence(best, ranked), neighbours, False,
                          _explain(best), best.guide_id, catalog.net.name)


def recommend(catalog: Catalog, photo_path: str, k: int = 5, min_similarity: float = MIN_SIMILARITY
              ) -> Recommendation:
    """Register the photo (so later verdicts on its renders count), then recommend for it.

    A photo that was itself curated is its own closest neighbour, so its verdicts weigh most;
    otherwise it is left out of its own neighbours.
    """
    photo = catalog.register(photo_path)
    with catalog.db.session() as s:
        own = curated(s, [photo.id])
    return recommend_for_vector(catalog, photo.embedding, k, exclude=None if own else {photo.id},
                                min_similarity=min_similarity)


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
