"""A collection is one directory: the SQLite store, derived FAISS and BM25 files, and a manifest.

The manifest names the index files that match a given store version. Index files are
written under new names first and the manifest is swapped in atomically afterwards, so a
process killed at any point leaves a manifest that points at complete files; when the
store has moved on since (a crash between the two), the indexes are rebuilt from the store.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embeddings.vector_index import VectorIndex
from qa.errors import IndexNotBuiltError, ModelMismatchError
from qa.lexical import LexicalIndex
from qa.store import PassageStore

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
STORE_FILE = "speechqa.sqlite"


@dataclass(frozen=True)
class ChunkingSettings:
    min_chars: int = 150
    target_chars: int = 400
    max_chars: int = 600
    overlap_sentences: int = 1


def read_manifest(directory: Path) -> dict:
    path = directory / MANIFEST
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def rebuild_hint(directory: Path, model: str) -> str:
    return f"run `speechqa reindex --data {directory} --model {model}` to rebuild it with that model"


class Collection:
    def __init__(self, directory: Path, model: str, chunking: ChunkingSettings | None = None) -> None:
        self.directory = directory
        self.model = model
        self.chunking = chunking or ChunkingSettings()
        self.store = PassageStore(directory / STORE_FILE)
        self.vectors: VectorIndex | None = None
        self.lexical: LexicalIndex | None = None
        self.loaded_version = -1
        self._lock = threading.Lock()

    @classmethod
    def open(cls, directory: Path, model: str, *, create: bool = False, allow_model_change: bool = False) -> Collection:
        """Open the collection at `directory`; raise a clear error when it is missing or built with another model."""
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
        if manifest and manifest.get("format_version") != FORMAT_VERSION:
            raise ModelMismatchError(
                f"the collection at {directory} has format {manifest.get('format_version')}, this speechqa reads "
                f"{FORMAT_VERSION}: {rebuild_hint(directory, model)}"
            )
        return cls(directory, model)

    def close(self) -> None:
        self.store.close()

    @property
    def manifest(self) -> dict:
        return read_manifest(self.directory)

    def is_current(self) -> bool:
        return self.manifest.get("store_version") == self.store.version

    def load_indexes(self) -> None:
        """Load the index files the manifest names; rebuild them when the store has moved on (after a crash)."""
        manifest = self.manifest
        if manifest.get("store_version") != self.store.version or not manifest.get("vector_file"):
            self.rebuild_indexes(dim=manifest.get("dim"))
            return
        with self._lock:
            self.vectors = VectorIndex.load(self.directory / manifest["vector_file"])
            self.lexical = LexicalIndex.load(self.directory / manifest["lexical_dir"])
            self.loaded_version = manifest["store_version"]

    def rebuild_indexes(self, dim: int | None) -> None:
        """Rebuild FAISS and BM25 from the store and swap them in (files first, then the manifest)."""
        store = self.store
        version = store.version
        n_passages = store.count_passages()
        if dim is None:
            first = next(store.iter_passage_vectors(self.model, batch=1), None)
            if first is None and n_passages:
                raise IndexNotBuiltError(f"passages in {self.directory} have no vectors for {self.model}: {rebuild_hint(self.directory, self.model)}")
            dim = first[1].shape[1] if first is not None else 0
        vectors = VectorIndex.build(dim or 1, store.iter_passage_vectors(self.model), n_passages)
        if len(vectors) < n_passages:
            raise IndexNotBuiltError(
                f"{n_passages - len(vectors)} passages in {self.directory} have no vectors for {self.model}: "
                f"{rebuild_hint(self.directory, self.model)}"
            )
        pids, token_lists = [], []
        for pid, tokens in store.iter_passage_tokens():
            pids.append(pid)
            token_lists.append(tokens.split(" ") if tokens else [])
        lexical = LexicalIndex.build(pids, token_lists)

        recall = 1.0
        if vectors.kind != "flat":
            # An approximate index reports how much of the exact top 10 it finds, for 200 stored passages.
            pids = store.passage_ids()
            recall = vectors.recall_at_10(np.random.default_rng(version).choice(pids, size=min(200, len(pids)), replace=False))
        vector_file = f"vectors-{version}.faiss"
        lexical_dir = f"lexical-{version}"
        vectors.save(self.directory / vector_file)
        lexical.save(self.directory / lexical_dir)
        _write_json_atomic(
            self.directory / MANIFEST,
            {
                "format_version": FORMAT_VERSION,
                "model": self.model,
                "dim": dim,
                "chunking": self.chunking.__dict__,
                "documents": store.count_documents(),
                "passages": n_passages,
                "index": vectors.kind,
                "recall_at_10": round(recall, 4),
                "vector_file": vector_file,
                "lexical_dir": lexical_dir,
                "store_version": version,
            },
        )
        with self._lock:
            self.vectors, self.lexical, self.loaded_version = vectors, lexical, version
        self._remove_stale_files(keep={vector_file, lexical_dir, STORE_FILE, MANIFEST})

    def _remove_stale_files(self, keep: set[str]) -> None:
        for entry in self.directory.iterdir():
            name = entry.name
            if name in keep or name.startswith(STORE_FILE):
                continue
            if name.startswith(("vectors-", "lexical-")) or name.endswith(".tmp"):
                with contextlib.suppress(OSError):
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
