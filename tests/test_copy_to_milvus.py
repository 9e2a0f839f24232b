"""scripts/copy_to_milvus.py: an embedded collection into Milvus Lite with its stored vectors, nothing re-embedded."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from conftest import ROOT

pytest.importorskip("pymilvus")

from qa.index.collection import STORE_FILE, read_manifest  # noqa: E402
from qa.index.milvus_backend import MilvusCollection  # noqa: E402
from qa.index.milvus_rows import chunk_pid  # noqa: E402
from qa.index.store import PassageStore  # noqa: E402

_spec = importlib.util.spec_from_file_location("copy_to_milvus", ROOT / "scripts" / "copy_to_milvus.py")
assert _spec is not None and _spec.loader is not None
copy_to_milvus = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(copy_to_milvus)


def test_every_passage_arrives_with_its_stored_vector(fake_seed_collection_dir, tmp_path, capsys):
    manifest = read_manifest(fake_seed_collection_dir)
    store = PassageStore(fake_seed_collection_dir / STORE_FILE)
    passages, documents = store.count_passages(), store.count_documents()
    with store.snapshot() as view:
        first_pid = view.pids_of_document(store.all_document_ids()[0])[:1]
        pids, vectors = next(iter(view.passage_vectors(manifest["model"], first_pid)))
        chunk_id = view.passages(pids.tolist())[int(pids[0])].chunk_id
    store.close()
    target = str(tmp_path / "copy.db")

    copy_to_milvus.main(["--data", str(fake_seed_collection_dir), "--index", target])

    assert capsys.readouterr().out.startswith(f"{passages} passages of {documents} documents copied to {target} in ")
    collection = MilvusCollection.open(target, manifest["model"])
    try:
        assert collection.count_passages() == passages
        copied = collection.passages.vectors_of(np.array([chunk_pid(chunk_id)], dtype=np.int64))
    finally:
        collection.close()
    assert np.array_equal(copied[chunk_pid(chunk_id)], vectors[0])
