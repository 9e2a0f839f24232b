"""The embedded collection's reuse index: kept at the store's version beside the other indexes, read by reuse requests.

The collection (qa.index.collection) calls this where it changes, catches up, saves and snapshots its
other indexes, so the reuse index follows every upload and deletion without a rebuild, is saved under
new names with the manifest naming it, and after a crash catches up from the store's change log (or is
rebuilt from the store when its files are missing or of another format).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from qa.index.reuse_index import FOLDER, IndexedDocument, ReuseIndex, ReuseReader, catch_up_plan
from qa.index.store import PassageStore, StoreSnapshot
from qa.index.store_log import StoreChange
from qa.index.store_passages import StoredPassage
from qa.types import Document, DocumentSummary, Passage, PassageFilter


class CollectionReuse:
    """The reuse index of one collection directory, loaded with the collection's other indexes."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.index: ReuseIndex | None = None

    @property
    def version(self) -> int | None:
        return None if self.index is None else self.index.version

    def next_index(self, view: StoreSnapshot, entry: dict | None,
                   from_memory: bool) -> tuple[ReuseIndex, list[Callable[[], None]]]:
        """(index, changes to apply when the collection publishes) that bring the index to ``view``'s version."""
        return catch_up_plan(self.index if from_memory else None, self.directory, entry, view)

    def add(self, items: Sequence[tuple[Document, Sequence[StoredPassage], bytes | None]], change: StoreChange) -> None:
        """Index the documents of a store write, their pids as the write gave them (in the order of ``items``)."""
        assert self.index is not None, "the collection loads its indexes before it changes them"
        documents, at = [], 0
        for document, passages, _ in items:
            if passages:  # a document without passages has nothing to cite, and no pids to be removed by
                documents.append(IndexedDocument(document.doc_id, document.text, int(change.added[at]),
                                                 int(change.added[at + len(passages) - 1])))
            at += len(passages)
        self.index.add(documents, change.version)

    def remove(self, change: StoreChange) -> None:
        assert self.index is not None, "the collection loads its indexes before it changes them"
        self.index.remove(change.removed, change.version)

    def reader(self) -> ReuseReader:
        assert self.index is not None, "the collection loads its indexes before a snapshot"
        return self.index.reader()

    def needs_maintenance(self) -> bool:
        return self.index is not None and self.index.needs_maintenance()

    def maintain(self) -> None:
        if self.index is not None:
            self.index.maintain()

    def save(self) -> dict | None:
        """The manifest entry of the index saved under new names (None before it is loaded)."""
        return None if self.index is None else self.index.save(self.directory)

    def stale_files(self, keep: set[str]) -> list[Path]:
        """Files of the reuse folder that no manifest entry in ``keep`` names."""
        folder = self.directory / FOLDER
        if not folder.is_dir():
            return []
        return [entry for entry in folder.iterdir() if f"{FOLDER}/{entry.name}" not in keep]


class EmbeddedReuseView:
    """What one reuse request reads (qa.index.contract.ReuseView): the reuse index and the store as of one
    version (``snapshot``), and the texts and passages of the documents it names (``records``)."""

    def __init__(self, reuse: ReuseReader, snapshot: StoreSnapshot, records: PassageStore) -> None:
        self.reuse = reuse
        self._snapshot = snapshot
        self._records = records

    def filtered_pids(self, where: PassageFilter) -> np.ndarray:
        return self._snapshot.filtered_pids(where)

    def documents(self, doc_ids: Sequence[str]) -> Mapping[str, DocumentSummary]:
        return self._snapshot.documents(doc_ids)

    def documents_with_text(self, doc_ids: Sequence[str]) -> Mapping[str, Document]:
        return self._records.get_documents(doc_ids, with_text=True)

    def passage_of_chunk(self, chunk_id: str) -> Passage | None:
        pid = self._records.pid_of_chunk(chunk_id)
        return None if pid is None else self._records.passages_by_pid([pid]).get(pid)

    def passages_of(self, doc_id: str) -> Sequence[Passage]:
        return self._records.passages_of(doc_id)
