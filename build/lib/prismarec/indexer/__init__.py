"""Photo embeddings (`indexer.embed`) and their FAISS index (`indexer.vector_index`), kept in step
with the database. Nothing is imported here, so that the index can be built without torch."""
