"""Checking fingerprint matches exactly: the maximal runs a text shares with a segment's documents.

Every candidate (a fingerprint of the text found in a document) is compared outward from where it
sits, in both directions, BLOCK characters at a time for all candidates at once, straight from the
segment's (memory-mapped) reuse forms.
"""

from __future__ import annotations

import numpy as np

from qa.index.reuse_segment import BATCH, BLOCK, ReuseSegment


def candidates(segment: ReuseSegment, usable: np.ndarray, hashes: np.ndarray,
                starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(offset in the text, fingerprint number) of every fingerprint of a usable document that one of the text's matches."""
    which, postings = segment.postings(hashes)
    if len(postings):
        keep = usable[np.asarray(segment.owners)[postings]]
        which, postings = which[keep], postings[keep]
    return starts[which], postings


def shared_runs(codes: np.ndarray, segment: ReuseSegment, query_at: np.ndarray,
          postings: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The maximal runs the text shares with documents through these fingerprints.

    Returns (document row, start in the text, start in the document, length) arrays, one entry per run.
    Fingerprints on one diagonal of one document (the same offset between text and document) that fall
    inside a run already found are the same run and are not compared again.
    """
    owners = np.asarray(segment.owners)[postings].astype(np.int64)
    places = np.asarray(segment.places)[postings].astype(np.int64)
    diagonals = places - query_at
    pending = np.lexsort((query_at, diagonals, owners))
    found: list[tuple[np.ndarray, ...]] = []
    while len(pending):
        owner, diagonal, at = owners[pending], diagonals[pending], query_at[pending]
        heads = np.r_[True, (owner[1:] != owner[:-1]) | (diagonal[1:] != diagonal[:-1])]
        first = pending[heads]
        left, right = _extents(codes, segment, query_at[first], places[first], owners[first])
        found.append((owners[first], query_at[first] - left, places[first] - left - np.asarray(segment.starts)[owners[first]],
                      left + right))
        run_end = (query_at[first] + right)[np.cumsum(heads) - 1]
        pending = pending[~heads & (at >= run_end)]
    return tuple(np.concatenate(parts) for parts in zip(*found, strict=True))  # type: ignore[return-value]


def _extents(codes: np.ndarray, segment: ReuseSegment, query_at: np.ndarray, places: np.ndarray,
             owners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How far the text and the documents agree to the left of and from each anchor."""
    starts = np.asarray(segment.starts)
    text = segment.encoded(codes)
    left = np.empty(len(query_at), dtype=np.int64)
    right = np.empty(len(query_at), dtype=np.int64)
    for begin in range(0, len(query_at), BATCH):
        part = slice(begin, begin + BATCH)
        q, d, row = query_at[part], places[part], owners[part]
        right[part] = _agreement(text, segment.codes, q, d, np.minimum(len(text) - q, starts[row + 1] - d), 1)
        left[part] = _agreement(text, segment.codes, q - 1, d - 1, np.minimum(q, d - starts[row]), -1)
    return left, right


def _agreement(text: np.ndarray, codes: np.ndarray, text_at: np.ndarray, codes_at: np.ndarray, room: np.ndarray,
               step: int) -> np.ndarray:
    """For each pair, how many characters text[text_at + step*i] == codes[codes_at + step*i] hold from i = 0 on,
    at most ``room``; compared BLOCK characters at a time."""
    length = np.zeros(len(text_at), dtype=np.int64)
    active = np.flatnonzero(room > 0)
    offsets = np.arange(BLOCK) * step
    while len(active):
        steps = (length[active] * step)[:, None] + offsets
        valid = np.abs(steps) < room[active, None]
        text_index = np.where(valid, text_at[active, None] + steps, 0)
        codes_index = np.where(valid, codes_at[active, None] + steps, 0)
        same = valid & (text[text_index] == codes[codes_index])
        agreed = np.where(same.all(axis=1), BLOCK, same.argmin(axis=1))
        length[active] += agreed
        active = active[agreed == BLOCK]
    return length
