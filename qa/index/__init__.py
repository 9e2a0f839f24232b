"""The collection: the passage store (SQLite) and the indexes behind one interface (FAISS, BM25,
Milvus, phrases), kept in step with the store's change log."""
