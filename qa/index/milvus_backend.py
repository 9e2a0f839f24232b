"""Milvus as the whole collection: one Milvus collection holds every passage, its document's metadata,
its vector (HNSW, inner product) and its BM25 terms (Milvus's own BM25 function over a jieba analyzer).

Chosen by `--index milvus://HOST:PORT[/NAME]` or `SPEECHQA_INDEX`; a path ending in `.db` is Milvus Lite,
embedded in this process. There is no second store: a document's page is put back together from its
passages by their offsets (each row keeps the few characters between its passage and the previous one),
and its metadata travels on every row so filters are Milvus expressions.

Ranking parity with the embedded backend is by construction, not by tuning:
- the BM25 field holds the passage in the form our own BM25 reads (Simplified, width-folded, lower case,
  punctuation blanked) and the analyzer drops our stop words, so Milvus's jieba yields exactly our tokens;
  k1 and b are bm25s's. Milvus's scores are bm25s's times (k1 + 1), a constant the fusion divides out.
- hybrid search runs both searches in Milvus, scores every candidate on both sides there, and fuses with
  the same function as the embedded backend (`qa.search.fusion`).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Literal, overload

import numpy as np

from qa.citations import source_group
from qa.errors import BadInputError, IndexNotBuiltError, MissingDependencyError, ModelMismatchError
from qa.index.contract import Backend, Capabilities, ChunkingSettings
from qa.index.indexes import Hits, no_hits, top_hits
from qa.index.near_duplicates import NearDuplicateFinder
from qa.index.store import PassageStore, StoreChange, StoredPassage, title_key
from qa.text.normalize import HAN_UNIFIED, lexical_form
from qa.text.tokens import STOPWORDS, WORDLIKE, lexical_tokens, segmenter
from qa.types import Document, DocumentSummary, Metadata, Passage, PassageFilter

if TYPE_CHECKING:
    from pymilvus import MilvusClient

MILVUS_EXTRA = "pip install 'speechqa[milvus]'"
DEFAULT_NAME = "speechqa_passages"
FORMAT_VERSION = 1
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
BM25_K1 = 1.5  # bm25s's defaults, so both backends score alike
BM25_B = 0.75
WRITE_BATCH = 512  # rows per insert call: a few MB of vectors and text
READ_BATCH = 1000  # ids per `pid in [...]` read
TITLES_SUFFIX = "__titles"  # the companion collection of document title vectors
MAX_QUERY_ROWS = 16384
KNOWS_SAMPLE = 20  # best BM25 matches of a token read to tell whether one holds it
LITE_MEMTABLE_BYTES = 512 * 1024 * 1024  # Milvus's limit on offset + limit of one query
VARCHAR_BYTES = 65535

# Characters our BM25 never counts (no letter, digit or Han): blanked before Milvus's jieba sees the text.
# jieba emits each of them as a token of its own, so blanking them changes no other token. The symbols
# jieba keeps inside words (+#&._%-) stay; the tokens made of them alone are stop words below.
_NOT_INDEXED = re.compile(rf"[^0-9a-z{HAN_UNIFIED}+#&._%\-\s]+")
_JOINERS = "+#&._%-"
STOP_WORDS = sorted(STOPWORDS | {"".join(p) for n in (1, 2, 3) for p in itertools.product(_JOINERS, repeat=n)})
ANALYZER = {"tokenizer": "jieba", "filter": [{"type": "stop", "stop_words": STOP_WORDS}]}


def _pymilvus() -> ModuleType:
    try:
        import pymilvus
    except ImportError as exc:
        raise MissingDependencyError(f"the Milvus backend needs pymilvus: {MILVUS_EXTRA}") from exc
    return pymilvus


def is_milvus_index(index: str | None) -> bool:
    return index is not None and (index.startswith("milvus://") or index.endswith(".db"))


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


def chunk_pid(chunk_id: str) -> int:
    """The int64 primary key of a passage, from its chunk id (itself a hash of document id and offsets):
    the same passage always gets the same key, so writing it twice (a rerun) overwrites, never duplicates."""
    value = int(chunk_id.removeprefix("c-")[:16], 16)
    return value - (1 << 64) if value >= 1 << 63 else value


def bm25_text(text: str) -> str:
    """A passage as Milvus's analyzer should read it to find our BM25 tokens (`qa.index.lexical.lexical_tokens`)."""
    return _NOT_INDEXED.sub(" ", lexical_form(text))


