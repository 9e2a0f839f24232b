"""Text reuse on the Milvus backend (qa/index/milvus_reuse.py), over Milvus Lite: the same answers as the embedded
collection it was copied from, kept current on upload and deletion, saved, rebuilt, and caught up with changes
another writer made. The collections are built with the n-gram encoder: reuse reads texts, not vectors."""

from __future__ import annotations

import logging
import shutil

import pytest

pytest.importorskip("pymilvus")

from reuse_helpers import as_raw, planted_documents  # noqa: E402

from embeddings.char_ngrams import CHAR_NGRAMS_MODEL, CharNgramEncoder  # noqa: E402
from qa.index import milvus_reuse  # noqa: E402
from qa.index.backends import open_collection  # noqa: E402
from qa.index.collection import STORE_FILE, Collection  # noqa: E402
from qa.index.milvus_backend import MilvusCollection, copy_from_store  # noqa: E402
from qa.index.milvus_passages import MilvusPassages  # noqa: E402
from qa.index.milvus_reuse import reuse_folder  # noqa: E402
from qa.index.store import PassageStore  # noqa: E402
from qa.ingest.pipeline import Ingester  # noqa: E402
from qa.search.requests import ReuseRequest, TopReuseRequest  # noqa: E402
from qa.search.service import SearchService  # noqa: E402
from qa.settings import Settings  # noqa: E402
from qa.types import RawDocument  # noqa: E402

