"""What to curate next: uncurated photos unlike anything curated, spread over different scenes.

A verdict teaches most where the recommender knows least: on a photo whose nearest curated
photo is far away. Picking greedily the photo farthest from everything curated *or already
suggested* keeps ten suggestions from being ten crops of one new scene.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from db.models import Photo
from db.store import curated_photo_ids, embedding_matrix
from indexer.catalog import Catalog


@dataclass
class Suggestion:
    photo_id: int
    path: str
    nearest_curated: float  # cosine similarity to the closest curated photo (0 when none is curated)


def suggest(catalog: Catalog, n: int = 20, curator: str | None = None) -> list[Suggestion]:
    """Up to `n` uncurated photos, the most novel first (farthest-point order)."""
    catalog.index.refresh()
    with catalog.db.session() as s:
        done = set(curated_photo_ids(s, curator))
        ids, _, vectors = embedding_matrix(s, catalog.net.name)
    mask = np.array([int(i) not in done for i in ids], bool)
    ids, vectors = ids[mask], vectors[mask] if len(vectors) else vectors
    if len(ids) == 0:
        return []
    if done and len(catalog.index):
        sims, _ = catalog.index.search(vectors, 1, among=np.array(sorted(done), np.int64))
        nearest = np.maximum(sims[:, 0], 0.0)
    else:
        nearest = np.zeros(len(ids), np.float32)
    closeness = nearest.copy()  # to anything curated or already suggested
    picks: list[int] = []
    for _ in range(min(n, len(ids))):
        i = int(np.argmin(closeness))
        picks.append(i)
        closeness = np.maximum(closeness, vectors @ vectors[i])
        closeness[picks] = np.inf
    with catalog.db.session() as s:
        paths = {p.id: p.path for p in s.query(Photo).where(Photo.id.in_([int(ids[i]) for i in picks]))}
    return [Suggestion(int(ids[i]), paths[int(ids[i])], round(float(nearest[i]), 4)) for i in picks]