def bm25_source(passage_text: str, title: str | None, tokens: str) -> str:
    """What Milvus's analyzer reads for a passage so that it finds the passage's stored BM25 tokens: its
    text, then its document's title and context words where ingest counted them (qa.ingest.pipeline)."""
    parts = [bm25_text(passage_text)]
    stored = tokens.split(" ") if tokens else []
    rest = stored[len(lexical_tokens(passage_text)):]
    title_words = lexical_tokens(title) if title else []
    if title and title_words and rest[: len(title_words)] == title_words:
        parts.append(bm25_text(title))
        rest = rest[len(title_words):]
    if rest:  # the occasion, place and speaker's words, as tokens: their text is the document's, not here
        parts.append(query_text(rest))
    return "\n".join(parts)


def _kept(token: str) -> bool:
    return bool(WORDLIKE.search(token)) and token not in STOPWORDS and not token.isspace()


def query_text(tokens: Sequence[str]) -> str:
    """Text that Milvus's jieba analyzer turns back into exactly these query tokens.

    jieba's search mode emits, just before each long word, its 2- and 3-character parts that are
    words themselves; handing it those parts as well would count them twice. So each run of tokens
    that is exactly some later word's parts is dropped and only the words are sent.
    """
    tokens = list(tokens)
    words: list[str] = []
    i = 0
    while i < len(tokens):
        for j in range(i + 1, min(len(tokens), i + 1 + 2 * MAX_WORD_PARTS)):
            if len(tokens[j]) > 2 and tokens[i:j] == _search_parts(tokens[j]):
                words.append(tokens[j])
                i = j + 1
                break
        else:
            words.append(tokens[i])
            i += 1
    return " ".join(words)


MAX_WORD_PARTS = 16


def _search_parts(word: str) -> list[str]:
    """The parts jieba's cut_for_search emits before `word`, as our BM25 keeps them."""
    frequencies = segmenter().dt.FREQ
    parts = [word[i:i + 2] for i in range(len(word) - 1) if frequencies.get(word[i:i + 2])]
    if len(word) > 3:
        parts += [word[i:i + 3] for i in range(len(word) - 2) if frequencies.get(word[i:i + 3])]
    return [part for part in parts if _kept(part)]


def filter_expression(where: PassageFilter | None, exclude_doc: str | None = None, pids: Iterable[int] | None = None) -> str:
    """A PassageFilter (and an excluded document, and a pid list) as a Milvus boolean expression."""
    parts = []
    if where is not None and where.doc_ids:
        parts.append(f"doc_id in {_literal(list(where.doc_ids))}")
    if where is not None and where.date_from:
        parts.append(f"date >= {_literal(where.date_from)}")
    if where is not None and where.date_to:
        parts.append(f'date <= {_literal(where.date_to)} and date != ""')  # "" is an unknown date
    if where is not None and where.speaker:
        parts.append(f"speaker == {_literal(where.speaker)}")
    if where is not None and where.source:
        parts.append(f"source_group == {_literal(where.source)}")
    if exclude_doc:
        parts.append(f"doc_id != {_literal(exclude_doc)}")
    if pids is not None:
        parts.append(f"pid in {_literal([int(pid) for pid in pids])}")
    return " and ".join(parts)