# Two sentences of the sample speech 000, which a new document below copies.
COPIED = ("加快工業經濟發展,一定要根據我縣實際,用好用夠政策,充分發揮我縣能源、旅游等資源比較優勢,完善工業發展規劃,"
          "加大上爭外引力度,突出工業發展重點,精心組織安排,全力推進工業強縣戰略的實施。")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The planted documents as an embedded collection, and a Milvus Lite copy of it (no reuse folder yet)."""
    directory = tmp_path_factory.mktemp("milvus-reuse") / "embedded"
    encoder = CharNgramEncoder()
    collection = Collection.open(directory, encoder.name, create=True)
    documents, plants = planted_documents()
    Ingester(collection, encoder).add_records([as_raw(d) for d in documents])
    collection.close()
    lite = directory.parent / "lite" / "planted.db"
    passages = MilvusPassages.open(str(lite), CHAR_NGRAMS_MODEL, encoder.dim, create=True)
    store = PassageStore(directory / STORE_FILE)
    copy_from_store(store, CHAR_NGRAMS_MODEL, passages)
    store.close()
    passages.close()
    # Milvus Lite serves a .db folder from this process until told to stop, and writes its files out as it
    # stops: each test copies the folder, and a copy taken before then can hold an empty segment file.
    from milvus_lite.server_manager import server_manager_instance

    server_manager_instance.release_server(str(lite))
    return directory, lite, plants


@pytest.fixture
def milvus(built, tmp_path):
    """A fresh copy of the Milvus Lite file, opened as `--index` opens it."""
    lite = tmp_path / "lite" / "planted.db"
    shutil.copytree(built[1].parent, lite.parent)
    opened = open_collection(Settings.from_env({}, index=str(lite), cache_dir=tmp_path / "cache"), CHAR_NGRAMS_MODEL)
    yield opened
    opened.close()


def answer(collection, **request) -> list[tuple]:
    """A reuse report as what it says: each reusing passage, its spans on both sides, its share, in order."""
    report = SearchService(collection, None).reuse(ReuseRequest(limit=1000, **request))
    return [(r.passage.chunk_id, r.highlights, r.source_highlights, r.longest, round(r.share, 6), r.earliest)
            for r in report.reuses] + [report.total_documents]


def reusing(collection, text: str) -> set[str]:
    return {r.document.doc_id for r in SearchService(collection, None).reuse(ReuseRequest(text=text, limit=1000)).reuses}


def test_milvus_answers_as_the_embedded_collection_it_was_copied_from(built, milvus):
    directory, _, plants = built
    assert isinstance(milvus, MilvusCollection) and milvus.capabilities.finds_reuse
    embedded = Collection.open(directory, CHAR_NGRAMS_MODEL)
    try:
        doc_ids = embedded.all_document_ids()
        assert milvus.passages.texts_of(doc_ids) == {d: t.text for d, t in embedded.get_documents(doc_ids, True).items()}
        for plant in plants:
            assert {plant.source, plant.target} <= reusing(milvus, plant.text), plant
            assert answer(milvus, text=plant.text) == answer(embedded, text=plant.text), plant
            chunk_id = next(c for c, *_ in answer(embedded, text=plant.text)[:-1] if c.startswith("c-"))
            assert answer(milvus, chunk_id=chunk_id) == answer(embedded, chunk_id=chunk_id)
            dated = dict(text=plant.text, date_from="2015-01-01", date_to="2019-12-31")
            assert answer(milvus, **dated) == answer(embedded, **dated)
        # The same list, though the backends keep documents in another order (pids: consecutive in the store,
        # hashes in Milvus): each candidate starts from the holder of the smallest doc id.
        top = SearchService(milvus, None).reuse_top(TopReuseRequest()).passages
        assert top and [(p.passage.chunk_id, p.documents) for p in top] == [
            (p.passage.chunk_id, p.documents) for p in SearchService(embedded, None).reuse_top(TopReuseRequest()).passages]
        for item in top:
            assert answer(milvus, chunk_id=item.passage.chunk_id) == answer(embedded, chunk_id=item.passage.chunk_id)
        hits = [p for chunk_id in (plants[0].source,) for p in embedded.passages_of(chunk_id)]
        assert SearchService(milvus, None).reused(hits) == SearchService(embedded, None).reused(hits) != set()
    finally:
        embedded.close()


def test_an_upload_and_a_deletion_count_at_once_and_survive_a_reopen(built, milvus, tmp_path, caplog):
    before = reusing(milvus, COPIED)
    report = Ingester(milvus, CharNgramEncoder()).add_records(
        [RawDocument(text=f"新上传的讲话\n{COPIED}\n完。", source="upload.txt", date="2024-05-01")])
    (added,) = report.added
    assert reusing(milvus, COPIED) == before | {added}
    victim = next(iter(before))
    assert milvus.remove_document(victim)
    assert reusing(milvus, COPIED) == (before - {victim}) | {added}
    expected = reusing(milvus, COPIED)
    milvus.close()
    index = str(tmp_path / "lite" / "planted.db")
    folder = reuse_folder(index, tmp_path / "cache")
    assert (folder / milvus_reuse.ENTRY).exists()
    with caplog.at_level(logging.INFO, logger="qa.index.milvus_reuse"):
        reopened = open_collection(Settings.from_env({}, index=index, cache_dir=tmp_path / "cache"), CHAR_NGRAMS_MODEL)
        try:
            assert reusing(reopened, COPIED) == expected
        finally:
            reopened.close()
    assert "added from Milvus" not in caplog.text  # the saved index was current: nothing read again


def test_missing_or_damaged_files_are_rebuilt_from_milvus(milvus, tmp_path, caplog):
    expected = reusing(milvus, COPIED)
    milvus.close()
    index = str(tmp_path / "lite" / "planted.db")
    folder = reuse_folder(index, tmp_path / "cache")
    for damage in ("files", "folder"):
        if damage == "files":
            shutil.rmtree(folder / "reuse")
        else:
            shutil.rmtree(folder)
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="qa.index.milvus_reuse"):
            reopened = open_collection(Settings.from_env({}, index=index, cache_dir=tmp_path / "cache"), CHAR_NGRAMS_MODEL)
            try:
                assert reusing(reopened, COPIED) == expected
            finally:
                reopened.close()
        assert "added from Milvus" in caplog.text, damage
        assert damage == "folder" or "could not read the reuse index" in caplog.text


def test_changes_another_writer_made_are_caught_up(milvus, tmp_path, monkeypatch):
    before = reusing(milvus, COPIED)
    # Another process on the same Milvus collection, with a reuse folder of its own, uploads and deletes.
    other = MilvusCollection.open(str(tmp_path / "lite" / "planted.db"), CHAR_NGRAMS_MODEL,
                                  reuse_folder=tmp_path / "other-reuse")
    report = Ingester(other, CharNgramEncoder()).add_records(
        [RawDocument(text=f"另一进程写入\n{COPIED}\n完。", source="other.txt", date="2024-06-01")])
    victim = sorted(before)[0]
    assert other.remove_document(victim)
    other.passages.commit()
    monkeypatch.setattr(milvus_reuse, "RECHECK_S", 0.0)
    # The count is unchanged (one added, one removed): the removed document drops out at once (each answer reads
    # Milvus's documents), the added one shows once the count differs.
    assert reusing(milvus, COPIED) == before - {victim}
    (added,) = report.added
    more = Ingester(other, CharNgramEncoder()).add_records(
        [RawDocument(text=f"再写一篇\n{COPIED}\n完。", source="other2.txt", date="2024-07-01")])
    other.passages.commit()
    assert reusing(milvus, COPIED) == (before - {victim}) | {added, *more.added}
    other.close()


def test_a_process_killed_before_it_saved_leaves_an_index_the_next_start_completes(milvus, tmp_path):
    index = str(tmp_path / "lite" / "planted.db")
    before = reusing(milvus, COPIED)
    milvus.reuse.save()
    report = Ingester(milvus, CharNgramEncoder()).add_records(
        [RawDocument(text=f"未保存的上传\n{COPIED}\n完。", source="unsaved.txt", date="2024-08-01")])
    milvus.passages.commit()
    # As after kill -9: Milvus holds the upload, the saved reuse index does not.
    successor = open_collection(Settings.from_env({}, index=index, cache_dir=tmp_path / "cache"), CHAR_NGRAMS_MODEL)
    try:
        successor.prepare_reuse()  # as a starting server does: the request below waits for what is left
        assert reusing(successor, COPIED) == before | set(report.added)
    finally:
        successor.close()
