"""Both backends honour the written contract (qa.index.contract): every member, with the contract's
parameters, and the same answers to the same writes. Vectors are made up: no model is loaded."""

from __future__ import annotations

import inspect
from typing import Protocol

import numpy as np
import pytest

from qa.index.collection import Collection
from qa.index.contract import Backend, Capabilities, ChunkingSettings, Reindexable
from qa.index.phrase_index import fold_for_phrase
from qa.ingest.pipeline import DERIVED_VERSION, PreparedDocument, prepare
from qa.text.name_pairs import NamePair
from qa.types import PassageFilter, RawDocument

DIM = 8
SPEECHES = [
    RawDocument("在全县招商引资工作会议上的讲话\n\n同志们：今年以来，全县招商引资工作取得新进展，签约项目二十个。"
                "各乡镇要抓紧项目落地，与美国在台协会（AIT）交流，优化营商环境，确保全年目标任务完成。", "zhaoshang.txt",
                title="在全县招商引资工作会议上的讲话", date="2023-03-01", speaker="王明"),
    RawDocument("在全县农业农村工作会议上的讲话\n\n同志们：粮食安全是国之大者。我们要稳定粮食播种面积，"
                "推进高标准农田建设，抓好农业社会化服务，让农民腰包鼓起来。", "nongye.txt",
                title="在全县农业农村工作会议上的讲话", date="2022-11-20", speaker="李华"),
    RawDocument("在全县工业强县推进会上的讲话\n\n同志们：工业强县战略是县委的重大决策。要做大做强园区，"
                "培育龙头企业。县长与美国在台协会（AIT）处长孙晓雅（Sandra Oudkirk）座谈，推动招商引资和项目建设再上新台阶。", "gongye.txt", title="在全县工业强县推进会上的讲话"),
]


def _prepared() -> list[PreparedDocument]:
    prepared = [prepare(raw, ChunkingSettings()) for raw in SPEECHES]
    assert all(isinstance(p, PreparedDocument) for p in prepared)
    return prepared  # type: ignore[return-value]


def _vector(key: str) -> np.ndarray:
    vector = np.random.default_rng(sum(key.encode())).standard_normal(DIM).astype(np.float32)
    return vector / np.linalg.norm(vector)


def _write(collection: Backend, prepared: list[PreparedDocument]) -> None:
    """What an ingest writes, through the contract alone."""
    items = [(p.document, p.passages, p.signature.tobytes()) for p in prepared]
    wanted = {s.embed_hash for p in prepared for s in p.passages}
    known = collection.known_vectors(wanted)
    fresh = {key: _vector(key) for key in wanted if key not in known}
    sentences = {key: vector[None, :] for key, vector in fresh.items()} if collection.capabilities.scores_sentences else {}
    collection.put_title_vectors({p.document.metadata.title: _vector("title") for p in prepared[:2]})
    change = collection.add_documents(items, {**known, **fresh}, fresh=list(fresh), sentence_vectors=sentences,
                                      name_pairs={p.document.doc_id: p.name_pairs for p in prepared})
    assert len(change.added) == len({s.passage.chunk_id for p in prepared for s in p.passages})


def _embedded(tmp_path) -> Collection:
    return Collection.open(tmp_path / "data", "m", create=True)


def _milvus(tmp_path):
    pytest.importorskip("pymilvus")
    from qa.index.milvus_backend import MilvusCollection

    return MilvusCollection.open(str(tmp_path / "milvus.db"), "m", dim=DIM, create=True)


@pytest.fixture(scope="module")
def backends(tmp_path_factory):
    """The same documents written into each backend."""
    tmp_path = tmp_path_factory.mktemp("contract")
    opened = {"embedded": _embedded(tmp_path), "milvus": _milvus(tmp_path)}
    for collection in opened.values():
        _write(collection, _prepared())
    yield opened
    for collection in opened.values():
        collection.close()


def _members(protocol: type) -> dict[str, object]:
    """The contract's members, from the protocol and every protocol it extends."""
    members: dict[str, object] = {}
    for cls in reversed(protocol.__mro__):
        if cls is not Protocol and getattr(cls, "_is_protocol", False):
            members.update({name: value for name, value in vars(cls).items() if not name.startswith("_")})
    return members


def _parameters(function) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


@pytest.mark.parametrize(("name", "protocol"), [("embedded", Reindexable), ("milvus", Backend)])
def test_each_backend_has_every_member_with_the_contracts_parameters(backends, name, protocol):
    collection = backends[name]
    members = _members(protocol)
    assert {"snapshot", "get_documents", "add_documents", "capabilities", "location"} <= set(members)
    for member, declared in members.items():
        assert hasattr(collection, member), (name, member)
        if callable(declared):
            assert _parameters(getattr(type(collection), member)) == _parameters(declared), (name, member)


def test_only_the_embedded_backend_is_reindexable():
    pytest.importorskip("pymilvus")
    from qa.index.milvus_backend import MilvusCollection

    reindexing = set(_members(Reindexable)) - set(_members(Backend))
    assert reindexing and all(hasattr(Collection, member) for member in reindexing - {"manifest"})
    assert not all(hasattr(MilvusCollection, member) for member in reindexing)


def test_capabilities_are_declared_not_discovered(backends):
    assert backends["embedded"].capabilities == Capabilities(scores_sentences=True, scores_titles=True, knows_in_memory=True,
                                                             finds_reuse=True)
    assert backends["milvus"].capabilities == Capabilities(scores_sentences=False, scores_titles=True, knows_in_memory=False)


