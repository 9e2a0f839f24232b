"""The reuse index (qa/index/reuse_index.py, qa/text/fingerprints.py): exact against a brute-force comparison, kept current, persisted."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from reuse_helpers import (
    StoreReuseSource,
    fill_store,
    indexed,
    longest_common_run,
    planted_documents,
    run_grams,
)

from qa.index import reuse_index
from qa.index.reuse_index import GRAM, MIN_RUN, WINDOW, ReuseIndex, caught_up
from qa.ingest.chunking import chunk_text
from qa.text.fingerprints import reuse_codes, reuse_form, winnow
from qa.text.normalize import to_traditional


@pytest.fixture(scope="module")
def planted():
    return planted_documents()


@pytest.fixture(scope="module")
def store(tmp_path_factory, planted):
    opened = fill_store(tmp_path_factory.mktemp("reuse-store") / "speechqa.sqlite", planted[0])
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def index(store):
    return ReuseIndex.build(indexed(store), store.version)


@pytest.fixture(scope="module")
def forms(planted):
    return {d.doc_id: reuse_codes(d.text) for d in planted[0]}


def reported(index: ReuseIndex, codes: np.ndarray, exclude: str | None) -> dict[str, np.ndarray]:
    return {m.doc_id: m.runs for m in index.reader().matches(codes, exclude_doc=exclude)}


def test_reuse_form_folds_script_width_and_punctuation():
    # A line of the sample speech 001, as a Traditional copy with other punctuation and widths would have it.
    line = "近段时间，全镇上下紧紧围绕“工业强镇”目标，抢抓机遇、攻坚克难，2023年一季度完成工业产值12.5亿元。"
    copy = to_traditional(line).replace("，", ", ").replace("“", "「").replace("”", "」").replace("2023", "２０２３")
    assert reuse_codes(copy).tolist() == reuse_codes(line).tolist()
    form = reuse_form(line)
    assert "".join(line[i] for i in form.positions) == "".join(ch for ch in line if ch.isalnum())
    assert form.span_in_text(0, 4) == (0, 4) and line[slice(*form.span_in_text(4, 8))] == "全镇上下"


def test_a_shared_run_of_the_minimum_always_shares_a_fingerprint():
    rng = np.random.default_rng(5)
    for _ in range(200):
        run = rng.integers(0x4E00, 0x4E00 + 3000, MIN_RUN).astype(np.uint32)
        a = np.concatenate([rng.integers(0x4E00, 0x9FA5, rng.integers(0, 80)), run, rng.integers(0x4E00, 0x9FA5, 30)])
        b = np.concatenate([rng.integers(0x4E00, 0x9FA5, rng.integers(0, 80)), run])
        assert set(winnow(a.astype(np.uint32), GRAM, WINDOW)[0].tolist()) & set(winnow(b.astype(np.uint32), GRAM, WINDOW)[0].tolist())


def test_every_planted_reuse_is_found_in_both_scripts_and_any_punctuation(index, planted, forms):
    documents, plants = planted
    assert {p.variant for p in plants} == {"same", "traditional", "punctuation", "traditional-punctuation"}
    for plant in plants:
        found = reported(index, forms[plant.source], plant.source)
        assert plant.target in found, plant
        # The planted copy lies inside one reported run: it was found whole, not only in part.
        copy = reuse_codes(plant.text)
        target = forms[plant.target]
        runs = found[plant.target]
        assert any(length >= len(copy) and (target[at : at + length].tobytes().find(copy.tobytes()) >= 0)
                   for _, at, length in runs), plant


def test_documents_match_a_brute_force_comparison_of_every_pair(index, forms):
    grams = {doc_id: run_grams(codes) for doc_id, codes in forms.items()}
    pairs = 0
    for doc_id, codes in forms.items():
        found = reported(index, codes, doc_id)
        expected = {other for other in forms if other != doc_id and grams[doc_id] & grams[other]}
        assert set(found) == expected, doc_id
        pairs += len(expected)
        for other, runs in found.items():
            assert runs[:, 2].min() >= MIN_RUN
            assert runs[:, 2].max() == longest_common_run(codes, forms[other])
    assert pairs >= 2 * 14  # the plants, both ways, and the stories' own series


def test_passages_match_a_brute_force_comparison(index, planted, forms):
    grams = {doc_id: run_grams(codes) for doc_id, codes in forms.items()}
    checked = 0
    for document in planted[0]:
        for chunk in chunk_text(document.text):
            codes = reuse_codes(chunk.text)
            found = reported(index, codes, document.doc_id)
            mine = run_grams(codes)
            assert set(found) == {other for other in forms if other != document.doc_id and mine & grams[other]}
            assert index.reader().has_reuse(codes, document.doc_id) == bool(found)
            checked += bool(found)
    assert checked >= 14


def test_runs_are_maximal_and_exact(index, forms):
    for doc_id, codes in forms.items():
        for other, runs in reported(index, codes, doc_id).items():
            target = forms[other]
            for at, doc_at, length in runs:
                assert np.array_equal(codes[at : at + length], target[doc_at : doc_at + length])
                assert at == 0 or doc_at == 0 or codes[at - 1] != target[doc_at - 1]
                end, doc_end = at + length, doc_at + length
                assert end == len(codes) or doc_end == len(target) or codes[end] != target[doc_end]


def test_just_under_the_minimum_is_no_reuse(tmp_path):
    shared = "".join(chr(0x4E00 + i * 7) for i in range(MIN_RUN))
    other = "".join(chr(0x5E00 + i * 3) for i in range(60))
    documents = [reuse_index.IndexedDocument("a", other[:30] + shared + other[30:], 1, 1),
                 reuse_index.IndexedDocument("b", other[::-1][:20] + shared[1:] + "。" + shared[:-1], 2, 2)]
    index = ReuseIndex.build(documents, 1)
    assert index.reader().matches(reuse_codes(shared), exclude_doc="x")[0].doc_id == "a"  # whole: found
    assert [m.doc_id for m in index.reader().matches(reuse_codes(documents[0].text), exclude_doc="a")] == []


def answers(index: ReuseIndex, forms) -> dict[str, dict[str, list]]:
    return {doc_id: {other: runs.tolist() for other, runs in reported(index, codes, doc_id).items()}
            for doc_id, codes in forms.items()}


def test_adding_removing_and_merging_answer_as_a_fresh_build(store, forms, monkeypatch):
    monkeypatch.setattr(reuse_index, "RECENT_MIN_DOCUMENTS", 5)
    documents = indexed(store)
    rng = random.Random(3)
    rng.shuffle(documents)
    grown = ReuseIndex.build(documents[:10], 1)
    for start in range(10, len(documents), 7):
        grown.add(documents[start : start + 7], 2)
    gone = documents[:4]
    grown.remove(np.array([d.first_pid for d in gone] + [d.last_pid for d in gone[:2]]), 3)
    kept = [d for d in documents if d not in gone]
    fresh = ReuseIndex.build(kept, 3)
    live = {doc_id: codes for doc_id, codes in forms.items() if doc_id not in {d.doc_id for d in gone}}
    assert grown.count() == fresh.count() == len(kept) and grown.segment_count > 1
    assert answers(grown, live) == answers(fresh, live)
    assert shared(grown) == shared(fresh)
    assert grown.needs_maintenance()
    grown.maintain()
    assert grown.segment_count < 3 and answers(grown, live) == answers(fresh, live)


def shared(index: ReuseIndex) -> list[tuple]:
    return [(f.hash, f.documents, f.doc_id, f.place) for f in index.reader().shared_fingerprints()]


def test_shared_fingerprints_do_not_depend_on_the_order_documents_were_indexed_in(store):
    documents = indexed(store)
    # Other pids for the same documents, in another order (as Milvus keys a document by a hash).
    rng = random.Random(11)
    renumbered = [reuse_index.IndexedDocument(d.doc_id, d.text, pid, pid)
                  for d, pid in zip(documents, rng.sample(range(10**6), len(documents)), strict=True)]
    found = shared(ReuseIndex.build(documents, 1))
    assert found and shared(ReuseIndex.build(renumbered, 1)) == found
    split = ReuseIndex.build(renumbered[:9], 1)
    split.add(renumbered[9:], 2)
    assert split.segment_count == 2 and shared(split) == found
    # Each is placed in the holder of the smallest doc id: the first listed, where its documents tie.
    holders = {f[0]: f[2] for f in found}
    for document in documents:
        for hash_ in set(reuse_index.Lengths().fingerprints(reuse_codes(document.text))[0].tolist()):
            if hash_ in holders:
                assert holders[hash_] <= document.doc_id


def test_saved_index_loads_and_catches_up_from_the_store_log(tmp_path, planted, forms):
    documents = planted[0]
    store = fill_store(tmp_path / "speechqa.sqlite", documents[:20])
    index = caught_up(None, tmp_path, None, StoreReuseSource(store))
    entry = index.save(tmp_path)
    store.add_documents([(d, reuse_passages(d), None) for d in documents[20:]], {}, "none")
    store.remove_document(documents[0].doc_id)
    loaded = caught_up(None, tmp_path, entry, StoreReuseSource(store))
    assert loaded.version == store.version and loaded.segment_count == 2  # caught up, not rebuilt
    live = {d.doc_id: forms[d.doc_id] for d in documents[1:]}
    assert answers(loaded, live) == answers(ReuseIndex.build(indexed(store), store.version), live)
    store.close()


def reuse_passages(document):
    from qa.index.collection import ChunkingSettings
    from qa.ingest.pipeline import make_passages

    return make_passages(document.doc_id, document.text, ChunkingSettings())


@pytest.mark.parametrize("damage", ["missing", "older format", "log gone"])
def test_rebuilt_from_the_store_when_it_cannot_be_read_or_caught_up(tmp_path, planted, damage, caplog):
    documents = planted[0]
    store = fill_store(tmp_path / "speechqa.sqlite", documents[:12])
    entry = ReuseIndex.build(indexed(store), store.version).save(tmp_path)
    store.add_documents([(d, reuse_passages(d), None) for d in documents[12:15]], {}, "none")
    if damage == "missing":
        for name in entry["segments"]:
            for file in (tmp_path / "reuse" / name).iterdir():
                file.unlink()
    elif damage == "older format":
        entry = {**entry, "format": reuse_index.FORMAT - 1}
    else:
        store.forget_changes(store.version)
    rebuilt = caught_up(None, tmp_path, json.loads(json.dumps(entry)), StoreReuseSource(store))
    assert rebuilt.version == store.version and rebuilt.count() == 15 and rebuilt.segment_count == 1
    if damage != "log gone":
        assert "rebuilding it from the store" in caplog.text
    store.close()


def test_characters_beyond_the_basic_plane_compare_exactly(tmp_path):
    # Extension B ideographs (a few names and places are written with them) are kept in two bytes too.
    base = "".join(chr(0x4E00 + i * 11) for i in range(MIN_RUN + 60))
    rare = base[:20] + "\U00020000\U0002A6D6" + base[20:]
    other = base[:20] + "\U00020001\U0002A6D6" + base[20:]  # one rare character differs
    documents = [reuse_index.IndexedDocument("rare", rare, 1, 1), reuse_index.IndexedDocument("plain", base, 2, 2)]
    index = ReuseIndex.build(documents, 1)
    segment = index._state.segments[0]
    assert segment.codes.dtype == np.uint16 and len(segment.astral) == 2
    assert segment.decoded(0, len(reuse_codes(rare))).tolist() == reuse_codes(rare).tolist()
    found = {m.doc_id: m.runs[:, 2].max() for m in index.reader().matches(reuse_codes(rare), exclude_doc="none")}
    assert found == {"rare": len(reuse_codes(rare)), "plain": len(base) - 20}
    found = {m.doc_id: m.runs[:, 2].max() for m in index.reader().matches(reuse_codes(other), exclude_doc="none")}
    assert found == {"plain": len(base) - 20, "rare": len(base) - 20 + 1}
    loaded = ReuseIndex.load(tmp_path, index.save(tmp_path))
    assert {m.doc_id for m in loaded.reader().matches(reuse_codes(rare), exclude_doc="none")} == {"rare", "plain"}
