"""Storage of photos, embeddings, renders and verdicts through SQLAlchemy (any URL; SQLite by default)."""

from .models import Curator, Embedding, Guide, Photo, Render, Verdict
from .paths import data_home, default_url, index_dir, renders_dir
from .session import Database, NotFound, StorageError

__all__ = ["Curator", "Database", "Embedding", "Guide", "NotFound", "Photo", "Render", "StorageError", "Verdict",
           "data_home", "default_url", "index_dir", "renders_dir"]
