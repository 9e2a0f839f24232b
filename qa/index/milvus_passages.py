"""Every read and write speechqa needs, over one Milvus collection of passages and its titles' companion."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Literal, overload

import numpy as np

from qa.errors import BadInputError, IndexNotBuiltError, MissingDependencyError, ModelMismatchError
from qa.index.indexes import Hits, no_hits, top_hits
from qa.index.milvus_rows import (
    DOCUMENT_FIELDS,
    PASSAGE_AND_DOCUMENT_FIELDS,
    PASSAGE_FIELDS,
    assemble_text,
    batches,
    clip,
    document_of_row,
    document_with_text,
    filter_expression,
    literal,
    passage_of_row,
    passage_rows,
)
from qa.index.milvus_schema import create_passages_collection, create_titles_collection
from qa.index.milvus_text import longest_indexed_piece, query_text
from qa.index.store_passages import StoredPassage
from qa.index.store_vectors import title_key
from qa.text.tokens import lexical_tokens
from qa.types import Document, DocumentSummary, Passage, PassageFilter

if TYPE_CHECKING:
    from pymilvus import MilvusClient

MILVUS_EXTRA = "pip install 'speechqa[milvus]'"
DEFAULT_NAME = "speechqa_passages"
HNSW_EF_SEARCH = 128
WRITE_BATCH = 512  # rows per insert call: a few MB of vectors and text
READ_BATCH = 1000  # ids per `pid in [...]` read
TITLES_SUFFIX = "__titles"  # the companion collection of document title vectors
MAX_QUERY_ROWS = 16384
TEXT_BATCH = 500  # documents whose rows one query reads back (texts_of)
KNOWS_SAMPLE = 20  # best BM25 matches of a token read to tell whether one holds it
LITE_MEMTABLE_BYTES = 512 * 1024 * 1024  # Milvus's limit on offset + limit of one query
DOCUMENT_CACHE = 100_000  # document summaries kept from the rows of passages read


def _pymilvus() -> ModuleType:
    try:
        import pymilvus
    except ImportError as exc:
        raise MissingDependencyError(f"the Milvus backend needs pymilvus: {MILVUS_EXTRA}") from exc
    return pymilvus


@dataclass(frozen=True)
class MilvusTarget:
    uri: str  # what MilvusClient takes: http://host:port, or a Lite path
    name: str  # the Milvus collection
    lite: bool

    @property
    def index(self) -> str:
        """The target as --index names it."""
        return self.uri if self.lite else f"milvus://{self.uri.removeprefix('http://')}/{self.name}"

    @classmethod
    def parse(cls, index: str) -> MilvusTarget:
        """`milvus://HOST:PORT[/NAME]`, or a Milvus Lite path ending in `.db`."""
        if index.endswith(".db") and "://" not in index:
            return cls(str(Path(index).expanduser().resolve()), DEFAULT_NAME, True)
        if not index.startswith("milvus://"):
            raise BadInputError(f"--index must be milvus://HOST:PORT or a path ending in .db, not {index!r}")
        address, _, name = index[len("milvus://"):].partition("/")
        if not address:
            raise BadInputError(f"--index {index!r} names no host: use milvus://HOST:19530")
        if ":" not in address:
            address += ":19530"
        return cls(f"http://{address}", name or DEFAULT_NAME, False)


class MilvusPassages:
    """Every read and write speechqa needs, over one Milvus collection."""

    def __init__(self, client: MilvusClient, name: str, model: str, dim: int, target: MilvusTarget) -> None:
        self.client = client
        self.name = name
        self.model = model
        self.dim = dim
        self.target = target
        self.version = 0  # changes made through this object; readers report it
        self._known_tokens: dict[str, bool] = {}
        # Every row carries its document's metadata: documents of passages just read need no query.
        self._documents: dict[str, DocumentSummary] = {}
        self._lock = threading.Lock()
        self._titles_loaded = False

    # -- opening --------------------------------------------------------------
    @classmethod
    def open(cls, index: str, model: str, dim: int | None = None, *, create: bool = False,
             allow_model_change: bool = False) -> MilvusPassages:
        """Connect to the collection `index` names; create it when `create` and it is missing (needs `dim`)."""
        target = MilvusTarget.parse(index)
        if target.lite:
            # Milvus Lite keeps BM25 statistics per segment, and seals one whenever its memtable or log
            # reaches a budget: budgets this large let an ingest of ~100k passages land in one segment.
            # (Read once, when milvus_lite is first imported.)
            os.environ.setdefault("MILVUS_LITE_MEMTABLE_MEMORY_LIMIT_BYTES", str(LITE_MEMTABLE_BYTES))
            os.environ.setdefault("MILVUS_LITE_WAL_SIZE_LIMIT_BYTES", str(2 * LITE_MEMTABLE_BYTES))
        pymilvus = _pymilvus()
        if target.lite:
            Path(target.uri).parent.mkdir(parents=True, exist_ok=True)
        try:
            client = pymilvus.MilvusClient(target.uri)
        except Exception as exc:  # connection refused, bad address: one line naming the index
            raise IndexNotBuiltError(f"cannot reach Milvus at {index}: {exc}; start it, or fix --index / SPEECHQA_INDEX") from exc
        if not client.has_collection(target.name):
            if not create:
                raise IndexNotBuiltError(f"no speechqa collection {target.name!r} in Milvus at {index}: run "
                                         f"`speechqa ingest PATH --index {index}` to build one")
            if dim is None:
                raise IndexNotBuiltError("the vector size is needed to create a Milvus collection")
            create_passages_collection(client, target.name, model, dim)
        properties = client.describe_collection(target.name).get("properties") or {}
        built_with = properties.get("speechqa.model")
        if built_with and built_with != model and not allow_model_change:
            raise ModelMismatchError(f"the Milvus collection {target.name!r} at {index} was built with model "
                                     f"{built_with!r}, not {model!r}: use --model {built_with}")
        stored_dim = int(properties.get("speechqa.dim") or dim or 0)
        client.load_collection(target.name)
        return cls(client, target.name, built_with or model, stored_dim, target)

    def close(self) -> None:
        self.client.close()

    # -- writes ---------------------------------------------------------------
    def add_documents(self, items: Sequence[tuple[Document, Sequence[StoredPassage], bytes | None]],
                      vectors: dict[str, np.ndarray], model: str) -> None:
        """Write whole documents (upsert by passage key: a rerun after a crash rewrites, never duplicates)."""
        rows = [row for document, stored, _ in items
                for row in passage_rows(document, stored, [vectors[s.embed_hash] for s in stored])]
        self.upsert_rows(rows)

    def upsert_rows(self, rows: Sequence[dict]) -> None:
        for batch in batches(rows, WRITE_BATCH):
            self.client.upsert(self.name, list(batch))
        self._changed()

    def commit(self) -> None:
        """Seal what was written into a segment; called once at the end of a change (an ingest, an upload).

        Milvus Lite scores BM25 with the statistics of each segment, and those of its unsealed rows with
        the statistics of the rows a filter lets through; sealing whole ingests keeps both right.
        """
        self.client.flush(self.name)

    def remove_document(self, doc_id: str) -> bool:
        if not self.client.query(self.name, filter=f"doc_id == {literal(doc_id)}", output_fields=["pid"], limit=1):
            return False
        self.client.delete(self.name, filter=f"doc_id == {literal(doc_id)}")
        self._changed()
        return True

    def add_source(self, doc_id: str, source: str) -> bool:
        """Record one more source of a document; False when it was already known."""
        rows = self.client.query(self.name, filter=f"doc_id == {literal(doc_id)}", output_fields=["*"], limit=MAX_QUERY_ROWS)
        if not rows or source in (rows[0].get("sources") or []):
            return False
        updated = []
        for row in sorted(rows, key=lambda row: row["ordinal"] == 0):  # the first passage last, as ever
            row = {key: value for key, value in row.items() if key != "sparse"}
            row["sources"] = [*row["sources"], clip(source, 1024)][:64]
            row["vector"] = np.asarray(row["vector"], dtype=np.float32).tolist()
            updated.append(row)
        self.upsert_rows(updated)
        return True

    def _changed(self) -> None:
        with self._lock:
            self.version += 1
            self._known_tokens = {}
            self._documents = {}

    # -- what the ingester asks ----------------------------------------------
    def find_by_hash(self, content_hash: str) -> str | None:
        rows = self.client.query(self.name, filter=f"content_hash == {literal(content_hash)}", output_fields=["doc_id"], limit=1)
        return rows[0]["doc_id"] if rows else None

    def iter_shingles(self) -> Iterator[tuple[str, bytes]]:
        """Near-duplicates are found within one ingest run only: a cluster keeps no signature table."""
        return iter(())

    def known_vectors(self, model: str, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """No embedding cache: every new passage is embedded."""
        return {}

    # -- documents -------------------------------------------------------------
    def speakers(self) -> frozenset[str]:
        """Every speaker some document names."""
        return frozenset(row["speaker"] for row in self._iterate('ordinal == 0 and speaker != ""', ["speaker"]))

    def count_documents(self) -> int:
        return self._count("ordinal == 0")

    def count_passages(self) -> int:
        return self._count("")

    def _count(self, expression: str) -> int:
        rows = self.client.query(self.name, filter=expression, output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    @overload
    def get_documents(self, doc_ids: Iterable[str], with_text: Literal[True]) -> dict[str, Document]: ...

    @overload
    def get_documents(self, doc_ids: Iterable[str], with_text: Literal[False] = False) -> dict[str, DocumentSummary]: ...

    def get_documents(self, doc_ids: Iterable[str], with_text: bool = False) -> Mapping[str, DocumentSummary]:
        ids = list(dict.fromkeys(doc_ids))
        out: dict[str, DocumentSummary] = {}
        if not with_text:
            known = self._documents
            out = {doc_id: known[doc_id] for doc_id in ids if doc_id in known}
            ids = [doc_id for doc_id in ids if doc_id not in out]
        for batch in batches(ids, READ_BATCH):
            for row in self.client.query(self.name, filter=f"doc_id in {literal(list(batch))} and ordinal == 0",
                                         output_fields=DOCUMENT_FIELDS):
                out[row["doc_id"]] = document_of_row(row)
        if with_text:
            out = {doc_id: document_with_text(document, self._rows_of(doc_id)) for doc_id, document in out.items()}
        return out

    def get_document(self, doc_id: str) -> Document | None:
        return self.get_documents([doc_id], with_text=True).get(doc_id)

    def _rows_of(self, doc_id: str) -> list[dict]:
        return self.client.query(self.name, filter=f"doc_id == {literal(doc_id)}", limit=MAX_QUERY_ROWS,
                                 output_fields=[*PASSAGE_FIELDS, "lead", "trail"])

    def passages_of(self, doc_id: str) -> list[Passage]:
        return sorted((passage_of_row(row) for row in self._rows_of(doc_id)), key=lambda p: p.ordinal)

    def list_documents(self, offset: int = 0, limit: int = 50) -> list[tuple[DocumentSummary, int]]:
        """Documents newest first (undated last), then by title, as the embedded store lists them."""
        documents = [document_of_row(row) for row in self._iterate("ordinal == 0", DOCUMENT_FIELDS)]
        counts = {row["doc_id"]: int(row["n_passages"]) for row in self._iterate("ordinal == 0", ["doc_id", "n_passages"])}
        documents.sort(key=lambda d: (d.metadata.date is None, _descending(d.metadata.date or ""),
                                      d.metadata.title or "", d.doc_id))
        return [(document, counts[document.doc_id]) for document in documents[offset:offset + limit]]

    def document_ids(self) -> Iterator[str]:
        """Ids of the documents whose first passage is written: all their passages are (it is written last)."""
        return (row["doc_id"] for row in self._iterate("ordinal == 0", ["doc_id"]))

    def first_pids(self, where: PassageFilter | None = None) -> dict[str, int]:
        """The pid of each document's first passage, by doc id, for the documents `where` allows (all when None):
        what a local reuse index knows a document by (qa.index.milvus_reuse)."""
        expression = " and ".join(part for part in ("ordinal == 0", filter_expression(where)) if part)
        return {row["doc_id"]: int(row["pid"]) for row in self._iterate(expression, ["doc_id", "pid"])}

    def texts_of(self, doc_ids: Sequence[str]) -> dict[str, str]:
        """These documents' texts, put back together from their rows (the reuse index reads every document's
        text when it is built)."""
        fields = ["doc_id", "ordinal", "text", "char_start", "char_end", "lead", "trail"]
        return {doc_id: assemble_text(rows) for doc_id, rows in self.rows_of_documents(doc_ids, fields).items()}

    def rows_of_documents(self, doc_ids: Sequence[str], fields: list[str] | None = None) -> dict[str, list[dict]]:
        """Every row of these documents, by doc id: a query per batch of documents, not one each.
        `fields`: those read (default: a passage's, its document's and the text between passages)."""
        out: dict[str, list[dict]] = {}
        fields = fields or [*PASSAGE_AND_DOCUMENT_FIELDS, "lead", "trail"]
        for batch in batches(list(doc_ids), TEXT_BATCH):
            expression = f"doc_id in {literal(list(batch))}"
            rows = self.client.query(self.name, filter=expression, output_fields=fields, limit=MAX_QUERY_ROWS)
            if len(rows) == MAX_QUERY_ROWS:  # more than one query returns: an iterator (a few round trips more)
                rows = list(self._iterate(expression, fields))
            for row in rows:
                out.setdefault(row["doc_id"], []).append(row)
        return out

    def _iterate(self, expression: str, fields: list[str]) -> Iterator[dict]:
        # Milvus Lite gives iterators no server timestamp; pymilvus warns on every one and then works.
        logging.getLogger("pymilvus.client.iterator.query_iterator").setLevel(logging.ERROR)
        iterator = self.client.query_iterator(self.name, batch_size=1000, filter=expression, output_fields=fields)
        try:
            while batch := iterator.next():
                yield from batch
        finally:
            iterator.close()

    def phrase_candidates(self, folded_phrase: str, where: PassageFilter) -> dict[str, Document]:
        """Documents (with text) that `where` allows and that may hold the folded phrase (qa.search.phrase
        then finds the exact occurrences): passages whose BM25 text holds its longest unbroken piece."""
        piece = longest_indexed_piece(folded_phrase)
        if piece is None:
            return {}
        pattern = piece.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        expression = " and ".join(part for part in (filter_expression(where), f"bm25_text like {literal('%' + pattern + '%')}") if part)
        doc_ids = {row["doc_id"] for row in self._iterate(expression, ["doc_id"])}
        return self.get_documents(doc_ids, with_text=True)

    # -- passages --------------------------------------------------------------
    def passages_by_pid(self, pids: Sequence[int]) -> dict[int, Passage]:
        out: dict[int, Passage] = {}
        for batch in batches([int(pid) for pid in pids], READ_BATCH):
            for row in self.client.get(self.name, ids=list(batch), output_fields=PASSAGE_AND_DOCUMENT_FIELDS):
                out[int(row["pid"])] = passage_of_row(row)
                if row["doc_id"] not in self._documents:
                    if len(self._documents) >= DOCUMENT_CACHE:
                        self._documents = {}
                    self._documents[row["doc_id"]] = document_of_row(row)
        return out

    def pid_of_chunk(self, chunk_id: str) -> int | None:
        rows = self.client.query(self.name, filter=f"chunk_id == {literal(chunk_id)}", output_fields=["pid"], limit=1)
        return int(rows[0]["pid"]) if rows else None

    def vectors_of(self, pids: Iterable[int]) -> dict[int, np.ndarray]:
        out: dict[int, np.ndarray] = {}
        for batch in batches([int(pid) for pid in pids], READ_BATCH):
            for row in self.client.get(self.name, ids=list(batch), output_fields=["pid", "vector"]):
                out[int(row["pid"])] = np.asarray(row["vector"], dtype=np.float32)
        return out

    # -- title vectors ---------------------------------------------------------
    # They live in a companion collection, one row a distinct title (the store's title_key): a
    # passage row carrying its title's vector would hold it once a passage, and need a second index.
    @property
    def titles_name(self) -> str:
        return self.name + TITLES_SUFFIX

    def _has_titles(self) -> bool:
        """Whether the companion collection exists (loaded once it does: another process may create it)."""
        if not self._titles_loaded and self.client.has_collection(self.titles_name):
            self.client.load_collection(self.titles_name)
            self._titles_loaded = True
        return self._titles_loaded

    def put_title_vectors(self, model: str, vectors: Mapping[str, np.ndarray]) -> None:
        if not vectors:
            return
        if not self._has_titles():
            create_titles_collection(self.client, self.titles_name, self.dim)
            self._titles_loaded = True
        rows = [{"key": title_key(title), "vector": np.asarray(vector, dtype=np.float32).tolist()}
                for title, vector in vectors.items()]
        for batch in batches(rows, WRITE_BATCH):
            self.client.upsert(self.titles_name, list(batch))

    def title_vectors(self, model: str, titles: Iterable[str]) -> dict[str, np.ndarray]:
        """The vectors of those of `titles` held (none in a collection written before titles were embedded)."""
        by_key = {title_key(title): title for title in titles if title}
        if not by_key or not self._has_titles():
            return {}
        out: dict[str, np.ndarray] = {}
        for batch in batches(list(by_key), READ_BATCH):
            for row in self.client.get(self.titles_name, ids=list(batch), output_fields=["key", "vector"]):
                out[by_key[row["key"]]] = np.asarray(row["vector"], dtype=np.float32)
        return out

    def titles_without_vectors(self, model: str, titles: Iterable[str] | None = None) -> list[str]:
        """Those of `titles` (default: every document's) that have no vector, each once."""
        if titles is None:
            titles = (row["title"] for row in self._iterate("ordinal == 0", ["title"]))
        wanted = list(dict.fromkeys(title for title in titles if title))
        known = self.title_vectors(model, wanted)
        return [title for title in wanted if title not in known]

    # -- search ----------------------------------------------------------------
    def search_vectors(self, query: np.ndarray, k: int, expression: str) -> Hits:
        results = self.client.search(
            self.name, data=[np.asarray(query, dtype=np.float32).tolist()], anns_field="vector", limit=k,
            filter=expression, output_fields=["pid"],
            search_params={"metric_type": "IP", "params": {"ef": max(HNSW_EF_SEARCH, 2 * k)}},
        )
        return _hits(results[0], k, negated=False)

    def search_bm25(self, tokens: Sequence[str], k: int, expression: str) -> Hits:
        if not tokens:
            return no_hits()
        results = self.client.search(self.name, data=[query_text(tokens)], anns_field="sparse", limit=k,
                                     filter=expression, output_fields=["pid"], search_params={"metric_type": "BM25"})
        return _hits(results[0], k, negated=True)

    def knows(self, token: str) -> bool:
        """Whether a passage has this BM25 token: among the best BM25 matches of the token, one that
        holds the token itself (jieba also matches a long word's parts, so a match alone does not say).

        Asked for the words of English queries only (qa.search.crosslingual), and remembered until the next change.
        """
        known = self._known_tokens.get(token)
        if known is None:
            pids, _ = self.search_bm25([token], KNOWS_SAMPLE, "")
            rows = self.client.get(self.name, ids=[int(pid) for pid in pids], output_fields=["bm25_text"]) if len(pids) else []
            known = any(token in lexical_tokens(row["bm25_text"]) for row in rows)
            self._known_tokens[token] = known
        return known

    def stats(self) -> dict:
        return {"kind": "milvus:HNSW", "uri": self.target.uri if not self.target.lite else "lite", "collection": self.name}


def _hits(hits: Sequence[dict], k: int, *, negated: bool) -> Hits:
    if not hits:
        return no_hits()
    pids = np.fromiter((int(hit["pid"]) for hit in hits), dtype=np.int64, count=len(hits))
    scores = np.fromiter((float(hit["distance"]) for hit in hits), dtype=np.float32, count=len(hits))
    if negated:
        # Milvus Lite reports BM25 as a negated distance, a Milvus server as the score itself.
        scores = np.abs(scores)
        keep = scores > 0
        pids, scores = pids[keep], scores[keep]
    return top_hits(pids, scores, k)


def _descending(text: str) -> str:
    return "".join(chr(0x10FFFF - ord(c)) for c in text)