def _literal(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _text_or_none(value: str | None) -> str | None:
    return value or None


def _clip(text: str | None, limit_bytes: int = 4096) -> str:
    """Milvus VARCHAR limits count UTF-8 bytes."""
    text = text or ""
    encoded = text.encode("utf-8")
    return text if len(encoded) <= limit_bytes else encoded[:limit_bytes].decode("utf-8", errors="ignore")


def passage_rows(document: Document, stored: Sequence[StoredPassage], vectors: Sequence[np.ndarray]) -> list[dict]:
    """The Milvus rows of one document: a row per passage with the document's metadata on each.

    `lead` keeps the document text between the previous passage's end and this one's start (and the
    last row's `trail` what follows it), so the page is rebuilt from the rows exactly.
    """
    meta = document.metadata
    order = sorted(range(len(stored)), key=lambda i: (stored[i].passage.char_start, stored[i].passage.ordinal))
    rows: list[dict] = [{} for _ in stored]
    covered = 0
    for position, i in enumerate(order):
        passage = stored[i].passage
        lead = document.text[covered:passage.char_start] if passage.char_start > covered else ""
        covered = max(covered, passage.char_end)
        rows[i] = {
            "pid": chunk_pid(passage.chunk_id),
            "chunk_id": passage.chunk_id,
            "doc_id": document.doc_id,
            "ordinal": passage.ordinal,
            "text": passage.text,
            "bm25_text": bm25_source(passage.text, meta.title, stored[i].tokens),
            "char_start": passage.char_start,
            "char_end": passage.char_end,
            "section": _clip(passage.section),
            "lead": lead,
            "trail": document.text[covered:] if position == len(order) - 1 else "",
            "title": _clip(meta.title),
            "date": meta.date or "",
            "date_kind": meta.date_kind or "",
            "speaker": _clip(meta.speaker, 512),
            "place": _clip(meta.place, 512),
            "script": document.script,
            "content_hash": document.content_hash,
            "sources": [_clip(source, 1024) for source in document.sources[:64]],
            "source_group": _clip(source_group(document.source), 1024),
            "n_passages": len(stored),
            "vector": np.asarray(vectors[i], dtype=np.float32).tolist(),
        }
    # The first passage is written last: once it is in Milvus, so is the whole document (resuming relies on it).
    return sorted(rows, key=lambda row: row["ordinal"] == 0)


def assemble_text(rows: Sequence[dict]) -> str:
    """A document's cleaned text from its passage rows (any order)."""
    pieces: list[str] = []
    covered = 0
    ordered = sorted(rows, key=lambda row: (row["char_start"], row["ordinal"]))
    for row in ordered:
        pieces.append(row["lead"])
        pieces.append(row["text"][max(0, covered - row["char_start"]):])
        covered = max(covered, row["char_end"])
    if ordered:
        pieces.append(ordered[-1]["trail"])
    return "".join(pieces)


PASSAGE_FIELDS = ["pid", "chunk_id", "doc_id", "ordinal", "text", "char_start", "char_end", "section"]
DOCUMENT_FIELDS = ["doc_id", "content_hash", "title", "date", "date_kind", "speaker", "place", "script", "sources", "n_passages"]
PASSAGE_AND_DOCUMENT_FIELDS = list(dict.fromkeys(PASSAGE_FIELDS + DOCUMENT_FIELDS))
DOCUMENT_CACHE = 100_000


def _passage(row: dict) -> Passage:
    return Passage(row["chunk_id"], row["doc_id"], int(row["ordinal"]), row["text"], int(row["char_start"]),
                   int(row["char_end"]), _text_or_none(row["section"]))


def _document(row: dict) -> DocumentSummary:
    return DocumentSummary(
        doc_id=row["doc_id"],
        content_hash=row["content_hash"],
        metadata=Metadata(title=_text_or_none(row["title"]), date=_text_or_none(row["date"]),
                          date_kind=_text_or_none(row["date_kind"]), speaker=_text_or_none(row["speaker"]),
                          place=_text_or_none(row["place"])),
        script=row["script"],
        sources=tuple(row["sources"] or ()),
    )


def _batches(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


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
            _create_collection(client, target.name, model, dim)
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
        for batch in _batches(rows, WRITE_BATCH):
            self.client.upsert(self.name, list(batch))
        self._changed()

    def commit(self) -> None:
        """Seal what was written into a segment; called once at the end of a change (an ingest, an upload).

        Milvus Lite scores BM25 with the statistics of each segment, and those of its unsealed rows with
        the statistics of the rows a filter lets through; sealing whole ingests keeps both right.
        """
        self.client.flush(self.name)

    def remove_document(self, doc_id: str) -> bool:
        if not self.client.query(self.name, filter=f"doc_id == {_literal(doc_id)}", output_fields=["pid"], limit=1):
            return False
        self.client.delete(self.name, filter=f"doc_id == {_literal(doc_id)}")
        self._changed()
        return True

    def add_source(self, doc_id: str, source: str) -> bool:
        """Record one more source of a document; False when it was already known."""
        rows = self.client.query(self.name, filter=f"doc_id == {_literal(doc_id)}", output_fields=["*"], limit=MAX_QUERY_ROWS)
        if not rows or source in (rows[0].get("sources") or []):
            return False
        updated = []
        for row in sorted(rows, key=lambda row: row["ordinal"] == 0):  # the first passage last, as ever
            row = {key: value for key, value in row.items() if key != "sparse"}
            row["sources"] = [*row["sources"], _clip(source, 1024)][:64]
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
        rows = self.client.query(self.name, filter=f"content_hash == {_literal(content_hash)}", output_fields=["doc_id"], limit=1)
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
        for batch in _batches(ids, READ_BATCH):
            for row in self.client.query(self.name, filter=f"doc_id in {_literal(list(batch))} and ordinal == 0",
                                         output_fields=DOCUMENT_FIELDS):
                out[row["doc_id"]] = _document(row)
        if with_text:
            out = {doc_id: _document_with_text(document, self._rows_of(doc_id)) for doc_id, document in out.items()}
        return out

    def get_document(self, doc_id: str) -> Document | None:
        return self.get_documents([doc_id], with_text=True).get(doc_id)

    def _rows_of(self, doc_id: str) -> list[dict]:
        return self.client.query(self.name, filter=f"doc_id == {_literal(doc_id)}", limit=MAX_QUERY_ROWS,
                                 output_fields=[*PASSAGE_FIELDS, "lead", "trail"])

    def passages_of(self, doc_id: str) -> list[Passage]:
        return sorted((_passage(row) for row in self._rows_of(doc_id)), key=lambda p: p.ordinal)

    def list_documents(self, offset: int = 0, limit: int = 50) -> list[tuple[DocumentSummary, int]]:
        """Documents newest first (undated last), then by title, as the embedded store lists them."""
        documents = [_document(row) for row in self._iterate("ordinal == 0", DOCUMENT_FIELDS)]
        counts = {row["doc_id"]: int(row["n_passages"]) for row in self._iterate("ordinal == 0", ["doc_id", "n_passages"])}
        documents.sort(key=lambda d: (d.metadata.date is None, _descending(d.metadata.date or ""),
                                      d.metadata.title or "", d.doc_id))
        return [(document, counts[document.doc_id]) for document in documents[offset:offset + limit]]

    def document_ids(self) -> Iterator[str]:
        """Ids of the documents whose first passage is written: all their passages are (it is written last)."""
        return (row["doc_id"] for row in self._iterate("ordinal == 0", ["doc_id"]))

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
        pieces = [piece for piece in _NOT_INDEXED.split(folded_phrase.lower()) if piece.strip()]
        if not pieces:
            return {}
        piece = max(pieces, key=len).strip()
        pattern = piece.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        expression = " and ".join(part for part in (filter_expression(where), f"bm25_text like {_literal('%' + pattern + '%')}") if part)
        doc_ids = {row["doc_id"] for row in self._iterate(expression, ["doc_id"])}
        return self.get_documents(doc_ids, with_text=True)

    # -- passages --------------------------------------------------------------
    def passages_by_pid(self, pids: Sequence[int]) -> dict[int, Passage]:
        out: dict[int, Passage] = {}
        for batch in _batches([int(pid) for pid in pids], READ_BATCH):
            for row in self.client.get(self.name, ids=list(batch), output_fields=PASSAGE_AND_DOCUMENT_FIELDS):
                out[int(row["pid"])] = _passage(row)
                if row["doc_id"] not in self._documents:
                    if len(self._documents) >= DOCUMENT_CACHE:
                        self._documents = {}
                    self._documents[row["doc_id"]] = _document(row)
        return out

    def pid_of_chunk(self, chunk_id: str) -> int | None:
        rows = self.client.query(self.name, filter=f"chunk_id == {_literal(chunk_id)}", output_fields=["pid"], limit=1)
        return int(rows[0]["pid"]) if rows else None

    def vectors_of(self, pids: Iterable[int]) -> dict[int, np.ndarray]:
        out: dict[int, np.ndarray] = {}
        for batch in _batches([int(pid) for pid in pids], READ_BATCH):
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
            _create_titles_collection(self.client, self.titles_name, self.dim)
            self._titles_loaded = True
        rows = [{"key": title_key(title), "vector": np.asarray(vector, dtype=np.float32).tolist()}
                for title, vector in vectors.items()]
        for batch in _batches(rows, WRITE_BATCH):
            self.client.upsert(self.titles_name, list(batch))

    def title_vectors(self, model: str, titles: Iterable[str]) -> dict[str, np.ndarray]:
        """The vectors of those of `titles` held (none in a collection written before titles were embedded)."""
        by_key = {title_key(title): title for title in titles if title}
        if not by_key or not self._has_titles():
            return {}
        out: dict[str, np.ndarray] = {}
        for batch in _batches(list(by_key), READ_BATCH):
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

    # -- the per-request view ----------------------------------------------------
    @contextlib.contextmanager
    def snapshot(self) -> Iterator[MilvusView]:
        yield MilvusView(self)

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


def _document_with_text(document: DocumentSummary, rows: Sequence[dict]) -> Document:
    return document.with_text(assemble_text(rows))


def _create_collection(client: MilvusClient, name: str, model: str, dim: int) -> None:
    from pymilvus import DataType, Function, FunctionType

    schema = client.create_schema(auto_id=False, description="speechqa passages")
    schema.add_field("pid", DataType.INT64, is_primary=True)
    schema.add_field("chunk_id", DataType.VARCHAR, max_length=64)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=64)
    schema.add_field("ordinal", DataType.INT64)
    schema.add_field("text", DataType.VARCHAR, max_length=VARCHAR_BYTES)
    schema.add_field("bm25_text", DataType.VARCHAR, max_length=VARCHAR_BYTES, enable_analyzer=True, analyzer_params=ANALYZER)
    schema.add_field("char_start", DataType.INT64)
    schema.add_field("char_end", DataType.INT64)
    schema.add_field("section", DataType.VARCHAR, max_length=4096)
    schema.add_field("lead", DataType.VARCHAR, max_length=VARCHAR_BYTES)
    schema.add_field("trail", DataType.VARCHAR, max_length=VARCHAR_BYTES)
    schema.add_field("title", DataType.VARCHAR, max_length=4096)
    schema.add_field("date", DataType.VARCHAR, max_length=16)
    schema.add_field("date_kind", DataType.VARCHAR, max_length=16)
    schema.add_field("speaker", DataType.VARCHAR, max_length=512)
    schema.add_field("place", DataType.VARCHAR, max_length=512)
    schema.add_field("script", DataType.VARCHAR, max_length=16)
    schema.add_field("content_hash", DataType.VARCHAR, max_length=128)
    schema.add_field("sources", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=64, max_length=1024)
    schema.add_field("source_group", DataType.VARCHAR, max_length=1024)
    schema.add_field("n_passages", DataType.INT64)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                 input_field_names=["bm25_text"], output_field_names=["sparse"]))
    index_params = client.prepare_index_params()
    index_params.add_index("vector", index_type="HNSW", metric_type="IP",
                           params={"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION})
    index_params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                           params={"bm25_k1": BM25_K1, "bm25_b": BM25_B})
    for field in ("doc_id", "chunk_id", "content_hash", "date", "speaker", "source_group"):
        index_params.add_index(field, index_type="INVERTED")
    client.create_collection(name, schema=schema, index_params=index_params, consistency_level="Strong",
                             properties={"speechqa.model": model, "speechqa.dim": str(dim),
                                         "speechqa.format": str(FORMAT_VERSION)})


def _create_titles_collection(client: MilvusClient, name: str, dim: int) -> None:
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False, description="speechqa document titles")
    schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    index_params = client.prepare_index_params()
    # Read by key, never searched: the lightest index Milvus loads a collection with.
    index_params.add_index("vector", index_type="FLAT", metric_type="IP")
    client.create_collection(name, schema=schema, index_params=index_params, consistency_level="Strong")
    client.load_collection(name)