def test_both_backends_read_back_what_was_written(backends):
    embedded, milvus = backends["embedded"], backends["milvus"]
    prepared = _prepared()
    assert embedded.count_documents() == milvus.count_documents() == 3
    assert embedded.count_passages() == milvus.count_passages() == sum(len(p.passages) for p in prepared)
    assert embedded.list_documents(0, 10) == milvus.list_documents(0, 10)
    assert [d.metadata.date for d, _ in embedded.list_documents(0, 10)] == ["2023-03-01", "2022-11-20", None]
    assert embedded.speakers() == milvus.speakers() == {"王明", "李华"}
    for p in prepared:
        doc_id = p.document.doc_id
        assert embedded.get_document(doc_id) == milvus.get_document(doc_id) == p.document
        assert embedded.passages_of(doc_id) == milvus.passages_of(doc_id) == [s.passage for s in p.passages]
        first = p.passages[0].passage
        assert embedded.passage(first.chunk_id) == milvus.passage(first.chunk_id) == first
        assert embedded.find_by_hash(p.document.content_hash) == milvus.find_by_hash(p.document.content_hash) == doc_id
    ids = [p.document.doc_id for p in prepared] + ["d-unknown"]
    assert embedded.get_documents(ids) == milvus.get_documents(ids)
    assert embedded.get_documents(ids, with_text=True) == milvus.get_documents(ids, with_text=True)
    assert embedded.passage("c-0000000000000000") is milvus.passage("c-0000000000000000") is None
    assert embedded.get_document("d-unknown") is milvus.get_document("d-unknown") is None
    phrase, since_2023 = fold_for_phrase("招商引资"), PassageFilter(date_from="2023-01-01")
    assert set(embedded.phrase_candidates(phrase, PassageFilter())) == set(milvus.phrase_candidates(phrase, PassageFilter())) \
        == {prepared[0].document.doc_id, prepared[2].document.doc_id}
    assert set(embedded.phrase_candidates(phrase, since_2023)) == set(milvus.phrase_candidates(phrase, since_2023)) \
        == {prepared[0].document.doc_id}
    titles = [p.document.metadata.title for p in prepared]
    assert embedded.titles_without_vectors(titles) == milvus.titles_without_vectors(titles) == titles[2:]
    assert embedded.name_pair_counts() == milvus.name_pair_counts() == {
        NamePair("美国在台协会", "AIT"): 2, NamePair("孙晓雅", "Sandra Oudkirk"): 1}


def test_one_view_serves_a_request_on_either_backend(backends):
    first = _prepared()[0]
    pids = {}
    for name, collection in backends.items():
        with collection.snapshot() as view:
            found, _ = view.lexical.search(["招商"], 10, PassageFilter(speaker="王明"))
            passages = view.passages(found.tolist())
            assert {p.doc_id for p in passages.values()} == {first.document.doc_id}, name
            assert set(view.documents([first.document.doc_id])) == {first.document.doc_id}
            cosines = view.dense_scores(_vector(first.passages[0].embed_hash), found)
            assert cosines.dtype == np.float32 and len(cosines) == len(found)
            titles = view.title_scores(_vector("title"), [first.document.metadata.title, "no such title"])
            assert list(titles) == [first.document.metadata.title] and titles[first.document.metadata.title] == pytest.approx(1)
            pids[name] = sorted(p.chunk_id for p in passages.values())
    assert pids["embedded"] == pids["milvus"]


def test_sources_removals_and_derivation_through_the_contract(tmp_path):
    embedded, milvus = _embedded(tmp_path), _milvus(tmp_path)
    last = _prepared()[2].document
    for collection in (embedded, milvus):
        _write(collection, _prepared())
        assert collection.add_source(last.doc_id, "again.txt") and not collection.add_source(last.doc_id, "again.txt")
        assert collection.get_document(last.doc_id).sources == ("gongye.txt", "again.txt")
        assert collection.remove_document(last.doc_id) and not collection.remove_document(last.doc_id)
        assert collection.count_documents() == 2 and collection.get_document(last.doc_id) is None
        # A document's name pairs go with it: Sandra Oudkirk was named only there.
        assert collection.name_pair_counts() == {NamePair("美国在台协会", "AIT"): 1}
    embedded.set_derived_version(DERIVED_VERSION)
    milvus.set_derived_version(DERIVED_VERSION)
    assert embedded.derived_version() == DERIVED_VERSION and milvus.derived_version() is None
    embedded.close()
    milvus.close()


def test_either_view_gives_the_facet_fields_of_each_passage_it_holds(backends):
    by_source = {p.document.source: p.document for p in _prepared()}
    fields = {}
    for name, collection in backends.items():
        with collection.snapshot() as view:
            found = view.lexical.search(["全县"], 10, PassageFilter())[0].tolist()
            passages = view.passages(found)
            documents = view.documents([p.doc_id for p in passages.values()])
            fields[name] = view.facet_fields([*found, 10**9])  # a pid no passage has gives nothing
            assert len(found) > 1 and sorted(fields[name], key=str) == sorted(
                [documents[passages[pid].doc_id].facet_fields for pid in found], key=str), name
    assert sorted(fields["embedded"], key=str) == sorted(fields["milvus"], key=str)
    assert {source: (d.metadata.date, d.metadata.speaker, source) for source, d in by_source.items()} == {
        "zhaoshang.txt": ("2023-03-01", "王明", "zhaoshang.txt"), "nongye.txt": ("2022-11-20", "李华", "nongye.txt"),
        "gongye.txt": (None, None, "gongye.txt")}
    assert set(fields["embedded"]) == set(by_source[s].facet_fields for s in by_source)
