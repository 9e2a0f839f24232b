"""A collection is one directory: the SQLite store, derived FAISS and BM25 files, and a manifest.

SQLite is the source of truth. Every write to it is one transaction that also logs which passages
it added or removed under a new store version. The indexes change in memory with each write (only
the passages it touched) and are saved now and then: files under new names first, then the manifest
naming them, swapped in atomically, with the store version each index reflects. On open, an index
that is behind catches up from the store's log; one that cannot be read, or whose log is gone, is
rebuilt from the store. So a process killed at any moment leaves a collection that opens and answers.

Each request reads through one `snapshot()`: both indexes and the store as of one version, however
many changes land while it runs. Old versions go away with the last request holding them.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import functools
import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar, overload

import numpy as np

from qa.errors import DiskFullError, IndexNotBuiltError, ModelMismatchError
from qa.index.collection_reuse import CollectionReuse, EmbeddedReuseView
from qa.index.contract import Capabilities, ChunkingSettings, Reindexable
from qa.index.embedded_view import EmbeddedView
from qa.index.indexes import PassageIndex
from qa.index.lexical import LexicalIndex
from qa.index.manifest import MANIFEST, read_manifest, write_json_atomic
from qa.index.near_duplicates import NearDuplicateFinder
from qa.index.sentence_copy import SentenceCopy
from qa.index.store import PassageStore, StoreSnapshot
from qa.index.store_log import StoreChange
from qa.index.store_passages import StoredPassage
from qa.index.transaction import disk_writes
from qa.index.vector_index import VectorPassageIndex
from qa.text.name_pairs import NamePair
from qa.types import Document, DocumentSummary, Metadata, Passage, PassageFilter

log = logging.getLogger(__name__)

# 2: indexes in segments with tombstones, each recording its store version; a change log in the store.
FORMAT_VERSION = 2
STORE_FILE = "speechqa.sqlite"
LOCK_FILE = "speechqa.lock"

IndexT = TypeVar("IndexT", VectorPassageIndex, LexicalIndex)
Step = Callable[[], None]  # one change to an index, applied when the collection publishes it


def lower_thread_priority(by: int = 10) -> None:
    """Let requests have the CPU before this thread (background merges, uploads being embedded).

    On Linux every thread has its own niceness; elsewhere this does nothing.
    """
    if not hasattr(os, "setpriority"):
        return
    with contextlib.suppress(OSError):
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + by))


def release_freed_memory() -> None:
    """Hand the pages the C heap holds free back to the system (glibc's malloc_trim; elsewhere nothing).

    A merge frees arrays the size of an index; glibc keeps such pages, raising its threshold for mapping
    large blocks of their own, so each merge would leave the server that much larger until a later one
    reused them, which a long-running server shows as growth.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def rebuild_hint(directory: Path, model: str) -> str:
    return f"run `speechqa reindex --data {directory} --model {model}` to rebuild it with that model"


class Collection:
    """The embedded backend (qa.index.contract.Reindexable): a directory holding the store and the indexes derived from it."""

    # Passages are embedded a sentence at a time and scored by their best sentence (EmbeddedView.dense_scores),
    # documents' titles are embedded too (EmbeddedView.title_scores), and the BM25 vocabulary is in memory.
    capabilities = Capabilities(scores_sentences=True, scores_titles=True, knows_in_memory=True, finds_reuse=True)

    def __init__(self, directory: Path, model: str, chunking: ChunkingSettings | None = None) -> None:
        self.directory = directory
        self.model = model
        self.chunking = chunking or ChunkingSettings()
        self.store = PassageStore(directory / STORE_FILE)
        self.vectors: VectorPassageIndex | None = None
        self.lexical: LexicalIndex | None = None
        self.reuse = CollectionReuse(directory)
        self.sentences = SentenceCopy(directory)
        self._write_lock = threading.RLock()  # one change (or catch-up) at a time
        self._publish_lock = threading.Lock()  # a store commit and its index change look like one step
        self._save_lock = threading.Lock()
        self._maintenance: threading.Thread | None = None
        self._maintenance_lock = threading.Lock()
        self._dirty = False
        self._near: NearDuplicateFinder | None = None
        self._measure_wanted = False

    @classmethod
    def open(cls, directory: Path, model: str, *, create: bool = False, allow_model_change: bool = False) -> Collection:
        """Open the collection at `directory`; raise a clear error when it is missing or built with another model."""
        if directory.exists() and not directory.is_dir():
            raise IndexNotBuiltError(f"{directory} is a file, not a collection: a collection is a folder; name one "
                                     "that holds a collection, or a new folder to ingest into")
        if not (directory / STORE_FILE).exists():
            if not create:
                raise IndexNotBuiltError(
                    f"no collection at {directory}: run `speechqa ingest PATH --data {directory}` "
                    "(or `speechqa demo` for the sample speeches) to build one"
                )
            directory.mkdir(parents=True, exist_ok=True)
        manifest = read_manifest(directory)
        built_with = manifest.get("model")
        if built_with and built_with != model and not allow_model_change:
            raise ModelMismatchError(
                f"the collection at {directory} was built with model {built_with!r}, not {model!r}: "
                f"use --model {built_with}, or {rebuild_hint(directory, model)}"
            )
        if manifest.get("format_version", FORMAT_VERSION) > FORMAT_VERSION:
            raise ModelMismatchError(
                f"the collection at {directory} has format {manifest.get('format_version')}, this speechqa reads "
                f"up to {FORMAT_VERSION}: upgrade speechqa, or {rebuild_hint(directory, model)}"
            )
        # An older format (1: whole-collection indexes) is migrated on load: its indexes are rebuilt once.
        return cls(directory, model)

    def close(self) -> None:
        """Finish background work, save the indexes when they changed, close the store."""
        self.wait_for_maintenance()
        if self._dirty and self.vectors is not None:
            self._save_if_there_is_space()
        self.sentences.close()
        self.store.close()

    @property
    def manifest(self) -> dict:
        return read_manifest(self.directory)

    @property
    def location(self) -> str:
        return str(self.directory)

    def is_current(self) -> bool:
        """Whether the loaded indexes reflect the store's latest version."""
        vectors, lexical = self.vectors, self.lexical
        return vectors is not None and lexical is not None and \
            vectors.version == lexical.version == self.reuse.version == self.store.version

    # -- opening -----------------------------------------------------------------
    def load_indexes(self) -> None:
        """Load the saved indexes and bring them up to the store's version (rebuilding what cannot be read)."""
        with self._write_lock:
            manifest = self.manifest
            if manifest and manifest.get("format_version") != FORMAT_VERSION:
                log.warning("migrating %s from format %s: rebuilding its indexes from the store",
                            self.directory, manifest.get("format_version"))
            self.catch_up(from_memory=False)
            if self._dirty:
                self._save_if_there_is_space()  # a full disk must not stop the collection from opening

    def ensure_indexes(self) -> None:
        self._indexes()

    def _load_entry(self, cls: type[IndexT], entry: dict | None) -> IndexT | None:
        if not entry:
            return None
        try:
            return cls.load(self.directory, entry)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            # Derived files only: whatever happened to them, the store rebuilds them.
            log.warning("could not read %s index of %s (%s): rebuilding it from the store", cls.__name__, self.directory, exc)
            return None

    def catch_up(self, from_files: bool = True, from_memory: bool = True) -> None:
        """Bring each index to the store's version: from the change log, starting from the index in
        memory or else the one the manifest names (another process may have saved a newer one);
        rebuild it from the store when neither can be brought up. Until the new indexes are published,
        readers keep the ones in memory (once loaded, the indexes are replaced, never unset)."""
        with self._write_lock, self.store.snapshot() as view:
            manifest = self.manifest if from_files else {}
            if manifest.get("format_version") != FORMAT_VERSION or manifest.get("model") not in (None, self.model):
                manifest = {}
            vectors, vector_steps = self._next_index(
                VectorPassageIndex, self.vectors if from_memory else None, view, manifest.get("vectors"),
                lambda index, pids: _adding_vectors(view, self.model, index, pids), lambda: self._build_vectors(view))
            lexical, lexical_steps = self._next_index(
                LexicalIndex, self.lexical if from_memory else None, view, manifest.get("lexical"),
                lambda index, pids: functools.partial(index.add, *view.passage_tokens(pids), view.version),
                lambda: LexicalIndex.build(*view.passage_tokens(), view.version))
            reuse, reuse_steps = self.reuse.next_index(view, manifest.get("reuse"), from_memory)
            changed = vectors is not self.vectors or lexical is not self.lexical or reuse is not self.reuse.index or \
                bool(vector_steps or lexical_steps or reuse_steps)
            with self._publish_lock:
                for step in (*vector_steps, *lexical_steps, *reuse_steps):
                    step()
                self.vectors, self.lexical, self.reuse.index = vectors, lexical, reuse
            if changed:
                self._dirty = True
                self._near = None  # another process may have written: read the signatures again when needed
        self._schedule_maintenance()

    def _next_index(self, cls: type[IndexT], current: IndexT | None, view: StoreSnapshot, entry: dict | None,
                    adding: Callable[[IndexT, np.ndarray], Step | None],
                    built: Callable[[], IndexT]) -> tuple[IndexT, list[Step]]:
        """(index, changes to apply to it) that bring `current` or the saved index to `view.version`.

        `adding(index, pids)` is the step that adds those passages to the index (None when it cannot:
        the index is rebuilt then); `built()` builds the index from the store.
        """
        version = view.version

        def candidates() -> Iterator[IndexT]:
            if current is not None:
                yield current
            loaded = self._load_entry(cls, entry)
            if loaded is not None and (current is None or loaded.version > current.version):
                yield loaded

        for index in candidates():
            if index.version == version:
                return index, []
            changes = view.changes_since(index.version)
            add = None if changes is None else adding(index, changes.added)
            if changes is not None and add is not None:
                return index, [functools.partial(index.remove, changes.removed, version), add]
        return built(), []

    def _build_vectors(self, view: StoreSnapshot) -> VectorPassageIndex:
        n_passages = view.count_passages()
        index = VectorPassageIndex.build(np.empty(0, np.int64), [], view.version,
                                         blocks=view.passage_vectors(self.model), n_vectors=n_passages)
        if index.count() < n_passages:
            raise IndexNotBuiltError(
                f"{n_passages - index.count()} passages in {self.directory} have no vectors for {self.model}: "
                f"{rebuild_hint(self.directory, self.model)}"
            )
        return index

    def rebuild_indexes(self) -> None:
        """Rebuild both indexes from the store (after a model change) and save them."""
        with self._write_lock:
            self.catch_up(from_files=False, from_memory=False)
            self.save()

    def _indexes(self) -> tuple[VectorPassageIndex, LexicalIndex]:
        """Both indexes, loaded on first use (from then on they are replaced, never unset)."""
        if self.vectors is None or self.lexical is None:
            self.load_indexes()
        vectors, lexical = self.vectors, self.lexical
        assert vectors is not None and lexical is not None, "catch_up sets both indexes or raises"
        return vectors, lexical

    # -- changes -------------------------------------------------------------------
    def add_documents(self, items: Sequence[tuple[Document, Sequence[StoredPassage], bytes | None]],
                      vectors: dict[str, np.ndarray], fresh: Sequence[str] | None = None,
                      sentence_vectors: dict[str, np.ndarray] | None = None,
                      name_pairs: Mapping[str, Sequence[NamePair]] | None = None) -> StoreChange:
        """Write whole documents to the store and index their passages (and only theirs).

        `vectors` holds the vector of every passage by embed hash; `fresh` names those the store does
        not hold yet (all of them when None); `sentence_vectors` the sentence vectors of fresh ones;
        `name_pairs` the pairs each document states, by doc id.
        """
        def passages_of(written: Sequence[tuple[Document, Sequence[StoredPassage], bytes | None]]
                        ) -> tuple[np.ndarray | None, list[list[str]]]:
            passages = [stored for _, batch, _ in written for stored in batch]
            matrix = np.vstack([vectors[s.embed_hash] for s in passages]).astype(np.float32) if passages else None
            return matrix, [s.tokens.split(" ") if s.tokens else [] for s in passages]

        with self._write_lock:
            vector_index, lexical_index = self._indexes()
            matrix, tokens = passages_of(items)
            new = vectors if fresh is None else {key: vectors[key] for key in fresh}
            with self._publish_lock:
                change = self.store.add_documents(items, new, self.model, sentence_vectors, name_pairs)
                written = [item for item in items if item[0].doc_id not in change.already_stored]
                if len(written) < len(items):  # another writer stored some of them first
                    matrix, tokens = passages_of(written)
                in_step = _in_step(change, vector_index, lexical_index) and self.reuse.version == change.version - 1
                if in_step and matrix is not None:
                    vector_index.add(change.added, matrix, change.version)
                    lexical_index.add(change.added, tokens, change.version)
                    self.reuse.add(written, change)
            if self._near is not None:
                for document, _, shingles in written:
                    if shingles is not None:
                        self._near.add(document.doc_id, np.frombuffer(shingles, dtype=np.uint64))
            self._dirty = True
            if not in_step or matrix is None:
                self.catch_up()
            self._schedule_maintenance()
            return change

    def remove_document(self, doc_id: str) -> bool:
        """Remove a document from the store and its passages from the indexes; False when there is none."""
        with self._write_lock:
            vectors, lexical = self._indexes()
            with self._publish_lock:
                change = self.store.remove_document(doc_id)
                if change is None:
                    return False
                in_step = _in_step(change, vectors, lexical) and self.reuse.version == change.version - 1
                if in_step:
                    vectors.remove(change.removed, change.version)
                    lexical.remove(change.removed, change.version)
                    self.reuse.remove(change)
            if self._near is not None:
                self._near.remove(doc_id)
            self._dirty = True
            if not in_step:
                self.catch_up()
            self._schedule_maintenance()
            return True

    def near_duplicates(self) -> NearDuplicateFinder:
        """Signatures of every stored document, read from the store once and then kept in step."""
        with self._write_lock:
            if self._near is None:
                near = NearDuplicateFinder()
                for doc_id, blob in self.store.iter_shingles():
                    near.add(doc_id, np.frombuffer(blob, dtype=np.uint64))
                self._near = near
            return self._near

    # -- reading -------------------------------------------------------------------
    @contextlib.contextmanager
    def snapshot(self) -> Iterator[EmbeddedView]:
        """Indexes and store as of one version, for one request: `with collection.snapshot() as view:`."""
        self._indexes()  # loads them on first use, outside the lock that publishing takes
        for attempt in range(2):
            with self._publish_lock:
                vectors, lexical = self._indexes()
                reuse = self.reuse.reader()
                store_view = self.store.snapshot()
                store = store_view.__enter__()
            if attempt == 0 and not (vectors.version == lexical.version == reuse.version == store.version):
                # Another process changed the store: catch up from its log, then look again.
                store_view.__exit__(None, None, None)
                self.catch_up()
                continue
            break
        try:
            yield EmbeddedView(store, vectors.reader(store), lexical.reader(store), self.model, reuse, self.sentences.current())
        finally:
            store_view.__exit__(None, None, None)

    def prepare_reuse(self) -> None:
        return None  # the reuse index is loaded with the other indexes

    def prepare_searches(self) -> None:
        """Copy the sentence vectors where requests read them fastest (qa.index.sentence_copy), in the background."""
        if (dim := self._indexes()[0].dim) is not None:
            self.sentences.start(self.store.snapshot, self.model, dim, lower_thread_priority)

    @contextlib.contextmanager
    def reuse_snapshot(self) -> Iterator[EmbeddedReuseView]:
        """The reuse index and the store as of one version, for one reuse request."""
        with self.snapshot() as view:
            yield EmbeddedReuseView(view.reuse, view.store, self.store)

    def stats(self) -> dict:
        """What /healthz reports. An approximate index's recall is measured again in the background when
        enough changed since (only when asked: a CLI ingest has no use for it)."""
        vectors, lexical = self._indexes()
        if vectors.remeasure_due():
            self._schedule_maintenance(measure=True)
        vector_stats = vectors.stats()
        return {"index": vector_stats["kind"], "recall_at_10": vector_stats.get("recall_at_10"),
                "tombstones": vector_stats.get("tombstones", 0), "lexical_segments": lexical.segment_count,
                "version": vectors.version}

    # -- records: the store's, for the collection's model ------------------------------
    def get_document(self, doc_id: str) -> Document | None:
        return self.store.get_document(doc_id)

    @overload
    def get_documents(self, doc_ids: Iterable[str], with_text: Literal[True]) -> dict[str, Document]: ...

    @overload
    def get_documents(self, doc_ids: Iterable[str], with_text: Literal[False] = False) -> dict[str, DocumentSummary]: ...

    def get_documents(self, doc_ids: Iterable[str], with_text: bool = False) -> Mapping[str, DocumentSummary]:
        return self.store.get_documents(doc_ids, True) if with_text else self.store.get_documents(doc_ids)

    def passage(self, chunk_id: str) -> Passage | None:
        pid = self.store.pid_of_chunk(chunk_id)
        return self.store.passages_by_pid([pid]).get(pid) if pid is not None else None

    def passages_of(self, doc_id: str) -> list[Passage]:
        return self.store.passages_of(doc_id)

    def list_documents(self, offset: int = 0, limit: int = 50) -> list[tuple[DocumentSummary, int]]:
        return self.store.list_documents(offset, limit)

    def count_documents(self) -> int:
        return self.store.count_documents()

    def count_passages(self) -> int:
        return self.store.count_passages()

    def speakers(self) -> frozenset[str]:
        return self.store.speakers()

    def name_pair_counts(self) -> dict[NamePair, int]:
        return self.store.name_pair_counts()

    def phrase_candidates(self, folded_phrase: str, where: PassageFilter) -> dict[str, Document]:
        return self.store.phrase_candidates(folded_phrase, where)

    def find_by_hash(self, content_hash: str) -> str | None:
        return self.store.find_by_hash(content_hash)

    def titles_without_vectors(self, titles: Iterable[str] | None = None) -> list[str]:
        return self.store.titles_without_vectors(self.model, titles)

    def derived_version(self) -> int | None:
        return int(self.store.get_meta("derived_version") or 0)

    def set_derived_version(self, version: int) -> None:
        self.store.set_meta("derived_version", str(version))

    def add_source(self, doc_id: str, source: str) -> bool:
        return self.store.add_source(doc_id, source)

    def known_vectors(self, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        return self.store.known_vectors(self.model, hashes)

    def put_title_vectors(self, vectors: Mapping[str, np.ndarray]) -> None:
        self.store.put_title_vectors(self.model, vectors)

    def all_document_ids(self) -> list[str]:
        return self.store.all_document_ids()

    def passage_texts_of(self, doc_id: str) -> list[tuple[int, str]]:
        return self.store.passage_texts_of(doc_id)

    def refresh_derived(self, updates: Sequence[tuple[str, Metadata, dict[int, str]]],
                        name_pairs: Mapping[str, Sequence[NamePair]] | None = None) -> int:
        return self.store.refresh_derived(updates, name_pairs)

    def passages_missing_vectors(self) -> list[tuple[str, str]]:
        return self.store.passages_missing_vectors(self.model)

    def passages_missing_sentence_vectors(self) -> list[tuple[str, str]]:
        return self.store.passages_missing_sentence_vectors(self.model)

    def put_vectors(self, vectors: dict[str, np.ndarray]) -> None:
        self.store.put_vectors(self.model, vectors)

    def put_sentence_vectors(self, vectors: dict[str, np.ndarray]) -> None:
        self.store.put_sentence_vectors(self.model, vectors)

    # -- background work and files -----------------------------------------------------
    def _schedule_maintenance(self, measure: bool = False) -> None:
        self._measure_wanted = self._measure_wanted or measure
        due = any(index is not None and index.needs_maintenance() for index in (self.vectors, self.lexical))
        if not (measure or due or self.reuse.needs_maintenance()):
            return
        with self._maintenance_lock:
            if self._maintenance is not None and self._maintenance.is_alive():
                return
            self._maintenance = threading.Thread(target=self._maintain, name="speechqa-merge", daemon=True)
            self._maintenance.start()

    def _maintain(self) -> None:
        from qa.index.faiss_index import use_single_thread

        use_single_thread()  # a merge must leave the other core to requests
        lower_thread_priority()
        for _ in range(16):  # each pass merges what was due when it started
            due: list[PassageIndex | CollectionReuse] = [
                index for index in (self.vectors, self.lexical) if index is not None and index.needs_maintenance()]
            if self.reuse.needs_maintenance():
                due.append(self.reuse)
            if not due:
                break
            for index in due:
                index.maintain()
            saved = self._save_if_there_is_space()
            release_freed_memory()
            if not saved:
                break
        if self._measure_wanted and self.vectors is not None and self.vectors.remeasure_due():
            self._measure_wanted = False
            self.vectors.measure()

    def wait_for_maintenance(self) -> None:
        thread = self._maintenance
        if thread is not None:
            thread.join()

    def save(self) -> None:
        """Write both indexes under new names, swap the manifest in, then drop files nothing names."""
        with self._save_lock, open(self.directory / LOCK_FILE, "a") as lock:
            # Another process (an ingest beside a server) saves under the same lock.
            fcntl.flock(lock, fcntl.LOCK_EX)
            vectors, lexical = self.vectors, self.lexical
            if vectors is None or lexical is None:
                return
            self._dirty = False
            try:
                with disk_writes(self.directory):
                    vector_entry, lexical_entry, reuse_entry = self._write_indexes(vectors, lexical)
            except BaseException:
                self._dirty = True
                # What this save wrote before it failed is named by no manifest: its space goes back.
                manifest = self.manifest
                self._remove_stale_files({name for part in ("vectors", "lexical", "reuse")
                                          for name in (manifest.get(part) or {}).get("files", ())})
                raise
            saved = [vector_entry["version"], lexical_entry["version"]] + ([reuse_entry["version"]] if reuse_entry else [])
            with self._write_lock, contextlib.suppress(DiskFullError):  # a longer change log costs nothing
                self.store.forget_changes(min(saved))
            self._remove_stale_files(set(vector_entry["files"]) | set(lexical_entry["files"]) |
                                     set(reuse_entry["files"] if reuse_entry else ()))

    def _save_if_there_is_space(self) -> bool:
        """Save the indexes; on a full disk say so and keep them in memory (the store holds every change, so
        the next save, or the next start, brings the saved ones up to date). Whether they were saved."""
        try:
            self.save()
        except DiskFullError as exc:
            log.warning("%s: the indexes stay unsaved until then", exc)
            return False
        return True

    def _write_indexes(self, vectors: VectorPassageIndex, lexical: LexicalIndex) -> tuple[dict, dict, dict | None]:
        vector_entry = vectors.save(self.directory)
        lexical_entry = lexical.save(self.directory)
        reuse_entry = self.reuse.save()
        saved = [vector_entry["version"], lexical_entry["version"]] + ([reuse_entry["version"]] if reuse_entry else [])
        write_json_atomic(self.directory / MANIFEST, {
            "format_version": FORMAT_VERSION,
            "model": self.model,
            "dim": vector_entry.get("dim"),
            "chunking": self.chunking.__dict__,
            "documents": self.store.count_documents(),
            "passages": vector_entry["passages"],
            "index": vector_entry["kind"],
            "recall_at_10": vector_entry.get("recall_at_10"),
            "store_version": min(saved),
            "vectors": vector_entry,
            "lexical": lexical_entry,
            "reuse": reuse_entry,
        })
        return vector_entry, lexical_entry, reuse_entry

    def _remove_stale_files(self, keep: set[str]) -> None:
        def remove(entry: Path) -> None:
            with contextlib.suppress(OSError):
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()

        for entry in self.directory.iterdir():
            name = entry.name
            if name in keep or name.startswith(STORE_FILE):
                continue
            if name.startswith(("vectors-", "lexical-")) or name.endswith(".tmp"):
                remove(entry)  # includes the whole-collection files of format 1
        lexical_dir = self.directory / "lexical"
        if lexical_dir.is_dir():
            for entry in lexical_dir.iterdir():
                if f"lexical/{entry.name}" not in keep:
                    remove(entry)
        for entry in self.reuse.stale_files(keep):
            remove(entry)


def _in_step(change: StoreChange, *indexes: PassageIndex) -> bool:
    """Whether the indexes were at the version just before this change (another process may have written)."""
    return all(index.version == change.version - 1 for index in indexes)


def _adding_vectors(view: StoreSnapshot, model: str, index: VectorPassageIndex, pids: np.ndarray) -> Step | None:
    """The step that adds these passages' stored vectors to the index, or None when some have no vector
    or another dimension (rebuild then)."""
    dim = index.dim
    blocks = list(view.passage_vectors(model, pids))
    found = np.concatenate([ids for ids, _ in blocks]) if blocks else np.empty(0, np.int64)
    if len(found) < len(pids):
        return None
    vectors = np.vstack([v for _, v in blocks]) if blocks else np.empty((0, dim or 1), np.float32)
    if blocks and dim is not None and vectors.shape[1] != dim:
        return None
    return functools.partial(index.add, found, vectors, view.version)


if TYPE_CHECKING:  # mypy checks here that the embedded collection honours the whole contract
    _honours_contract: type[Reindexable] = Collection