class MilvusReader:
    """One side of the collection as an index reader (qa.index.indexes.IndexReader); every read sees the latest rows."""

    kind: str

    def __init__(self, passages: MilvusPassages) -> None:
        self._passages = passages
        self.version = passages.version

    def count(self) -> int:
        return self._passages.count_passages()


class MilvusVectorReader(MilvusReader):
    kind = "milvus:HNSW"

    def search(self, query: np.ndarray, k: int, where: PassageFilter | None = None, exclude_doc: str | None = None) -> Hits:
        return self._passages.search_vectors(query, k, filter_expression(where, exclude_doc))

    def score(self, query: np.ndarray, pids: np.ndarray) -> np.ndarray:
        vectors = self._passages.vectors_of(pids)
        query = np.asarray(query, dtype=np.float32)
        return np.array([float(vectors[int(pid)] @ query) if int(pid) in vectors else 0.0 for pid in pids], dtype=np.float32)


class MilvusLexicalReader(MilvusReader):
    kind = "milvus:BM25"

    def search(self, query: Sequence[str], k: int, where: PassageFilter | None = None, exclude_doc: str | None = None) -> Hits:
        return self._passages.search_bm25(query, k, filter_expression(where, exclude_doc))

    def score(self, query: Sequence[str], pids: np.ndarray) -> np.ndarray:
        if not len(pids):
            return np.zeros(0, dtype=np.float32)
        found, scores = self._passages.search_bm25(query, len(pids), filter_expression(None, pids=pids))
        by_pid = dict(zip(found.tolist(), scores.tolist(), strict=True))
        return np.array([by_pid.get(int(pid), 0.0) for pid in pids], dtype=np.float32)

    def knows(self, token: str) -> bool:
        return self._passages.knows(token)


