"""What to curate next: the photos whose verdicts would teach the recommender most.

A verdict teaches most where the recommender knows least: on a photo unlike anything curated
(its nearest curated photo is far away) and on which the taste model hesitates between sets
(its favourite classifier gives no set a clear chance). Picking greedily the photo with the most
of both — farthest from everything curated *or already suggested*, weighted by that
uncertainty — keeps ten suggestions from being ten crops of one new scene. Before the model
can be learnt, novelty alone decides.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prismarec.db.models import Photo
from prismarec.db.store import curated_photo_ids, embedding_matrix
from prismarec.indexer.catalog import Catalog
from prismarec.renderer.images import ImageError, load_image

WEIGHED = 40  # uncertainty is weighed among this many of the most novel photos (each read as a thumbnail)


@dataclass
class Suggestion:
    photo_id: int
    path: str
    nearest_curated: float  # cosine similarity to the closest curated photo (0 when none is curated)
    uncertainty: float | None = None  # 1 − the taste model's chance for its favourite (None: no model yet)


def teaching_order(vectors: np.ndarray, nearest: np.ndarray, n: int, uncertainty: np.ndarray | None = None
                   ) -> list[int]:
    """Indices of up to `n` photos, greedily the one least like anything curated (`nearest`: its
    similarity to the closest curated photo) or picked before, times its `uncertainty`."""
    closeness = np.maximum(nearest, 0.0).astype(float)
    weight = np.ones(len(vectors)) if uncertainty is None else uncertainty
    picks: list[int] = []
    for _ in range(min(n, len(vectors))):
        score = (1.0 - closeness) * weight
        score[picks] = -np.inf
        i = int(np.argmax(score))
        picks.append(i)
        closeness = np.maximum(closeness, vectors @ vectors[i])
    return picks


def suggest(catalog: Catalog, n: int = 20, curator: str | None = None) -> list[Suggestion]:
    """Up to `n` uncurated photos, the most worth curating first."""
    from .recommend import taste_model
    from .taste import LOOK_WIDTH, TastePhoto

    catalog.index.refresh()
    with catalog.db.reading() as s:
        done = set(curated_photo_ids(s, curator))
        ids, _, vectors = embedding_matrix(s, catalog.embedder.name)
    mask = np.array([int(i) not in done for i in ids], bool)
    ids, vectors = ids[mask], vectors[mask] if len(vectors) else vectors
    if len(ids) == 0:
        return []
    if done and len(catalog.index):
        sims, _ = catalog.index.search(vectors, 1, among=np.array(sorted(done), np.int64))
        nearest = np.maximum(sims[:, 0], 0.0)
    else:
        nearest = np.zeros(len(ids), np.float32)
    novel = teaching_order(vectors, nearest, max(n, WEIGHED))
    with catalog.db.reading() as s:
        paths = {p.id: p.path for p in s.query(Photo).where(Photo.id.in_([int(ids[i]) for i in novel]))}
    model = taste_model(catalog, curator) if done else None
    unsure: dict[int, float] = {}
    if model is not None and model.model is not None and model.model.classifier is not None:
        readable = {}
        for i in novel[:WEIGHED]:
            try:
                readable[i] = TastePhoto.of(load_image(paths[int(ids[i])], at_least=2 * LOOK_WIDTH), vectors[i])
            except ImageError:
                continue  # a file gone since: not worth suggesting
        weighed = list(readable)
        unsure = dict(zip(weighed, map(float, model.uncertainty(list(readable.values()))), strict=True))
        head = [weighed[j] for j in teaching_order(vectors[weighed], nearest[weighed], min(n, len(weighed)),
                                                   np.array(list(unsure.values())))]
        novel = head + novel[WEIGHED:]  # the rest (unreadable files left out) in novelty order
    return [Suggestion(int(ids[i]), paths[int(ids[i])], round(float(nearest[i]), 4),
                       round(unsure[i], 4) if i in unsure else None) for i in novel[:n]]
