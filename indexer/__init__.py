"""Photo embeddings and their FAISS index, kept in step with the database."""

from .embed import embed
from .vector_index import IndexMismatchError, VectorIndex, make_index

__all__ = ["IndexMismatchError", "VectorIndex", "embed", "make_index"]
