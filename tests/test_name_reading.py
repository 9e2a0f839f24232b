"""qa/search/name_reading.py: English questions read by the name pairs a collection states."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from qa.index.collection import Collection
from qa.search.name_reading import NameReader, Reading, collection_words
from qa.search.requests import SearchRequest
from qa.search.service import SearchService
from qa.text.name_pairs import NamePair
from qa.types import RawDocument

PAIRS = [
    NamePair("孫曉雅", "Sandra Oudkirk"),
    NamePair("美國在台協會", "AIT"),
    NamePair("美國在臺協會", "AIT"),  # the same name in the other script: one reading
    NamePair("美國在台協會台北辦事處", "AIT"),
    NamePair("世界衛生組織", "WHO"),
    NamePair("柏安卓", "Andrea Clare Bowman"),
    NamePair("哈德遜研究所", "Hudson Institute"),
    NamePair("戴維斯", "Davies of Gower"),
    NamePair("正直", "Integrity"),
    NamePair("貝尼亞", "Santiago Peña Palacios"),
    NamePair("巴迪亞", "Oscar Adolfo Padilla Lam"),
    NamePair("帕迪亞", "Oscar Padilla Ruiz"),  # so "Oscar Padilla" names two people and reads as neither
]
STATED = {NamePair("美國在台協會", "AIT"): 16, NamePair("美國在臺協會", "AIT"): 3, NamePair("美國在台協會台北辦事處", "AIT"): 2}


def reader() -> NameReader:
    return NameReader(PAIRS, lambda pair: STATED.get(pair, 1))


def test_names_are_read_left_to_right_and_taken_out_of_the_text():
    readings, rest = reader().read("What did Sandra Oudkirk tell the AIT's staff at the Hudson Institute?")
    assert readings == [Reading("Sandra Oudkirk", ("孫曉雅",)), Reading("AIT", ("美國在台協會", "美國在台協會台北辦事處")),
                        Reading("Hudson Institute", ("哈德遜研究所",))]
    assert rest == "What did tell the 's staff at the ?"
    assert readings[1].label() == "AIT → 美國在台協會 / 美國在台協會台北辦事處"


def test_acronyms_only_in_capitals_and_names_only_capitalised():
    assert reader().read("who said what to the hudson institute about sandra oudkirk?")[0] == []
    assert reader().read("Who met WHO officials?")[0] == [Reading("WHO", ("世界衛生組織",))]
    # One capitalised word that opens the question may be an ordinary word.
    assert reader().read("Integrity matters, said the President")[0] == []
    assert reader().read("Why did the President speak of Integrity?")[0] == [Reading("Integrity", ("正直",))]


def test_a_long_name_is_also_found_by_its_first_and_one_later_word():
    assert reader().read("When did Andrea Bowman arrive?")[0] == [Reading("Andrea Bowman", ("柏安卓",))]
    assert reader().read("How long had Santiago Peña been away?")[0] == [Reading("Santiago Peña", ("貝尼亞",))]
    assert reader().read("Santiago Pena Palacios spoke")[0] == [Reading("Santiago Pena Palacios", ("貝尼亞",))]
    assert reader().read("What did Oscar Padilla say?")[0] == []  # two people are so shortened
    assert reader().read("Lord Davies of Gower spoke")[0] == [Reading("Davies of Gower", ("戴維斯",))]


def test_the_collection_s_latin_words_are_kept_as_bm25_words_where_written_as_codes():
    held = {"ait", "cptpp", "5g", "redteamalpha0001", "iphone", "the", "met", "china", "beijing", "sandra", "oudkirk"}
    assert collection_words("Did the AIT discuss CPTPP, 5G, iPhone and redteamalpha0001 or MQ-9B?", held.__contains__) == [
        "ait", "cptpp", "5g", "iphone", "redteamalpha0001"]
    # Everyday words and names, held only by the collection's English passages, are left to the name pairs
    # and the dictionary.
    assert collection_words("Who met Sandra Oudkirk in Beijing, China?", held.__contains__) == []
    assert collection_words("What must the US agree to, said McGuinness?", {"us", "mcguinness"}.__contains__) == []


# --- through a collection on either backend and the search service, with the n-gram encoder -------------


RELEASE = RawDocument(  # a release stating two pairs, as the Presidential Office writes them
    "總統今日上午接見「美國在台協會」（AIT）台北辦事處新任處長孫曉雅（Sandra Oudkirk），期盼臺美雙方在既有的深厚基礎上，"
    "持續深化「真朋友、真進展」的夥伴關係。總統表示，臺美在經貿、安全與民主價值上合作密切。", "release.txt",
    title="總統接見美國在台協會台北辦事處處長孫曉雅", date="2021-07-10")
LATER = RawDocument(  # a later one naming her in Chinese alone
    "副總統今日出席美國獨立紀念日酒會，孫曉雅處長致詞時表示，美方將持續支持臺灣參與國際組織，雙方將深化供應鏈合作。",
    "later.txt", title="副總統出席美國獨立紀念日酒會", date="2021-07-02")


@pytest.fixture(params=["embedded", "milvus-lite"])
def service(request, tmp_path, fake_encoder):
    if request.param == "embedded":
        collection = Collection.open(tmp_path / "data", fake_encoder.name, create=True)
    else:
        pytest.importorskip("pymilvus")
        from qa.index.milvus_backend import MilvusCollection

        collection = MilvusCollection.open(str(tmp_path / "milvus.db"), fake_encoder.name, dim=fake_encoder.dim, create=True)
    searcher = SearchService(collection, fake_encoder)
    report = searcher.changes.add_documents([RELEASE, LATER])
    assert len(report.added) == 2, report
    yield searcher
    collection.close()


def doc_of(service: SearchService, source: str) -> str:
    return next(document.doc_id for document, _ in service.documents(0, 10)[0] if document.source == source)


def test_a_pair_stated_at_ingest_reads_an_english_question_until_its_last_document_goes(service):
    release, later = doc_of(service, "release.txt"), doc_of(service, "later.txt")
    assert service.collection.name_pair_counts() == {NamePair("美國在台協會", "AIT"): 1, NamePair("孫曉雅", "Sandra Oudkirk"): 1}
    question = SearchRequest(query="Who is Sandra Oudkirk?", mode="lexical")
    result = service.search(question)
    assert result.applied_filters == (("name", "Sandra Oudkirk → 孫曉雅"),) and not result.preferences_applied
    assert result.preferences == {"names": ["Sandra Oudkirk → 孫曉雅"]}
    assert {hit.document.doc_id for hit in result.hits} == {release, later}  # the later one names her in Chinese only
    # The reading can be switched off like any other, by its label or by the English alone: then neither
    # matches, for her name is no code kept as written and the dictionary does not hold it.
    for switch in ("name:Sandra Oudkirk → 孫曉雅", "name:Sandra Oudkirk"):
        off = service.search(question.model_copy(update={"ignore_filters": (switch,)}))
        assert off.applied_filters == () and off.preferences == {"names": ["Sandra Oudkirk → 孫曉雅"]}
        assert not off.hits
    service.changes.remove_document(release)
    assert service.collection.name_pair_counts() == {}
    after = service.search(question)
    assert after.applied_filters == () and after.preferences == {} and not after.hits


def test_an_acronym_the_collection_holds_is_a_bm25_word_in_every_mode_that_runs_bm25(service):
    release = doc_of(service, "release.txt")
    for mode in ("lexical", "hybrid"):
        result = service.search(SearchRequest(query="AIT", mode=mode))
        assert result.hits and result.hits[0].document.doc_id == release, mode
        assert result.applied_filters[0] == ("name", "AIT → 美國在台協會")
    with service.collection.snapshot() as view:
        assert service.lexical_query("AIT", view.lexical) == ["ait"]  # unread, it is still looked for as written
        assert service.lexical_query("the WTO and AIT", view.lexical) == ["ait"]  # WTO is no word of the collection


def test_a_hybrid_english_question_is_also_embedded_in_chinese_shown_and_switchable_off(service):
    question = SearchRequest(query="Who is Sandra Oudkirk of the AIT?")
    result = service.search(question)
    rendering = result.preferences["readings"][0]
    assert rendering.startswith("孫曉雅美國在台協會")  # the names the collection states first, as it writes them
    assert ("reading", rendering) in result.applied_filters and not result.preferences_applied
    switched_off = question.model_copy(update={"ignore_filters": (f"reading:{rendering}",)})
    off = service.search(switched_off)
    assert ("reading", rendering) not in off.applied_filters and off.preferences["readings"] == [rendering]
    with service.collection.snapshot() as view:  # its vector counts, and switched off does not
        analysis = replace(service.analyse(question.query, view.version), rendering=rendering)
        vector = service._query(question, analysis, view).rendering_vector
        np.testing.assert_allclose(vector, service.embed_query(rendering))
        assert service._query(switched_off, analysis, view).rendering_vector is None
    for mode in ("lexical", "dense"):  # one index each, unmixed: no rendering
        assert "readings" not in service.search(question.model_copy(update={"mode": mode})).preferences
    assert "readings" not in service.search(SearchRequest(query="孫曉雅是誰")).preferences


def test_which_dictionary_words_the_collection_holds_is_remembered_only_for_its_version(service):
    release, later = doc_of(service, "release.txt"), doc_of(service, "later.txt")
    with service.collection.snapshot() as view:
        knows = service._knows_word(view.lexical)
        assert knows("美國在台協會") and not knows("毛肚")
        assert service._knows_word(view.lexical)("美國在台協會")  # the same version: the same answers
    for doc_id in (release, later):
        service.changes.remove_document(doc_id)
    with service.collection.snapshot() as view:
        assert not service._knows_word(view.lexical)("美國在台協會")