class MilvusView:
    """What one request reads. Milvus gives no snapshot to a client: every read sees the latest committed
    rows, so a document removed mid-request drops out of that request's hits instead of failing it."""

    def __init__(self, passages: MilvusPassages) -> None:
        self.version = passages.version
        self.vectors = MilvusVectorReader(passages)
        self.lexical = MilvusLexicalReader(passages)
        self._passages = passages

    def passages(self, pids: Sequence[int]) -> dict[int, Passage]:
        return self._passages.passages_by_pid(pids)

    def dense_scores(self, query: np.ndarray, pids: np.ndarray) -> np.ndarray:
        # One vector a passage (the whole passage's, embedded as such): Milvus holds no sentence vectors.
        return self.vectors.score(query, pids)

    def sentence_cosines(self, queries: np.ndarray, pids: np.ndarray) -> np.ndarray:
        # Each passage's one vector, fetched once for every query.
        vectors = self._passages.vectors_of(pids)
        matrix = np.zeros((len(pids), self._passages.dim), dtype=np.float32)
        for i, pid in enumerate(pids.tolist()):
            if pid in vectors:
                matrix[i] = vectors[pid]
        return matrix @ np.asarray(queries, dtype=np.float32).T

    def title_scores(self, query: np.ndarray, titles: Sequence[str]) -> dict[str, float]:
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        return {title: float(vector @ query) for title, vector in self._passages.title_vectors(self._passages.model, titles).items()}

    def documents(self, doc_ids: Sequence[str]) -> dict[str, DocumentSummary]:
        return self._passages.get_documents(doc_ids)


