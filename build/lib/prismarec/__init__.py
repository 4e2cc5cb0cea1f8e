"""prismarec: Prisma-like artworks from photos, with parameters recommended from curated renders.

One import root over the repository's folders: `prismarec.renderer` (the book's pipeline and the
painting networks), `prismarec.indexer` (embeddings and the FAISS index), `prismarec.recommender`
(taste, choice, evaluation), `prismarec.db` (SQLAlchemy models, store, migrations),
`prismarec.studio` (the library service and the web page), `prismarec.cli` (the commands) and
`prismarec.scripts` (benchmarks, figures, the demo curation).
"""
