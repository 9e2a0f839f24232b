"""qa/index/store.py: whole-document writes in one transaction, and reads with or without the text."""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import numpy as np
import pytest

from qa.index.store import PassageStore, StoredPassage
from qa.types import Document, DocumentSummary, Metadata, Passage

# Seed 003's opening lines, as ingest cleaned them.
TEXT = "在全縣重點項目推進會上的講話\n項目是經濟工作的核心,大項目是經濟社會發展的火車頭。"


def document(n: int, content_hash: str) -> tuple[Document, list[StoredPassage], None]:
    doc_id = f"d-{n:016x}"
    doc = Document(doc_id, TEXT, content_hash, Metadata(title="在全縣重點項目推進會上的講話", date="2022-01-27"),
                   "zh-Hant", (f"00{n}_speech.txt",))
    passage = Passage(f"c-{n}", doc_id, 0, TEXT, 0, len(TEXT))
    return doc, [StoredPassage(passage, f"e{n}", "项目 经济 工作")], None


@pytest.fixture
def store(tmp_path):
    store = PassageStore(tmp_path / "store.sqlite")
    yield store
    store.close()


def test_a_failed_write_leaves_nothing_behind(store):
    store.add_documents([document(1, "h1")], {"e1": np.ones(4, np.float32)}, "m")
    version = store.version
    # The third document's passage repeats the first's chunk id: the write fails whole, its vector too.
    doc, _, _ = document(3, "h3")
    clash = (doc, [StoredPassage(Passage("c-1", doc.doc_id, 0, TEXT, 0, len(TEXT)), "e3", "")], None)
    with pytest.raises(sqlite3.IntegrityError):
        store.add_documents([document(2, "h2"), clash], {"e2": np.ones(4, np.float32)}, "m")
    assert store.version == version
    assert store.count_documents() == 1 and store.count_passages() == 1
    assert store.known_vectors("m", ["e1", "e2"]).keys() == {"e1"}
    store.add_documents([document(2, "h2")], {}, "m")  # the connection is usable again
    assert store.count_documents() == 2


def test_a_document_another_writer_stored_first_is_not_written_twice(tmp_path):
    first, second = PassageStore(tmp_path / "store.sqlite"), PassageStore(tmp_path / "store.sqlite")
    try:
        first.add_documents([document(1, "h1")], {}, "m")
        # The second writer looked (find_by_hash) before the first wrote: the same text from another source.
        doc, passages, _ = document(1, "h1")
        again = (replace(doc, sources=("copy.txt",)), passages, None)
        change = second.add_documents([document(2, "h2"), again], {}, "m")
        assert dict(change.already_stored) == {doc.doc_id: True} and len(change.added) == 1
        assert second.count_documents() == 2 and second.count_passages() == 2
        assert second.get_document(doc.doc_id).sources == ("001_speech.txt", "copy.txt")
        assert dict(second.add_documents([again], {}, "m").already_stored) == {doc.doc_id: False}
    finally:
        first.close()
        second.close()


def test_documents_are_read_with_their_text_only_when_asked(store):
    written, _, _ = document(1, "h1")
    store.add_documents([document(1, "h1")], {}, "m")
    summary = store.get_documents([written.doc_id])[written.doc_id]
    assert type(summary) is DocumentSummary and not hasattr(summary, "text")
    assert summary.metadata == written.metadata and summary.source == "001_speech.txt"
    assert store.get_documents([written.doc_id, "d-missing"], with_text=True) == {written.doc_id: written}
    assert store.get_document(written.doc_id) == written and store.get_document("d-missing") is None
    assert store.list_documents() == [(summary, 1)]
    with store.snapshot() as view:
        assert view.documents([written.doc_id]) == {written.doc_id: summary}
