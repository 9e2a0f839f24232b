"""A segment of the reuse index: documents' reuse forms laid end to end, and their fingerprints sorted by hash.

qa.index.reuse_index says what the index is for and why it finds every shared run; this module holds
the lengths it works with and the immutable segment it is made of.
"""

from __future__ import annotations

import functools
import json
import os
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.text.fingerprints import reuse_codes, winnow

# The shortest shared run that counts as reuse, in reuse-form characters; docs/evaluation.md ("Text
# reuse") says how it was chosen: long stock formulations stay below it, copied sentences reach it.
MIN_RUN = 40
# Longer grams make fewer documents share a fingerprint by chance; a longer window, fewer fingerprints.
GRAM = 24
WINDOW = MIN_RUN - GRAM + 1
# What the files hold; an index saved in another format (or with other lengths) is rebuilt from the store.
FORMAT = 1


@dataclass(frozen=True)
class Lengths:
    """The lengths an index is built with: every shared run of ``min_run`` characters shares a fingerprint."""

    gram: int = GRAM
    window: int = WINDOW

    @property
    def min_run(self) -> int:
        return self.gram + self.window - 1

    def fingerprints(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(hashes, starts) of a reuse form's winnowed fingerprints."""
        return winnow(np.asarray(codes, dtype=np.uint32), self.gram, self.window)
# Characters compared per step of a check, and candidates checked at once (bounds the temporary arrays).
BLOCK = 32
BATCH = 16_384
SEGMENT_ARRAYS = ("first_pids", "last_pids", "starts", "codes", "astral", "hashes", "places", "owners")
# Codes are kept in two bytes: a character beyond the Basic Multilingual Plane (an extension B ideograph, say) is
# kept as one of these slots (surrogate code points, which no reuse form holds), named by the segment's `astral`.
ASTRAL_BASE = 0xD800
ASTRAL_SLOTS = 0x800


@dataclass(frozen=True)
class IndexedDocument:
    """What the index reads of one stored document: its id, its text and the pids of its passages."""

    doc_id: str
    text: str
    first_pid: int
    last_pid: int


@dataclass(frozen=True)
class DocumentRuns:
    """The runs of at least the minimum length that a text shares with one document.

    ``runs`` rows are (start in the text, start in the document, length), in reuse-form characters
    (qa.text.fingerprints.ReuseForm maps them back to offsets), sorted; each is a maximal run.
    """

    doc_id: str
    first_pid: int
    runs: np.ndarray  # int64 (k, 3)

    @property
    def longest(self) -> int:
        return int(self.runs[:, 2].max())


class ReuseSegment:
    """Immutable: documents' reuse forms laid end to end, and their fingerprints sorted by hash.

    Document row r holds ``codes[starts[r]:starts[r+1]]`` (as ``stored`` writes them); fingerprint i is
    ``hashes[i]``, found at ``places[i]`` (an offset into ``codes``) in document row ``owners[i]``.
    """

    def __init__(self, name: str, doc_ids: Sequence[str], first_pids: np.ndarray, last_pids: np.ndarray,
                 starts: np.ndarray, codes: np.ndarray, astral: np.ndarray, hashes: np.ndarray, places: np.ndarray,
                 owners: np.ndarray) -> None:
        self.name = name
        self.doc_ids = list(doc_ids)
        self.first_pids, self.last_pids, self.starts = first_pids, last_pids, starts
        self.codes, self.astral = codes, astral
        self.hashes, self.places, self.owners = hashes, places, owners
        self.rows = {doc_id: row for row, doc_id in enumerate(self.doc_ids)}

    def __len__(self) -> int:
        return len(self.doc_ids)

    @functools.cached_property
    def doc_id_ranks(self) -> np.ndarray:
        """Each row's place among the segment's doc ids in sorted order (the top list's tie-break)."""
        ranks = np.empty(len(self.doc_ids), dtype=np.int64)
        ranks[np.argsort(np.asarray(self.doc_ids, dtype=str), kind="stable")] = np.arange(len(self.doc_ids))
        return ranks

    @classmethod
    def from_documents(cls, documents: Iterable[IndexedDocument], lengths: Lengths) -> ReuseSegment:
        """A segment of these documents (in pid order whatever order they come in)."""
        chosen = sorted(documents, key=lambda d: d.first_pid)
        forms = [reuse_codes(document.text) for document in chosen]
        starts = np.zeros(len(chosen) + 1, dtype=np.int64)
        np.cumsum([len(codes) for codes in forms], out=starts[1:])
        hashes, places, owners = [], [], []
        for row, codes in enumerate(forms):
            found, at = lengths.fingerprints(codes)
            hashes.append(found)
            places.append(at + starts[row])
            owners.append(np.full(len(found), row, dtype=np.int32))
        joined = np.concatenate(forms) if forms else np.empty(0, dtype=np.uint32)
        return cls._assemble([d.doc_id for d in chosen], np.array([d.first_pid for d in chosen], dtype=np.int64),
                             np.array([d.last_pid for d in chosen], dtype=np.int64), starts, joined,
                             concat(hashes, np.uint64), concat(places, np.int64), concat(owners, np.int32))

    @classmethod
    def _assemble(cls, doc_ids: list[str], first_pids: np.ndarray, last_pids: np.ndarray, starts: np.ndarray,
                  codes: np.ndarray, hashes: np.ndarray, places: np.ndarray, owners: np.ndarray) -> ReuseSegment:
        order = np.lexsort((places, hashes))
        offsets = np.uint32 if len(codes) < 1 << 32 else np.int64
        kept, astral = _stored(codes)
        return cls(f"seg-{uuid.uuid4().hex[:12]}", doc_ids, first_pids, last_pids, starts, kept, astral,
                   hashes[order], places[order].astype(offsets), owners[order].astype(np.int32))

    def decoded(self, start: int, end: int) -> np.ndarray:
        """The reuse-form codes (uint32) of ``codes[start:end]``."""
        codes = np.asarray(self.codes[start:end]).astype(np.uint32)
        if len(self.astral):
            slot = (codes >= ASTRAL_BASE) & (codes < ASTRAL_BASE + len(self.astral))
            codes[slot] = np.asarray(self.astral)[codes[slot] - ASTRAL_BASE]
        return codes

    def encoded(self, codes: np.ndarray) -> np.ndarray:
        """A text's reuse-form codes as this segment stores characters, to compare with ``codes``: a character
        beyond the BMP that no document of the segment holds becomes 0, which matches nothing."""
        codes = np.asarray(codes, dtype=np.uint32)
        high = codes >= 1 << 16
        if self.codes.dtype == np.uint32 or not high.any():
            return codes
        out = codes.copy()
        astral = np.asarray(self.astral)
        at = np.minimum(np.searchsorted(astral, codes[high]), max(len(astral) - 1, 0))
        held = astral[at] == codes[high] if len(astral) else np.zeros(int(high.sum()), dtype=bool)
        out[high] = np.where(held, ASTRAL_BASE + at, 0)
        return out

    @classmethod
    def merged(cls, parts: Sequence[tuple[ReuseSegment, np.ndarray]]) -> ReuseSegment:
        """One segment of the live documents of these (segment, dead mask) pairs, in pid order."""
        doc_ids: list[str] = []
        firsts: list[np.ndarray] = []
        lasts: list[np.ndarray] = []
        lengths: list[np.ndarray] = []
        codes: list[np.ndarray] = []
        hashes: list[np.ndarray] = []
        places: list[np.ndarray] = []
        owners: list[np.ndarray] = []
        new_start = 0
        for segment, dead in parts:
            live = np.flatnonzero(~dead)
            starts = np.asarray(segment.starts)
            row_lengths = np.diff(starts)[live]
            shift = np.full(len(segment), -1, dtype=np.int64)  # new start minus old start, per live row
            shift[live] = new_start + np.concatenate([[0], np.cumsum(row_lengths)[:-1]]) - starts[live]
            new_row = np.full(len(segment), -1, dtype=np.int64)
            new_row[live] = len(doc_ids) + np.arange(len(live))
            owner = np.asarray(segment.owners)
            keep = ~dead[owner]
            hashes.append(np.asarray(segment.hashes)[keep])
            places.append(np.asarray(segment.places)[keep].astype(np.int64) + shift[owner[keep]])
            owners.append(new_row[owner[keep]])
            codes.extend(segment.decoded(int(starts[row]), int(starts[row + 1])) for row in live)
            doc_ids.extend(segment.doc_ids[row] for row in live)
            firsts.append(np.asarray(segment.first_pids)[live])
            lasts.append(np.asarray(segment.last_pids)[live])
            lengths.append(row_lengths)
            new_start += int(row_lengths.sum())
        first_pids, last_pids = concat(firsts, np.int64), concat(lasts, np.int64)
        row_lengths = concat(lengths, np.int64)
        starts = np.zeros(len(doc_ids) + 1, dtype=np.int64)
        np.cumsum(row_lengths, out=starts[1:])
        joined = concat(codes, np.uint32)
        hash_array, place_array, owner_array = concat(hashes, np.uint64), concat(places, np.int64), concat(owners, np.int64)
        if len(first_pids) > 1 and np.any(np.diff(first_pids) < 0):  # rows must stay in pid order
            doc_ids, first_pids, last_pids, starts, joined, place_array, owner_array = _in_pid_order(
                doc_ids, first_pids, last_pids, starts, joined, place_array, owner_array)
        return cls._assemble(doc_ids, first_pids, last_pids, starts, joined, hash_array, place_array, owner_array)

    def rows_of_pids(self, pids: np.ndarray) -> np.ndarray:
        """The rows of the documents holding any of these pids."""
        pids = np.asarray(pids, dtype=np.int64).reshape(-1)
        if not len(self) or not len(pids):
            return np.empty(0, dtype=np.int64)
        row = np.searchsorted(self.first_pids, pids, side="right") - 1
        held = (row >= 0) & (pids <= np.asarray(self.last_pids)[np.maximum(row, 0)])
        return np.unique(row[held])

    def postings(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(index into ``hashes``, fingerprint number) of every fingerprint of this segment with one of them."""
        low = np.searchsorted(self.hashes, hashes, side="left")
        counts = np.searchsorted(self.hashes, hashes, side="right") - low
        which = np.repeat(np.arange(len(hashes)), counts)
        within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        return which, low[which] + within

    # -- files ---------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write into a temporary folder, then rename: a segment folder is always whole."""
        target = directory / self.name
        if (target / "doc_ids.json").exists():
            return
        tmp = directory / (self.name + ".tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        for field in SEGMENT_ARRAYS:
            with open(tmp / f"{field}.npy", "wb") as handle:
                np.save(handle, np.asarray(getattr(self, field)))
                handle.flush()
                os.fsync(handle.fileno())
        with open(tmp / "doc_ids.json", "w", encoding="utf-8") as handle:
            json.dump(self.doc_ids, handle, ensure_ascii=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)

    @classmethod
    def load(cls, directory: Path, name: str) -> ReuseSegment:
        folder = directory / name
        doc_ids = json.loads((folder / "doc_ids.json").read_text(encoding="utf-8"))
        arrays = {field: np.load(folder / f"{field}.npy", mmap_mode="r") for field in SEGMENT_ARRAYS}
        return cls(name, doc_ids, **arrays)


def _in_pid_order(doc_ids: list[str], first_pids: np.ndarray, last_pids: np.ndarray, starts: np.ndarray,
                  codes: np.ndarray, places: np.ndarray, owners: np.ndarray) -> tuple:
    """The rows of a merge put in pid order (segments whose pid ranges interleave), fingerprints moved along."""
    order = np.argsort(first_pids, kind="stable")
    new_starts = np.zeros(len(order) + 1, dtype=np.int64)
    np.cumsum(np.diff(starts)[order], out=new_starts[1:])
    new_row = np.empty_like(order)
    new_row[order] = np.arange(len(order))
    moved = places - starts[owners] + new_starts[new_row[owners]]
    new_codes = concat([codes[starts[row] : starts[row + 1]] for row in order], np.uint32)
    return ([doc_ids[row] for row in order], first_pids[order], last_pids[order], new_starts, new_codes, moved,
            new_row[owners])


def _stored(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes as a segment keeps them, the characters beyond the BMP its slots stand for): two bytes a character,
    unless more such characters occur than there are slots."""
    high = codes >= 1 << 16
    if not high.any():
        return codes.astype(np.uint16), np.empty(0, dtype=np.uint32)
    astral = np.unique(codes[high])
    if len(astral) > ASTRAL_SLOTS:
        return codes.astype(np.uint32), np.empty(0, dtype=np.uint32)
    kept = codes.copy()
    kept[high] = ASTRAL_BASE + np.searchsorted(astral, codes[high])
    return kept.astype(np.uint16), astral.astype(np.uint32)


def concat(parts: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.empty(0, dtype=dtype)
