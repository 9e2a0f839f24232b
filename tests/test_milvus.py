"""The Milvus backend against Milvus Lite, embedded and as a `milvus-lite server` on loopback.

The seed collection's documents and stored vectors are copied into Milvus (no re-embedding); every
answer is compared with the embedded store's and indexes by chunk id, never by raw score. The seed
collection is the one built with the n-gram encoder: what is tested is the backend, not the model.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pymilvus")

from conftest import SEEDS, free_port, stop_process  # noqa: E402

from embeddings.char_ngrams import CHAR_NGRAMS_MODEL  # noqa: E402
from qa.index.milvus_backend import copy_from_store, is_milvus_index  # noqa: E402
from qa.index.milvus_passages import MilvusPassages, MilvusTarget  # noqa: E402
from qa.index.milvus_rows import chunk_pid, filter_expression  # noqa: E402
from qa.index.milvus_text import ANALYZER, bm25_source, bm25_text, query_text  # noqa: E402
from qa.index.milvus_view import MilvusView  # noqa: E402
from qa.index.store import PassageStore  # noqa: E402
from qa.text.tokens import lexical_tokens  # noqa: E402
from qa.types import PassageFilter  # noqa: E402

MODEL = CHAR_NGRAMS_MODEL  # the model the vectors of fake_seed_collection_dir are stored under
QUERIES = ["招商引资进度为什么落后", "工业强县战略", "腊口北坑大坑工业区块规划总用地多少", "深入开展平安创建活动",
           "中华人民共和国成立以来", "县经商局要协调调度哪些生产要素"]


class LiteServer:
    """`milvus-lite server` in a process of its own, bound to loopback only."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.log = open(data_dir.parent / f"milvus-lite-{self.port}.log", "wb")
        self.process = subprocess.Popen(
            [str(Path(sys.executable).parent / "milvus-lite"), "server", "--data-dir", str(data_dir),
             "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT,
        )
        self.index = f"milvus://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        from pymilvus import MilvusClient

        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(Path(self.log.name).read_text(errors="replace"))
            try:
                MilvusClient(f"http://127.0.0.1:{self.port}", timeout=2).close()
                return
            except Exception:
                time.sleep(0.3)
        raise RuntimeError("milvus-lite server did not start in 60 s")

    def stop(self) -> None:
        stop_process(self.process, self.log)


@pytest.fixture(scope="module")
def lite_server(tmp_path_factory):
    server = LiteServer(tmp_path_factory.mktemp("milvus-server") / "data")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def seed_store(fake_seed_collection_dir):
    store = PassageStore(fake_seed_collection_dir / "speechqa.sqlite")
    yield store
    store.close()


@pytest.fixture(scope="module", params=["lite", "server"])
def milvus(request, seed_store, tmp_path_factory):
    """The seed collection in Milvus Lite: embedded (a .db path) or behind a loopback server."""
    if request.param == "lite":
        index = str(tmp_path_factory.mktemp("milvus-lite") / "seeds.db")
    else:
        index = request.getfixturevalue("lite_server").index + "/seeds"
    passages = MilvusPassages.open(index, MODEL, 384, create=True)
    copy_from_store(seed_store, MODEL, passages)
    yield passages
    passages.close()


def _chunks(store_or_milvus, pids) -> list[str]:
    read = getattr(store_or_milvus, "passages_by_pid", None) or store_or_milvus.passages
    found = read([int(pid) for pid in pids])
    return [found[int(pid)].chunk_id for pid in pids]


def test_targets_are_parsed_from_the_index_setting():
    assert MilvusTarget.parse("milvus://db.example:19531/archive") == MilvusTarget("http://db.example:19531", "archive", False)
    assert MilvusTarget.parse("milvus://db.example").uri == "http://db.example:19530"
    lite = MilvusTarget.parse("/tmp/x/seeds.db")
    assert (lite.uri, lite.lite) == ("/tmp/x/seeds.db", True)
    assert chunk_pid("c-ffffffffffffffff") == -1 and chunk_pid("c-0000000000000010") == 16
    named = [None, "", "/data/speechqa", "milvus://db.example", "/tmp/x/seeds.db"]
    assert [is_milvus_index(index) for index in named] == [False, False, False, True, True]


def test_milvus_analyzer_reads_our_bm25_tokens_exactly(seed_store):
    from milvus_lite.analyzer import create_analyzer

    analyzer = create_analyzer(ANALYZER)
    rows = sqlite3.connect(seed_store.path).execute(
        "SELECT p.text, d.title, p.tokens FROM passages p JOIN documents d USING (doc_id)").fetchall()
    assert rows
    for text, title, tokens in rows:
        assert analyzer.tokenize(bm25_source(text, title, tokens)) == tokens.split(" ")
        assert analyzer.tokenize(bm25_text(text)) == lexical_tokens(text)
    for query in QUERIES:
        tokens = lexical_tokens(query)
        assert analyzer.tokenize(query_text(tokens)) == tokens, query


def test_documents_and_pages_are_rebuilt_from_passages(milvus, seed_store):
    assert milvus.count_documents() == seed_store.count_documents() == 5
    assert milvus.count_passages() == seed_store.count_passages()
    assert [d.doc_id for d, _ in milvus.list_documents()] == [d.doc_id for d, _ in seed_store.list_documents()]
    for document, n_chunks in seed_store.list_documents():
        assert milvus.get_document(document.doc_id) == seed_store.get_document(document.doc_id)
        assert milvus.passages_of(document.doc_id) == seed_store.passages_of(document.doc_id)
        assert {d.doc_id: n for d, n in milvus.list_documents()}[document.doc_id] == n_chunks


def test_lexical_and_dense_rankings_match_the_embedded_indexes(milvus, seed_store, fake_encoder):
    import bm25s

    pids, token_lists = zip(*[(pid, tokens.split(" ")) for pid, tokens in seed_store.iter_passage_tokens()], strict=True)
    bm25 = bm25s.BM25()
    bm25.index(list(token_lists), show_progress=False)
    vectors = {int(p): v for block_pids, block in seed_store.iter_passage_vectors(MODEL) for p, v in zip(block_pids, block, strict=True)}
    matrix = np.stack([vectors[pid] for pid in pids])
    view = MilvusView(milvus)
    for query in QUERIES:
        tokens = lexical_tokens(query)
        scores = bm25.get_scores(tokens)
        order = [i for i in np.argsort(-scores, kind="stable")[:10] if scores[i] > 0]
        found, found_scores = view.lexical.search(tokens, 10)
        assert _chunks(view, found) == _chunks(seed_store, [pids[i] for i in order]), query
        # Milvus scores BM25 times (k1 + 1); the fusion divides by the best score, so it cancels.
        assert np.allclose(found_scores / 2.5, scores[order], rtol=1e-4)
        assert np.allclose(view.lexical.score(tokens, found[::-1]), found_scores[::-1], rtol=1e-5)

        vector = fake_encoder.embed_query(query)
        cosine = matrix @ vector
        best = np.argsort(-cosine)[:10]
        found, found_scores = view.vectors.search(vector, 10)
        assert _chunks(view, found) == _chunks(seed_store, [pids[i] for i in best]), query
        assert np.allclose(view.vectors.score(vector, found), cosine[best], atol=1e-5)


def test_document_titles_vectors_come_along_and_are_read_by_title(milvus, seed_store):
    titles = [document.metadata.title for document, _ in seed_store.list_documents(0, 50)]
    assert milvus.titles_without_vectors(MODEL) == []  # every document's, copied with the passages
    ours, theirs = milvus.title_vectors(MODEL, titles), seed_store.title_vectors(MODEL, titles)
    assert set(ours) == set(titles)
    for title in titles:
        np.testing.assert_allclose(ours[title], theirs[title], rtol=1e-6)
    assert milvus.title_vectors(MODEL, ["no document has this title"]) == {}


def test_filters_are_milvus_expressions_allowing_what_the_store_allows(milvus, seed_store):
    documents = [d for d, _ in seed_store.list_documents()]
    dated = sorted(d.metadata.date for d in documents if d.metadata.date)
    speaker = next((d.metadata.speaker for d in documents if d.metadata.speaker), None)
    filters = [
        PassageFilter(doc_ids=(documents[0].doc_id, documents[2].doc_id)),
        PassageFilter(date_from=dated[1]),
        PassageFilter(date_to=dated[1]),
        PassageFilter(date_from=dated[0], date_to=dated[-2]),
        PassageFilter(speaker=speaker or "nobody"),
    ]
    for where in filters:
        expected = sorted(_chunks(seed_store, seed_store.filtered_pids(where)))
        rows = milvus.client.query(milvus.name, filter=filter_expression(where), output_fields=["chunk_id"], limit=16384)
        assert sorted(row["chunk_id"] for row in rows) == expected, where
    excluded = documents[1].doc_id
    view = MilvusView(milvus)
    found, _ = view.lexical.search(lexical_tokens(QUERIES[0]), 50, exclude_doc=excluded)
    assert len(found) and all(p.doc_id != excluded for p in view.passages(found).values())


def test_rewriting_a_document_adds_no_passage_and_removing_one_takes_all_of_it(milvus, seed_store):
    before = milvus.count_passages()
    document, _ = seed_store.list_documents()[0]
    copy_from_store(seed_store, MODEL, milvus)  # a rerun: same keys, upserted
    assert milvus.count_passages() == before
    assert milvus.add_source(document.doc_id, "again.txt") and not milvus.add_source(document.doc_id, "again.txt")
    assert milvus.get_document(document.doc_id).sources[-1] == "again.txt"
    assert milvus.count_passages() == before
    assert milvus.remove_document(document.doc_id) and not milvus.remove_document(document.doc_id)
    assert milvus.get_document(document.doc_id) is None
    assert milvus.count_passages() == before - len(seed_store.passages_of(document.doc_id))
    copy_from_store(seed_store, MODEL, milvus)
    assert milvus.count_passages() == before


def test_an_unreachable_or_missing_collection_says_what_to_run(tmp_path):
    from qa.errors import IndexNotBuiltError

    with pytest.raises(IndexNotBuiltError, match="speechqa ingest PATH --index"):
        MilvusPassages.open(str(tmp_path / "empty.db"), MODEL)
    shutil.rmtree(tmp_path / "empty.db", ignore_errors=True)


def test_a_missing_package_is_named_with_its_extra():
    code = (
        "import sys\n"
        "sys.modules['pymilvus'] = None\n"
        "sys.modules['ray'] = None\n"
        "from qa.errors import MissingDependencyError\n"
        "from qa.index.milvus_passages import MilvusPassages\n"
        "from qa.ingest.ray_ingest import _ray\n"
        "for call in (lambda: MilvusPassages.open('x.db', 'm'), _ray):\n"
        "    try:\n"
        "        call()\n"
        "    except MissingDependencyError as exc:\n"
        "        print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == ["the Milvus backend needs pymilvus: pip install 'speechqa[milvus]'",
                   "--ray needs Ray Data: pip install 'speechqa[ray]'"]


def test_ray_ingest_needs_a_milvus_index(tmp_path):
    result = subprocess.run([sys.executable, "-m", "qa.cli", "ingest", str(SEEDS), "--data", str(tmp_path / "c"), "--ray"],
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        "error: --ray writes to Milvus: give --index milvus://HOST:19530 (or a Milvus Lite path ending in .db)")
