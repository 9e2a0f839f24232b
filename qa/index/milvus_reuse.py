"""Text reuse beside a Milvus collection: the same reuse index as the embedded backend's, kept in a local folder.

Milvus holds the passages; the reuse index (qa.index.reuse_index) needs every document's whole text in its
reuse form, compared character by character, which no Milvus index offers. So it is derived from the
passages Milvus holds and kept on local disk: beside a Milvus Lite file (NAME.db.reuse/), under the cache
folder for a server. A document is known by the pid of its first passage (Milvus keys passages by a hash
of their chunk id, so a document's pids are no range; its first passage is written last, so a document
whose first passage is there is whole).

Kept current without a rebuild: this process's uploads and deletions change it at once. Milvus keeps no
change log, so what changed elsewhere (another server on the same collection, a crash before a save, an
ingest by the CLI) is found by comparing the documents Milvus holds with the index's: on opening, and
whenever Milvus's document count differs from the index's (checked at most every RECHECK_S seconds);
documents missing are read from Milvus and added, those gone are dropped. Files are written under new
names and named by an entry swapped in atomically, so a process killed at any moment leaves either the
old index or the new; either is brought up to date from Milvus on the next open.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from qa.index.manifest import write_json_atomic
from qa.index.milvus_passages import MilvusPassages
from qa.index.milvus_rows import chunk_pid, document_of_row, document_with_text, passage_of_row
from qa.index.reuse_index import FOLDER, IndexedDocument, ReuseIndex, ReuseReader
from qa.index.store_passages import StoredPassage
from qa.types import Document, DocumentSummary, Passage, PassageFilter

log = logging.getLogger(__name__)
ENTRY = "reuse.json"  # the saved index's entry, as a collection's manifest.json names its reuse index
RECHECK_S = 10.0  # how stale another writer's changes may be: Milvus's document count is compared this often


def reuse_folder(index: str, cache_dir: Path) -> Path:
    """Where the reuse index of the Milvus collection `index` lives: beside a Milvus Lite file, else in the cache."""
    if index.endswith(".db"):
        return Path(index + ".reuse")
    return cache_dir / "milvus-reuse" / hashlib.sha256(index.encode()).hexdigest()[:16]


class MilvusReuse:
    """The reuse index of one Milvus collection, in `folder`; opened on first use (or open_in_background), kept in
    step with Milvus."""

    def __init__(self, passages: MilvusPassages, folder: Path) -> None:
        self.passages = passages
        self.folder = folder
        self._index: ReuseIndex | None = None
        self._lock = threading.RLock()  # one change, reconciliation or save at a time
        self._checked = 0.0
        self._unsaved = False
        self._merging: threading.Thread | None = None
        self._opening: threading.Thread | None = None

    def open_in_background(self) -> None:
        """Start reading (or building) the index on a thread, so the first reuse request need not wait for all of it
        (a server starts it as it starts; close() waits for it)."""
        with self._lock:
            if self._index is not None or self._opening is not None:
                return
            self._opening = threading.Thread(target=self._open, name="speechqa-milvus-reuse-open", daemon=True)
            self._opening.start()

    def _open(self) -> ReuseIndex:
        with self._lock:
            if self._index is None:  # a request may have opened it first
                self._index = self._reconcile(self._load())
            return self._index

    def index(self) -> ReuseIndex:
        """The index, brought in step with the documents Milvus holds when it may have fallen behind."""
        with self._lock:
            if self._index is None:
                return self._open()
            if time.monotonic() - self._checked > RECHECK_S:
                self._checked = time.monotonic()
                if self.passages.count_documents() != self._index.count():
                    self._index = self._reconcile(self._index)
            return self._index

    def _load(self) -> ReuseIndex:
        entry = _read_entry(self.folder)
        if entry:
            try:
                return ReuseIndex.load(self.folder, entry)
            except (OSError, ValueError, KeyError) as exc:  # derived files only: Milvus rebuilds them
                log.warning("could not read the reuse index in %s (%s): rebuilding it from Milvus", self.folder, exc)
        return ReuseIndex.build([], 0)

    def _reconcile(self, index: ReuseIndex) -> ReuseIndex:
        """The index with the documents Milvus holds that it lacks added, and those Milvus no longer holds
        dropped; built anew, as one segment, when it held none."""
        held = self.passages.first_pids()
        known = index.documents()
        gone = np.array([pid for doc_id, pid in known.items() if held.get(doc_id) != pid], dtype=np.int64)
        missing = [doc_id for doc_id, pid in held.items() if known.get(doc_id) != pid]
        texts = self.passages.texts_of(missing)
        added = [IndexedDocument(doc_id, texts[doc_id], held[doc_id], held[doc_id]) for doc_id in missing if doc_id in texts]
        self._checked = time.monotonic()
        if not (len(gone) or missing):
            return index
        log.info("reuse index of %s: %d documents added from Milvus, %d dropped", self.passages.target.index,
                 len(added), len(gone))
        self._unsaved = True
        if not known:
            return ReuseIndex.build(added, index.version + 1)
        index.remove(gone, index.version + 1)
        index.add(added, index.version + 1)
        self._merge_when_due(index)
        return index

    def add(self, items: Sequence[tuple[Document, Sequence[StoredPassage], bytes | None]]) -> None:
        """Index the documents just written to Milvus (when the index is open; else opening reads them)."""
        with self._lock:
            if self._index is None:
                return
            documents = []
            for document, stored, _ in items:
                if stored:
                    first = chunk_pid(min(stored, key=lambda s: s.passage.ordinal).passage.chunk_id)
                    documents.append(IndexedDocument(document.doc_id, document.text, first, first))
            # One already indexed (the opening's reading of Milvus saw it written) is replaced, never doubled.
            again = [pid for d in documents if (pid := self._index.first_pid(d.doc_id)) is not None]
            self._index.remove(np.array(again, dtype=np.int64), self._index.version)
            self._index.add(documents, self._index.version + 1)
            self._unsaved = True
            self._merge_when_due(self._index)

    def remove(self, doc_id: str) -> None:
        with self._lock:
            if self._index is None:
                return
            pid = self._index.first_pid(doc_id)
            if pid is not None:
                self._index.remove(np.array([pid], dtype=np.int64), self._index.version + 1)
                self._unsaved = True
                self._merge_when_due(self._index)

    def _merge_when_due(self, index: ReuseIndex) -> None:
        """Merge segments on a thread of its own (as the embedded collection does), then save."""
        if not index.needs_maintenance() or (self._merging is not None and self._merging.is_alive()):
            return

        def merge() -> None:
            index.maintain()
            self.save()

        self._merging = threading.Thread(target=merge, name="speechqa-milvus-reuse-merge", daemon=True)
        self._merging.start()

    def save(self) -> None:
        """Write the index under new names, name them in the entry (swapped in whole), then delete older files."""
        with self._lock:
            if self._index is None or not self._unsaved:
                return
            self.folder.mkdir(parents=True, exist_ok=True)
            entry = self._index.save(self.folder)
            write_json_atomic(self.folder / ENTRY, {"milvus": self.passages.target.index, "reuse": entry})
            self._unsaved = False
            keep = set(entry["files"])
            for path in (self.folder / FOLDER).iterdir():
                if f"{FOLDER}/{path.name}" not in keep:
                    _remove(path)

    def close(self) -> None:
        for thread in (self._opening, self._merging):
            if thread is not None:
                thread.join()
        with contextlib.suppress(OSError):
            self.save()

    def view(self) -> MilvusReuseView:
        return MilvusReuseView(self.index().reader(), self.passages)


def _read_entry(folder: Path) -> dict | None:
    try:
        return json.loads((folder / ENTRY).read_text(encoding="utf-8")).get("reuse")
    except (OSError, ValueError):
        return None


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


class MilvusReuseView:
    """What one reuse request reads (qa.index.contract.ReuseView): the local reuse index, and Milvus's rows as
    they are now (Milvus gives no snapshot; a document gone from Milvus drops out of the answer).

    A request reads a document's summary, text and passages, often more than once (the top list looks at
    each candidate twice): each document's rows are read once, with a query per batch of documents, and kept
    for the request. A round trip costs more than the rows it brings (about 25 ms on Milvus Lite).
    """

    def __init__(self, reuse: ReuseReader, passages: MilvusPassages) -> None:
        self.reuse = reuse
        self._passages = passages
        self._rows: dict[str, list[dict]] = {}

    def _rows_of(self, doc_ids: Sequence[str]) -> dict[str, list[dict]]:
        wanted = [doc_id for doc_id in dict.fromkeys(doc_ids) if doc_id not in self._rows]
        if wanted:
            found = self._passages.rows_of_documents(wanted)
            self._rows.update({doc_id: found.get(doc_id, []) for doc_id in wanted})
        return {doc_id: self._rows[doc_id] for doc_id in doc_ids if self._rows.get(doc_id)}

    def filtered_pids(self, where: PassageFilter) -> np.ndarray:
        # The reuse index knows a document by its first passage's pid: the filter's documents, by theirs.
        return np.sort(np.fromiter(self._passages.first_pids(where).values(), dtype=np.int64))

    def documents(self, doc_ids: Sequence[str]) -> Mapping[str, DocumentSummary]:
        # Whole rows, not summaries alone: the documents a request names it mostly reads next.
        return {doc_id: document_of_row(rows[0]) for doc_id, rows in self._rows_of(doc_ids).items()}

    def documents_with_text(self, doc_ids: Sequence[str]) -> Mapping[str, Document]:
        return {doc_id: document_with_text(document_of_row(rows[0]), rows) for doc_id, rows in self._rows_of(doc_ids).items()}

    def passage_of_chunk(self, chunk_id: str) -> Passage | None:
        pid = self._passages.pid_of_chunk(chunk_id)
        return None if pid is None else self._passages.passages_by_pid([pid]).get(pid)

    def passages_of(self, doc_id: str) -> Sequence[Passage]:
        rows = self._rows_of([doc_id]).get(doc_id, [])
        return sorted((passage_of_row(row) for row in rows), key=lambda passage: passage.ordinal)
