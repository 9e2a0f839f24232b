"""Milvus as the whole collection: one Milvus collection holds every passage, its document's metadata,
its vector (HNSW, inner product) and its BM25 terms (Milvus's own BM25 function over a jieba analyzer).

Chosen by `--index milvus://HOST:PORT[/NAME]` or `SPEECHQA_INDEX`; a path ending in `.db` is Milvus Lite,
embedded in this process. There is no second store: a document's page is put back together from its
passages by their offsets (each row keeps the few characters between its passage and the previous one),
and its metadata travels on every row so filters are Milvus expressions.

Ranking parity with the embedded backend is by construction, not by tuning:
- the BM25 field holds the passage in the form our own BM25 reads and the analyzer drops our stop
  words, so Milvus's jieba yields exactly our tokens (qa.index.milvus_text); k1 and b are bm25s's.
  Milvus's scores are bm25s's times (k1 + 1), a constant the fusion divides out.
- hybrid search runs both searches in Milvus, scores every candidate on both sides there, and fuses with
  the same function as the embedded backend (`qa.search.fusion`).

The parts: the analyzer's text (milvus_text), rows and filter expressions (milvus_rows), the
collections' schema (milvus_schema), the client's reads and writes (milvus_passages), a request's view
(milvus_view); here, the contract over them (qa.index.contract.Backend).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, overload

import numpy as np

from qa.errors import NotSupportedError
from qa.index.contract import Backend, Capabilities, ChunkingSettings, ReuseView
from qa.index.milvus_names import MilvusNamePairs
from qa.index.milvus_passages import MilvusPassages
from qa.index.milvus_reuse import MilvusReuse
from qa.index.milvus_rows import batches, chunk_pid, passage_rows
from qa.index.milvus_schema import FORMAT_VERSION
from qa.index.milvus_view import MilvusView
from qa.index.near_duplicates import NearDuplicateFinder
from qa.index.store import PassageStore
from qa.index.store_log import StoreChange
from qa.index.store_passages import StoredPassage
from qa.text.name_pairs import NamePair
from qa.types import Document, DocumentSummary, Passage, PassageFilter


def is_milvus_index(index: str | None) -> bool:
    return index is not None and (index.startswith("milvus://") or index.endswith(".db"))


def copy_from_store(store: PassageStore, model: str, passages: MilvusPassages, batch_documents: int = 200) -> int:
    """Write every document of an embedded collection's store, with its stored vectors and the name pairs
    it states, into Milvus (no re-embedding); returns the passages written."""
    names = MilvusNamePairs(passages.client, passages.name)
    written = 0
    for batch in batches(store.all_document_ids(), batch_documents):
        documents = store.get_documents(batch, with_text=True)
        stored_of = store.stored_passages(batch)
        rows: list[dict] = []
        for doc_id in batch:
            stored = stored_of.get(doc_id, [])
            vectors = store.known_vectors(model, [s.embed_hash for s in stored])
            rows += passage_rows(documents[doc_id], stored, [vectors[s.embed_hash] for s in stored])
        passages.upsert_rows(rows)
        names.put({doc_id: store.name_pairs_of(doc_id) for doc_id in batch})
        titles = {document.metadata.title for document in documents.values() if document.metadata.title}
        passages.put_title_vectors(model, store.title_vectors(model, titles))
        written += len(rows)
    passages.commit()
    return written


class MilvusCollection:
    """The Milvus backend (qa.index.contract.Backend) over one Milvus collection and its titles' companion.

    Milvus indexes what it is given; the one derived index is text reuse's, in a local folder when one is
    given (qa.index.milvus_reuse), kept in step with the passages Milvus holds.
    """

    # Passages are embedded whole: one vector a row, no sentence vectors to score them by. Document
    # titles are embedded too, into a companion collection (MilvusPassages.put_title_vectors). Whether a
    # BM25 token is known is a search on the server.
    capabilities = Capabilities(scores_sentences=False, scores_titles=True, knows_in_memory=False)

    def __init__(self, passages: MilvusPassages, reuse_folder: Path | None = None) -> None:
        self.passages = passages
        self.reuse = MilvusReuse(passages, reuse_folder) if reuse_folder is not None else None
        if self.reuse is not None:
            self.capabilities = dataclasses.replace(self.capabilities, finds_reuse=True)
        self.model = passages.model
        self.chunking = ChunkingSettings()
        self._unsealed = False
        self._seal_lock = threading.Lock()
        self._near: NearDuplicateFinder | None = None

    @functools.cached_property
    def names(self) -> MilvusNamePairs:
        """The documents' name pairs, in the companion collection: reached on first use."""
        return MilvusNamePairs(self.passages.client, self.passages.name)

    @classmethod
    def open(cls, index: str, model: str, *, dim: int | None = None, create: bool = False,
             allow_model_change: bool = False, reuse_folder: Path | None = None) -> MilvusCollection:
        """`reuse_folder`: where the text reuse index is kept (qa.index.milvus_reuse.reuse_folder); None: no reuse."""
        return cls(MilvusPassages.open(index, model, dim, create=create, allow_model_change=allow_model_change),
                   reuse_folder)

    def close(self) -> None:
        self._seal()
        if self.reuse is not None:
            self.reuse.close()
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
        return None  # the server holds them; the local reuse index opens on first use, or prepare_reuse()

    def prepare_searches(self) -> None:
        return None  # the server holds what searches read

    def prepare_reuse(self) -> None:
        # Reading the saved reuse index, or building it, means reading Milvus's documents: a server starts that
        # in the background as it starts; a one-off command that never asks for reuse never waits for it.
        if self.reuse is not None:
            self.reuse.open_in_background()

    def near_duplicates(self) -> NearDuplicateFinder:
        """Near-duplicates are found within one ingest or upload: a cluster keeps no table of every
        document's signature (exact duplicates are still found, by content hash)."""
        if self._near is None:
            self._near = NearDuplicateFinder()
        return self._near

    def snapshot(self) -> contextlib.AbstractContextManager[MilvusView]:
        self._seal()
        return contextlib.nullcontext(MilvusView(self.passages))

    def reuse_snapshot(self) -> contextlib.AbstractContextManager[ReuseView]:
        if self.reuse is None:
            raise NotSupportedError(
                f"text reuse needs a local folder for its index beside the Milvus collection at {self.location}, "
                "and this one was opened without: open it through --index (qa.index.backends.open_collection)")
        self._seal()
        return contextlib.nullcontext(self.reuse.view())

    def stats(self) -> dict:
        return {"index": "milvus:HNSW", "recall_at_10": None}

    # -- writes ----------------------------------------------------------------
    def add_documents(self, items: Sequence[tuple[Document, Sequence[StoredPassage], bytes | None]],
                      vectors: dict[str, np.ndarray], fresh: Sequence[str] | None = None,
                      sentence_vectors: dict[str, np.ndarray] | None = None,
                      name_pairs: Mapping[str, Sequence[NamePair]] | None = None) -> StoreChange:
        """Every passage is written with its vector (Milvus keeps no embedding cache, and no sentence vectors).

        The name pairs are written after the passages and removed before them, so a crash between the two
        leaves a document stating none rather than pairs of a document that is not there.
        """
        self.passages.add_documents(items, vectors, self.model)
        self.names.put({document.doc_id: (name_pairs or {}).get(document.doc_id, ()) for document, _, _ in items})
        self._unsealed = True
        if self.reuse is not None:
            self.reuse.add(items)
        added = np.array([chunk_pid(s.passage.chunk_id) for _, stored, _ in items for s in stored], dtype=np.int64)
        return StoreChange(self.passages.version, added, np.empty(0, dtype=np.int64))

    def remove_document(self, doc_id: str) -> bool:
        self.names.remove([doc_id])
        removed = self.passages.remove_document(doc_id)
        self._unsealed = self._unsealed or removed
        if removed and self.reuse is not None:
            self.reuse.remove(doc_id)
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

    def name_pair_counts(self) -> dict[NamePair, int]:
        return self.names.counts()

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
