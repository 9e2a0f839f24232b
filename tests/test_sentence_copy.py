"""qa/index/sentence_copy.py: sentence vectors read from a flat copy give exactly what the store gives."""

from __future__ import annotations

import numpy as np

from qa.index.collection import Collection
from qa.index.sentence_copy import SentenceFile, sentence_rows
from qa.search.requests import SearchRequest
from qa.search.service import SearchService
from qa.types import RawDocument
from tests.test_changes import PROBE

DIM = 4


def _blob(pid: int, sentences: int) -> bytes:
    return np.full((sentences, DIM), pid, dtype=np.float16).tobytes()


def test_rows_come_from_the_copy_or_the_store_in_the_order_the_store_alone_gives(tmp_path):
    stored = {pid: _blob(pid, 1 + pid % 3) for pid in range(1, 1200) if pid % 7}  # every 7th has none
    copied = SentenceFile.write(tmp_path, DIM, ((pid, blob) for pid, blob in stored.items() if pid < 900))
    asked: list[list[int]] = []

    def from_store(pids: list[int]) -> list[tuple[int, bytes]]:
        asked.append(pids)
        return [(pid, stored[pid]) for pid in sorted(set(pids)) if pid in stored]  # as SQLite answers an IN

    try:
        pids = [int(p) for p in np.random.default_rng(3).permutation(np.arange(1, 1200))[:700]]
        expected = sentence_rows(pids, DIM, None, from_store)
        asked.clear()
        owners, rows = sentence_rows(pids, DIM, copied, from_store)
        np.testing.assert_array_equal(owners, expected[0])
        np.testing.assert_array_equal(rows, expected[1])
        assert rows.dtype == np.float32 and set(owners.tolist()) == {p for p in pids if p in stored}
        # Only what the copy lacks goes to the store.
        assert sorted(p for batch in asked for p in batch) == sorted(p for p in pids if p >= 900 or p not in stored)
        assert len(copied) == len([p for p in stored if p < 900]) and not list(tmp_path.iterdir())  # no name on disk
    finally:
        copied.close()


def test_a_collection_scores_from_its_copy_exactly_as_from_the_store_and_reads_new_passages_from_the_store(
        fake_seed_collection_copy, fake_encoder):
    collection = Collection.open(fake_seed_collection_copy, fake_encoder.name)
    service = SearchService(collection, fake_encoder)
    queries = np.stack([service.embed_query("招商引资进度为什么落后"), service.embed_query("项目建设")])
    try:
        with collection.snapshot() as view:
            pids = np.array(sorted(int(p) for (p,) in collection.store._db.execute("SELECT pid FROM passages")))
            before = view.sentence_cosines(queries, pids)
        listed = sorted(path.name for path in fake_seed_collection_copy.iterdir())
        collection.prepare_searches()
        collection.sentences.wait()
        copy = collection.sentences.current()
        assert copy is not None and copy.pids.tolist() == pids.tolist()
        assert sorted(path.name for path in fake_seed_collection_copy.iterdir()) == listed
        with collection.snapshot() as view:
            np.testing.assert_array_equal(view.sentence_cosines(queries, pids[::-1]), before[::-1])

        report = service.changes.add_documents([RawDocument(PROBE, "probe-after-copy.txt")])
        with collection.snapshot() as view:
            new = np.setdiff1d(view.vectors.search(queries[0], 10_000)[0], pids)
            assert len(new) > 1 and report.added and (copy.held(new) < 0).all()
            both = np.concatenate([new, pids])
            from_store = view.store.sentence_vectors(fake_encoder.name, both.tolist(), fake_encoder.dim)
            mixed = view.store.sentence_vectors(fake_encoder.name, both.tolist(), fake_encoder.dim, copy)
            np.testing.assert_array_equal(mixed[0], from_store[0])
            np.testing.assert_array_equal(mixed[1], from_store[1])
            assert set(from_store[0].tolist()) >= set(new.tolist())
        hits = service.search(SearchRequest(query="园区道路管网建设")).hits
        assert any("园区道路管网" in hit.passage.text for hit in hits)
    finally:
        collection.close()
    assert collection.sentences.current() is None
