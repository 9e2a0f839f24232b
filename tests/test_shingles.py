"""MinHash signatures (qa.text.shingles): the values stored signatures were made with, in bounded memory."""

from __future__ import annotations

import hashlib
import random
import tracemalloc

import numpy as np
import pytest

from qa.text.normalize import normalize_for_matching
from qa.text.shingles import _A, _B, _MERSENNE, _SIGNATURE_BLOCK, SHINGLE, minhash_signature


def signature_of_distinct_shingles(text: str) -> np.ndarray:
    """The signature as collections stored it before it was computed in blocks: every distinct shingle at once."""
    normalised = normalize_for_matching(text)
    if len(normalised) <= SHINGLE:
        shingles = {normalised}
    else:
        shingles = {normalised[i : i + SHINGLE] for i in range(len(normalised) - SHINGLE + 1)}
    values = np.array([int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "little") >> 3
                       for s in shingles], dtype=np.uint64)
    return ((values[None, :] * _A[:, None] + _B[:, None]) % _MERSENNE).min(axis=1)


@pytest.mark.parametrize("length", [0, 1, SHINGLE, SHINGLE + 1, _SIGNATURE_BLOCK + SHINGLE - 2,
                                    _SIGNATURE_BLOCK + SHINGLE - 1, _SIGNATURE_BLOCK + SHINGLE, 3 * _SIGNATURE_BLOCK + 7])
def test_the_signature_is_the_one_stored_collections_hold(length):
    # ASCII, two- and three-byte characters, a four-byte emoji, Traditional characters, spaces the fold drops.
    rng = random.Random(length)
    text = "".join(rng.choice("ab1 é中國語，。😀\u3000") for _ in range(length))
    expected = signature_of_distinct_shingles(text)
    found = minhash_signature(text)
    assert found.dtype == np.uint64 and found.shape == expected.shape
    assert found.tolist() == expected.tolist()


def test_a_repeated_text_signs_like_its_one_copy():
    text = "我们要坚持稳中求进工作总基调，完整准确全面贯彻新发展理念。"
    assert minhash_signature(text * 2000).tolist() == signature_of_distinct_shingles(text * 2).tolist()


def test_memory_stays_proportional_to_the_text():
    # Hashing every shingle at once took N_HASHES × 8 bytes a shingle, three times over (about 150 MB here).
    text = "".join(map(chr, random.Random(7).choices(range(0x4E00, 0x9FA5), k=100_000)))
    tracemalloc.start()
    try:
        minhash_signature(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * len(text) + 16 * 1024 * 1024
