"""The embedded collection keeps its reuse index (qa/index/collection_reuse.py) in step, saved, and rebuilt when it must be."""

from __future__ import annotations

import logging
import shutil
from types import SimpleNamespace

import pytest
from reuse_helpers import as_raw, planted_documents

from embeddings.char_ngrams import CHAR_NGRAMS_MODEL, CharNgramEncoder
from qa.errors import NotSupportedError
from qa.index.collection import Collection
from qa.index.manifest import read_manifest
from qa.index.milvus_backend import MilvusCollection
from qa.ingest.pipeline import Ingester
from qa.search.requests import ReuseRequest
from qa.search.service import SearchService
from qa.types import RawDocument

# Two sentences of the sample speech 000, which a new document below copies.
COPIED = ("加快工業經濟發展,一定要根據我縣實際,用好用夠政策,充分發揮我縣能源、旅游等資源比較優勢,完善工業發展規劃,"
          "加大上爭外引力度,突出工業發展重點,精心組織安排,全力推進工業強縣戰略的實施。")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A collection of the planted documents, ingested as ingest does with the n-gram encoder, then closed."""
    directory = tmp_path_factory.mktemp("reuse-collection")
    encoder = CharNgramEncoder()
    collection = Collection.open(directory, encoder.name, create=True)
    documents, plants = planted_documents()
    report = Ingester(collection, encoder).add_records([as_raw(d) for d in documents])
    assert len(report.added) == len(documents), report
    collection.close()
    return directory, plants


@pytest.fixture
def collection(built, tmp_path):
    directory = tmp_path / "copy"
    shutil.copytree(built[0], directory)
    opened = Collection.open(directory, CHAR_NGRAMS_MODEL)
    yield opened
    opened.close()


def reusing(collection, text: str) -> set[str]:
    return {r.document.doc_id for r in SearchService(collection, None).reuse(ReuseRequest(text=text, limit=1000)).reuses}


def answers(collection, plants) -> list[set[str]]:
    return [reusing(collection, plant.text) for plant in plants]


def test_the_collection_finds_what_ingest_planted(collection, built):
    for plant in built[1]:
        assert {plant.source, plant.target} <= reusing(collection, plant.text), plant
    assert read_manifest(collection.directory)["reuse"]["documents"] == collection.count_documents()


def test_an_upload_and_a_deletion_count_at_once_without_a_rebuild(collection, built):
    service = SearchService(collection, None)
    before = reusing(collection, COPIED)
    index = collection.reuse.index
    segments = index.segment_count
    Ingester(collection, CharNgramEncoder()).add_records(
        [RawDocument(text=f"县工业推进会讲话\n{COPIED}\n会议要求各乡镇抓好落实。", source="copy.txt", date="2024-05-01")])
    after = service.reuse(ReuseRequest(text=COPIED))
    added = {r.document.doc_id for r in after.reuses} - before
    assert len(added) == 1 and collection.reuse.index is index and index.segment_count == segments + 1
    (new,) = added
    assert collection.remove_document(new)
    assert reusing(collection, COPIED) == before and collection.reuse.index is index


def test_reopened_it_reads_the_saved_index_and_answers_alike(collection, built, caplog):
    expected = answers(collection, built[1])
    directory = collection.directory
    collection.close()
    with caplog.at_level(logging.WARNING):
        reopened = Collection.open(directory, CHAR_NGRAMS_MODEL)
        try:
            assert answers(reopened, built[1]) == expected
        finally:
            reopened.close()
    assert "rebuilding" not in caplog.text


def test_missing_files_are_rebuilt_from_the_store(collection, built, caplog):
    expected = answers(collection, built[1])
    directory = collection.directory
    collection.close()
    shutil.rmtree(directory / "reuse")
    with caplog.at_level(logging.WARNING):
        reopened = Collection.open(directory, CHAR_NGRAMS_MODEL)
        try:
            assert answers(reopened, built[1]) == expected
        finally:
            reopened.close()
    assert "could not read the reuse index" in caplog.text and (directory / "reuse").is_dir()


def test_a_change_another_process_made_is_caught_up_from_the_log(collection):
    before = reusing(collection, COPIED)
    other = Collection.open(collection.directory, CHAR_NGRAMS_MODEL)
    # The other writer stops without saving its indexes, as a killed process would.
    report = Ingester(other, CharNgramEncoder()).add_records(
        [RawDocument(text=f"另一进程写入\n{COPIED}\n完。", source="other.txt", date="2024-06-01")])
    other.wait_for_maintenance()
    other.store.close()
    assert len(report.added) == 1
    assert reusing(collection, COPIED) == before | set(report.added)


def test_milvus_opened_without_a_reuse_folder_says_so():
    milvus = MilvusCollection(SimpleNamespace(model="m", target=SimpleNamespace(index="./speechqa.db")))  # type: ignore[arg-type]
    assert not milvus.capabilities.finds_reuse
    assert MilvusCollection.capabilities.finds_reuse is False  # one collection's folder changes no other's
    with pytest.raises(NotSupportedError, match="text reuse needs a local folder for its index"):
        milvus.reuse_snapshot()
