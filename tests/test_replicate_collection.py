"""scripts/replicate_collection.py: N copies of a collection, each document under ids of its own, the first
copy's vectors as stored and the others' moved by a little noise."""

from __future__ import annotations

import importlib.util

import numpy as np
from conftest import ROOT

from qa.index.collection import STORE_FILE, read_manifest
from qa.index.store import PassageStore

_spec = importlib.util.spec_from_file_location("replicate_collection", ROOT / "scripts" / "replicate_collection.py")
assert _spec is not None and _spec.loader is not None
replicate_collection = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(replicate_collection)


def _vectors_of(store: PassageStore, model: str, doc_id: str) -> tuple[np.ndarray, np.ndarray]:
    """A document's passage vectors, and its passages' sentence vectors (all rows, in passage order)."""
    with store.snapshot() as view:
        pids = view.pids_of_document(doc_id)
        passages = np.concatenate([vectors for _, vectors in view.passage_vectors(model, pids)])
        owners, sentences = view.sentence_vectors(model, pids.tolist(), passages.shape[1])
    return passages, sentences[np.argsort(owners, kind="stable")]


def test_three_copies_hold_every_passage_three_times_with_near_vectors(fake_seed_collection_dir, tmp_path):
    model = read_manifest(fake_seed_collection_dir)["model"]
    source = PassageStore(fake_seed_collection_dir / STORE_FILE)
    doc_ids, source_passages = source.all_document_ids(), source.count_passages()
    original = _vectors_of(source, model, doc_ids[0])
    source.close()

    written = replicate_collection.replicate(fake_seed_collection_dir, tmp_path / "copies", 3, model)

    assert written == 3 * source_passages
    manifest = read_manifest(tmp_path / "copies")
    assert (manifest["passages"], manifest["index"]) == (written, "flat")  # indexes built and saved for servers
    store = PassageStore(tmp_path / "copies" / STORE_FILE)
    assert store.all_document_ids() == sorted(f"{doc_id}x{copy}" for doc_id in doc_ids for copy in range(3))
    copies = [_vectors_of(store, model, f"{doc_ids[0]}x{copy}") for copy in range(3)]
    assert store.titles_without_vectors(model) == []  # the copies' titles, which are the originals', have theirs
    store.close()
    for kind in (0, 1):  # passage vectors, then sentence vectors
        assert np.array_equal(copies[0][kind], original[kind])
        for moved in copies[1:]:
            cosines = (moved[kind] * original[kind]).sum(axis=1)
            assert moved[kind].shape == original[kind].shape and (cosines > 0.99).all() and (cosines < 0.9999).all()
    assert len(original[1]) > len(original[0])  # several sentences a passage