def copy_from_store(store: PassageStore, model: str, passages: MilvusPassages, batch_documents: int = 200) -> int:
    """Write every document of an embedded collection's store, with its stored vectors, into Milvus
    (no re-embedding); returns the passages written."""
    written = 0
    for batch in _batches(store.all_document_ids(), batch_documents):
        documents = store.get_documents(batch, with_text=True)
        stored_of = store.stored_passages(batch)
        rows: list[dict] = []
        for doc_id in batch:
            stored = stored_of.get(doc_id, [])
            vectors = store.known_vectors(model, [s.embed_hash for s in stored])
            rows += passage_rows(documents[doc_id], stored, [vectors[s.embed_hash] for s in stored])
        passages.upsert_rows(rows)
        titles = {document.metadata.title for document in documents.values() if document.metadata.title}
        passages.put_title_vectors(model, store.title_vectors(model, titles))
        written += len(rows)
    passages.commit()
    return written


class MilvusCollection:
    """The Milvus backend (qa.index.contract.Backend) over one Milvus collection and its titles' companion.

    There are no derived indexes to load, save or catch up: Milvus indexes what it is given.
    """

    # Passages are embedded whole: one vector a row, no sentence vectors to score them by. Document
    # titles are embedded too, into a companion collection (MilvusPassages.put_title_vectors). Whether a
    # BM25 token is known is a search on the server.
    capabilities = Capabilities(scores_sentences=False, scores_titles=True, knows_in_memory=False)

    def __init__(self, passages: MilvusPassages) -> None:
        self.passages = passages
        self.model = passages.model
        self.chunking = ChunkingSettings()
        self._unsealed = False
        self._seal_lock = threading.Lock()
        self._near: NearDuplicateFinder | None = None

    @classmethod
    def open(cls, index: str, model: str, *, dim: int | None = None, create: bool = False,
             allow_model_change: bool = False) -> MilvusCollection:
        return cls(MilvusPassages.open(index, model, dim, create=create, allow_model_change=allow_model_change))

    def close(self) -> None:
        self._seal()
        self.passages.close()

    def _seal(self) -> None:
        """Seal the changes before anything reads them (see MilvusPassages.commit): a large ingest is
        sealed once at its end, an upload before the first search after it."""
        with self._seal_lock:
            if self._unsealed:
                self.passages.commit()
                self._unsealed = False

    @property
    def location(self) -> str:
        return self.passages.target.index

    @property
    def manifest(self) -> dict:
        return {"model": self.model, "dim": self.passages.dim, "index": "milvus:HNSW", "format_version": FORMAT_VERSION}

    def ensure_indexes(self) -> None:
        return None  # the server holds them

    def near_duplicates(self) -> NearDuplicateFinder:
        """Near-duplicates are found within one ingest or upload: a cluster keeps no table of every
        document's signature (exact duplicates are still found, by content hash)."""
        if self._near is None:
            self._near = NearDuplicateFinder()
        return self._near

    def snapshot(self) -> contextlib.AbstractContextManager[MilvusView]:
        self._seal()
        return self.passages.snapshot()

    def stats(self) -> dict:
        return {"index": "milvus:HNSW", "recall_at_10": None}

    # -- writes ----------------------------------------------------------------
    def add_documents(self, items: Sequence[tuple[Document, Sequence[StoredPassage], bytes | None]],
                      vectors: dict[str, np.ndarray], fresh: Sequence[str] | None = None,
                      sentence_vectors: dict[str, np.ndarray] | None = None) -> StoreChange:
        """Every passage is written with its vector (Milvus keeps no embedding cache, and no sentence vectors)."""
        self.passages.add_documents(items, vectors, self.model)
        self._unsealed = True
        added = np.array([chunk_pid(s.passage.chunk_id) for _, stored, _ in items for s in stored], dtype=np.int64)
        return StoreChange(self.passages.version, added, np.empty(0, dtype=np.int64))

    def remove_document(self, doc_id: str) -> bool:
        removed = self.passages.remove_document(doc_id)
        self._unsealed = self._unsealed or removed
        return removed

    def add_source(self, doc_id: str, source: str) -> bool:
        return self.passages.add_source(doc_id, source)

    def known_vectors(self, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        return self.passages.known_vectors(self.model, hashes)

    def put_title_vectors(self, vectors: Mapping[str, np.ndarray]) -> None:
        self.passages.put_title_vectors(self.model, vectors)

    def set_derived_version(self, version: int) -> None:
        return None  # nothing to advise: a Milvus collection is rebuilt by ingesting it again

    # -- reads -----------------------------------------------------------------
    def get_document(self, doc_id: str) -> Document | None:
        return self.passages.get_document(doc_id)

    @overload
    def get_documents(self, doc_ids: Iterable[str], with_text: Literal[True]) -> dict[str, Document]: ...

    @overload
    def get_documents(self, doc_ids: Iterable[str], with_text: Literal[False] = False) -> dict[str, DocumentSummary]: ...

    def get_documents(self, doc_ids: Iterable[str], with_text: bool = False) -> Mapping[str, DocumentSummary]:
        return self.passages.get_documents(doc_ids, True) if with_text else self.passages.get_documents(doc_ids)

    def passage(self, chunk_id: str) -> Passage | None:
        pid = self.passages.pid_of_chunk(chunk_id)
        return self.passages.passages_by_pid([pid]).get(pid) if pid is not None else None

    def passages_of(self, doc_id: str) -> list[Passage]:
        return self.passages.passages_of(doc_id)

    def list_documents(self, offset: int = 0, limit: int = 50) -> list[tuple[DocumentSummary, int]]:
        return self.passages.list_documents(offset, limit)

    def count_documents(self) -> int:
        return self.passages.count_documents()

    def count_passages(self) -> int:
        return self.passages.count_passages()

    def speakers(self) -> frozenset[str]:
        return self.passages.speakers()

    def phrase_candidates(self, folded_phrase: str, where: PassageFilter) -> dict[str, Document]:
        return self.passages.phrase_candidates(folded_phrase, where)

    def find_by_hash(self, content_hash: str) -> str | None:
        return self.passages.find_by_hash(content_hash)

    def titles_without_vectors(self, titles: Iterable[str] | None = None) -> list[str]:
        return self.passages.titles_without_vectors(self.model, titles)

    def derived_version(self) -> int | None:
        return None


if TYPE_CHECKING:  # mypy checks here that the Milvus backend honours the contract
    _honours_contract: type[Backend] = MilvusCollection
