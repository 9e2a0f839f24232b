"""The store's vectors: each passage text's by embed hash, its sentences', and document titles'."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence

import numpy as np

from qa.index.store_connections import StoreConnections, in_batches, marks
from qa.index.transaction import write_transaction

_PASSAGE_VECTORS = "SELECT p.pid, e.vector FROM passages p JOIN embeddings e ON e.model = ? AND e.embed_hash = p.embed_hash"


def title_key(title: str) -> str:
    """Where a document title's vector is kept in the embeddings table ("t-" keeps it apart from the
    passages' text hashes). Documents of one title share it."""
    return "t-" + hashlib.sha1(title.encode("utf-8")).hexdigest()


def insert_vectors(db: sqlite3.Connection, model: str, vectors: Mapping[str, np.ndarray]) -> None:
    db.executemany(
        "INSERT OR IGNORE INTO embeddings(model, embed_hash, vector) VALUES (?,?,?)",
        [(model, key, np.asarray(vec, dtype=np.float32).tobytes()) for key, vec in vectors.items()],
    )


def insert_sentence_vectors(db: sqlite3.Connection, model: str, sentence_vectors: Mapping[str, np.ndarray]) -> None:
    """Each passage text's sentence vectors, one float16 row a sentence."""
    db.executemany(
        "INSERT OR IGNORE INTO sentence_vectors(model, embed_hash, vectors) VALUES (?,?,?)",
        [(model, key, np.asarray(rows, dtype=np.float16).tobytes()) for key, rows in sentence_vectors.items()],
    )


def read_title_vectors(db: sqlite3.Connection, model: str, titles: Iterable[str]) -> dict[str, np.ndarray]:
    """The vectors of those of `titles` that have one for `model`."""
    by_key = {title_key(title): title for title in titles}
    out: dict[str, np.ndarray] = {}
    for chunk in in_batches(list(by_key)):
        for key, blob in db.execute(
            f"SELECT embed_hash, vector FROM embeddings WHERE model = ? AND embed_hash IN ({marks(chunk)})",
            [model, *chunk],
        ):
            out[by_key[key]] = np.frombuffer(blob, dtype=np.float32)
    return out


_SENTENCE_BLOBS = ("SELECT p.pid, s.vectors FROM passages p "
                   "JOIN sentence_vectors s ON s.model = ? AND s.embed_hash = p.embed_hash")


def read_sentence_blobs(db: sqlite3.Connection, model: str, pids: Sequence[int] | None) -> Iterator[tuple[int, bytes]]:
    """(pid, float16 rows as stored) of those of `pids` (every passage when None, in pid order) that have
    sentence vectors for `model`; each batch of `pids` in ascending order, as SQLite walks rowids."""
    if pids is None:
        yield from db.execute(_SENTENCE_BLOBS + " ORDER BY p.pid", (model,))
        return
    for chunk in in_batches([int(p) for p in pids]):
        yield from db.execute(_SENTENCE_BLOBS + f" WHERE p.pid IN ({marks(chunk)})", [model, *chunk])


def read_passage_vectors(db: sqlite3.Connection, model: str, pids: np.ndarray | None = None,
                    batch: int = 20000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(pids, float32 vectors) blocks of these passages (every one when None), in pid order; a passage
    without a vector for `model` is left out."""
    if pids is None:
        blocks: Iterable[list[int] | None] = [None]
    else:
        blocks = in_batches(sorted(int(p) for p in pids))
    for chunk in blocks:
        if chunk is None:
            cursor = db.execute(_PASSAGE_VECTORS + " ORDER BY p.pid", (model,))
        else:
            cursor = db.execute(_PASSAGE_VECTORS + f" WHERE p.pid IN ({marks(chunk)}) ORDER BY p.pid", [model, *chunk])
        while rows := cursor.fetchmany(batch):
            yield (np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows)),
                   np.vstack([np.frombuffer(row[1], dtype=np.float32) for row in rows]))


class VectorRecords(StoreConnections):
    def known_vectors(self, model: str, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for chunk in in_batches(list(dict.fromkeys(hashes))):
            for key, blob in self._db.execute(
                f"SELECT embed_hash, vector FROM embeddings WHERE model = ? AND embed_hash IN ({marks(chunk)})",
                [model, *chunk],
            ):
                out[key] = np.frombuffer(blob, dtype=np.float32)
        return out

    def known_sentence_vectors(self, model: str, hashes: Iterable[str], dim: int) -> dict[str, np.ndarray]:
        """The sentence vectors held for these embed hashes: float32 (sentences, dim) each."""
        out: dict[str, np.ndarray] = {}
        for chunk in in_batches(list(dict.fromkeys(hashes))):
            for key, blob in self._reader().execute(
                f"SELECT embed_hash, vectors FROM sentence_vectors WHERE model = ? AND embed_hash IN ({marks(chunk)})",
                [model, *chunk],
            ):
                out[key] = np.frombuffer(blob, dtype=np.float16).astype(np.float32).reshape(-1, dim)
        return out

    def put_sentence_vectors(self, model: str, sentence_vectors: dict[str, np.ndarray]) -> None:
        with write_transaction(self._db):
            insert_sentence_vectors(self._db, model, sentence_vectors)

    def put_title_vectors(self, model: str, vectors: Mapping[str, np.ndarray]) -> None:
        """Vectors of document titles; no index holds them, so the store version stays."""
        with write_transaction(self._db):
            insert_vectors(self._db, model, {title_key(title): vector for title, vector in vectors.items()})

    def title_vectors(self, model: str, titles: Iterable[str]) -> dict[str, np.ndarray]:
        """The vectors of those of `titles` that have one for `model`."""
        return read_title_vectors(self._reader(), model, titles)

    def titles_without_vectors(self, model: str, titles: Iterable[str] | None = None) -> list[str]:
        """Those of `titles` (default: every document's) the model has no vector for, each once."""
        if titles is None:
            titles = [row[0] for row in self._reader().execute("SELECT DISTINCT title FROM documents WHERE title != ''")]
        wanted = list(dict.fromkeys(title for title in titles if title))
        known = read_title_vectors(self._reader(), model, wanted)
        return [title for title in wanted if title not in known]

    def iter_passage_vectors(self, model: str, batch: int = 20000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(pids, vectors) blocks for every passage, in pid order; a passage without a vector is skipped."""
        return read_passage_vectors(self._db, model, None, batch)

    def passages_missing_sentence_vectors(self, model: str) -> list[tuple[str, str]]:
        """(embed_hash, text) of passages with a vector but no sentence vectors (stored before them)."""
        return self._db.execute(
            "SELECT p.embed_hash, p.text FROM passages p JOIN embeddings e ON e.model = ? AND e.embed_hash = p.embed_hash "
            "LEFT JOIN sentence_vectors s ON s.model = e.model AND s.embed_hash = p.embed_hash "
            "WHERE s.embed_hash IS NULL GROUP BY p.embed_hash",
            (model,),
        ).fetchall()

    def passages_missing_vectors(self, model: str) -> list[tuple[str, str]]:
        """(embed_hash, text) of passages the model has no vector for yet."""
        return self._db.execute(
            "SELECT p.embed_hash, p.text FROM passages p LEFT JOIN embeddings e "
            "ON e.model = ? AND e.embed_hash = p.embed_hash WHERE e.embed_hash IS NULL GROUP BY p.embed_hash",
            (model,),
        ).fetchall()
