"""Character shingles of script-normalised text: MinHash signatures for near-duplicate documents, and n-gram overlap of passages.

Two copies of one speech (one Simplified and one Traditional, or one with a site's boilerplate)
share almost all their 5-character shingles once both are normalised; LSH bands find the
candidates without comparing every pair.
"""

from __future__ import annotations

import hashlib

import numpy as np

from qa.text.normalize import normalize_for_matching

SHINGLE = 5
N_HASHES = 64
BANDS = 16  # 4 rows a band: pairs at Jaccard 0.8 become candidates with probability ~0.999
NEAR_DUPLICATE_JACCARD = 0.85
_MERSENNE = np.uint64((1 << 61) - 1)
_GRAM_HASH_BASE = np.uint64(0x9E3779B97F4A7C15)
_rng = np.random.default_rng(20240611)
_A = _rng.integers(1, (1 << 61) - 1, N_HASHES, dtype=np.uint64)
_B = _rng.integers(0, (1 << 61) - 1, N_HASHES, dtype=np.uint64)


# Shingles hashed at a time: the universal hashing of a block is N_HASHES × this many uint64 (a few MB),
# so a text of any length is signed in memory proportional to its own size.
_SIGNATURE_BLOCK = 8192
_NO_HASH_YET = np.iinfo(np.uint64).max


def minhash_signature(text: str) -> np.ndarray:
    """The MinHash signature of the text's 5-character shingles (a text of 5 characters or fewer is one shingle)."""
    normalised = normalize_for_matching(text)
    windows = max(len(normalised) - SHINGLE + 1, 1)
    signature = np.full(N_HASHES, _NO_HASH_YET, dtype=np.uint64)
    for start in range(0, windows, _SIGNATURE_BLOCK):
        values = _shingle_values(normalised[start : start + _SIGNATURE_BLOCK + SHINGLE - 1])
        # Universal hashing a*x+b mod p per hash function; uint64 wrap-around keeps it cheap and still well spread.
        # A shingle seen twice hashes alike both times, so the minimum needs no set of distinct shingles.
        hashed = (values[None, :] * _A[:, None] + _B[:, None]) % _MERSENNE
        np.minimum(signature, hashed.min(axis=1), out=signature)
    return signature


def _shingle_values(piece: str) -> np.ndarray:
    """The 61-bit hash of each shingle of `piece` (of `piece` itself when it is no longer than a shingle)."""
    data = piece.encode()
    if len(piece) <= SHINGLE:
        starts = [0, len(data)]
        step = 1
    else:
        step = SHINGLE
        if len(data) == len(piece):  # ASCII: a character is a byte
            starts = list(range(len(piece) + 1))
        else:  # the UTF-8 width of each character, from its code point
            points = np.frombuffer(piece.encode("utf-32-le"), dtype=np.uint32)
            widths = 1 + (points >= 0x80) + (points >= 0x800) + (points >= 0x10000)
            starts = np.concatenate([[0], np.cumsum(widths)]).tolist()
    digests = b"".join([hashlib.blake2b(data[starts[i] : starts[i + step]], digest_size=8).digest()
                        for i in range(len(starts) - step)])
    return np.frombuffer(digests, dtype="<u8") >> np.uint64(3)


def band_keys(signature: np.ndarray) -> list[bytes]:
    rows = N_HASHES // BANDS
    return [bytes([band]) + signature[band * rows : (band + 1) * rows].tobytes() for band in range(BANDS)]


def estimated_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a == b))


def gram_containment(texts: list[str], n: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Pairwise share of character n-grams, computed for all texts at once.

    Returns ``(shared, sizes)``: ``shared[i, j]`` is how many distinct n-grams texts i and j have in
    common and ``sizes[i]`` how many text i has, over the length-preserving fold of each text with
    whitespace removed; a text shorter than n counts as one gram. The n-grams of all texts are hashed
    in one pass and every pair's set intersection is one sparse product, much faster than Python sets
    compared pair by pair.
    """
    from scipy.sparse import csr_matrix

    from qa.text.alignment import fold_chars

    if not texts:
        return np.zeros((0, 0), dtype=np.int64), np.zeros(0, dtype=np.int64)
    # Every text padded to at least n characters, then one array of code points for all of them.
    folded = ["".join(fold_chars(text).split()).ljust(n, "\0") for text in texts]
    points = np.frombuffer("".join(folded).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    lengths = np.array([len(text) for text in folded])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    windows = len(points) - n + 1
    key = np.zeros(windows, dtype=np.uint64)
    for offset in range(n):  # a polynomial hash mod 2**64: collisions are negligible at these sizes
        key = key * _GRAM_HASH_BASE + points[offset : offset + windows]
    # Keep the windows that start and end inside one text.
    row_of_window = np.repeat(np.arange(len(texts)), lengths)[:windows]
    inside = np.concatenate([np.arange(start, start + length - n + 1) for start, length in zip(starts, lengths, strict=True)])
    key, rows = key[inside], row_of_window[inside]
    columns = np.unique(key, return_inverse=True)[1].reshape(-1)
    incidence = csr_matrix((np.ones(len(key), dtype=np.int32), (rows, columns)), shape=(len(texts), int(columns.max()) + 1))
    incidence.data[:] = 1  # csr_matrix sums repeated (row, gram) entries; a gram counts once per text
    shared = (incidence @ incidence.T).toarray().astype(np.int64)
    return shared, np.diag(shared).copy()
