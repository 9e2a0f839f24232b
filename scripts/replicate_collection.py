"""A large collection for measuring changes at scale without embedding it: N copies of a real one.

Each copy of a document gets its own ids and hash, the same text and BM25 words, and its passages'
vectors (and sentence vectors) moved by a little noise (renormalised), so the vector index holds N times
as many distinct points. Retrieval quality over it means nothing; what it is for is the cost of uploads, deletions,
merges and searches at N times the size (scripts/bench.py --changes-collection).

Example:
    .venv/bin/python scripts/replicate_collection.py ~/speechqa-archive/data /tmp/sqa-170k --copies 5
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _moved(vectors: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    """Unit vectors (rows, or one vector) moved by Gaussian noise of about `noise` in length, renormalised."""
    dim = vectors.shape[-1]
    moved = vectors + noise * rng.standard_normal(vectors.shape).astype(np.float32) / np.sqrt(dim)
    return moved / np.linalg.norm(moved, axis=-1, keepdims=True)


def replicate(source: Path, target: Path, copies: int, model: str, noise: float = 0.05) -> int:
    from qa.index.collection import STORE_FILE, Collection
    from qa.index.store import PassageStore
    from qa.index.store_passages import StoredPassage

    source_store = PassageStore(source / STORE_FILE)
    target.mkdir(parents=True, exist_ok=True)
    store = PassageStore(target / STORE_FILE)
    rng = np.random.default_rng(0)
    doc_ids = source_store.all_document_ids()
    written = 0
    for start in range(0, len(doc_ids), 500):
        documents = source_store.get_documents(doc_ids[start : start + 500], with_text=True)
        stored_of = source_store.stored_passages(list(documents))
        hashes = [s.embed_hash for passages in stored_of.values() for s in passages]
        passage_vectors = source_store.known_vectors(model, hashes)
        dim = len(next(iter(passage_vectors.values()))) if passage_vectors else 0
        sentence_vectors = source_store.known_sentence_vectors(model, hashes, dim)
        for copy in range(copies):
            items, vectors, sentences, names = [], {}, {}, {}
            for doc_id, document in documents.items():
                new_id = f"{doc_id}x{copy}"
                names[new_id] = source_store.name_pairs_of(doc_id)
                stored = []
                for source_passage in stored_of.get(doc_id, []):
                    vector = passage_vectors.get(source_passage.embed_hash)
                    if vector is None:  # a passage without a vector for this model is not copied
                        continue
                    key = f"{source_passage.embed_hash}~{copy}"
                    vectors[key] = _moved(vector, rng, noise) if copy else vector
                    of_sentences = sentence_vectors.get(source_passage.embed_hash)
                    if of_sentences is not None:
                        sentences[key] = _moved(of_sentences, rng, noise) if copy else of_sentences
                    passage = source_passage.passage
                    stored.append(StoredPassage(replace(passage, chunk_id=f"{passage.chunk_id}x{copy}", doc_id=new_id),
                                                key, source_passage.tokens))
                items.append((replace(document, doc_id=new_id, content_hash=f"{document.content_hash}~{copy}",
                                      sources=tuple(f"{s}~{copy}" for s in document.sources)), stored, None))
                written += len(stored)
            store.add_documents(items, vectors, model, sentence_vectors=sentences, name_pairs=names)
        # Copies keep their titles, and so their titles' vectors (English questions read them).
        titles = {document.metadata.title for document in documents.values() if document.metadata.title}
        store.put_title_vectors(model, source_store.title_vectors(model, titles))
        print(f"{min(start + 500, len(doc_ids))}/{len(doc_ids)} documents, {written} passages", flush=True)
    store.close()
    source_store.close()
    collection = Collection.open(target, model)
    collection.load_indexes()  # built once here, saved for the servers that open it
    collection.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--copies", type=int, default=5)
    parser.add_argument("--model", default="intfloat/multilingual-e5-small")
    args = parser.parse_args(argv)
    print(f"{replicate(args.source, args.target, args.copies, args.model)} passages in {args.target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
