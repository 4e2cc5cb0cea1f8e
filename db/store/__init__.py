"""Database operations shared by the CLI, the recommender and the web page, by concern: photos and
their embeddings, renders, verdicts, curators, and the counters of removals that caches check."""

from ..models import VERDICTS
from .changes import EMBEDDINGS_REMOVED, VERDICTS_WITHDRAWN, bump, removals
from .curators import (
    CuratorInfo,
    add_curator_token,
    curator,
    curator_by_token,
    curator_exists,
    curators,
    hash_token,
    remove_curator,
)
from .photos import (
    add_embedding,
    add_guide,
    add_photo,
    content_hash,
    embedding_count,
    embedding_matrix,
    embedding_of,
    embedding_sample,
    embedding_signature,
    has_embedding,
    photo_by_hash,
)
from .renders import (
    RenderFilter,
    add_render,
    delete_photo,
    delete_render,
    find_renders,
    list_renders,
    params_hash,
    render_writing_to,
    stored_params,
)
from .verdicts import (
    CuratedRender,
    check_score,
    curated,
    curated_photo_ids,
    current_verdicts,
    tag,
    untag,
    untagged,
    verdict_signature,
)

__all__ = [
    "EMBEDDINGS_REMOVED", "VERDICTS", "VERDICTS_WITHDRAWN", "CuratedRender", "CuratorInfo", "RenderFilter",
    "add_curator_token", "add_embedding", "add_guide", "add_photo", "add_render", "bump", "check_score",
    "content_hash", "curated", "curated_photo_ids", "curator", "curator_by_token", "curator_exists", "curators",
    "current_verdicts", "delete_photo", "delete_render", "embedding_count", "embedding_matrix", "embedding_of",
    "embedding_sample", "embedding_signature", "find_renders", "has_embedding", "hash_token", "list_renders",
    "params_hash", "photo_by_hash", "remove_curator", "removals", "render_writing_to", "stored_params", "tag",
    "untag", "untagged", "verdict_signature",
]
