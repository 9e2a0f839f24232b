"""embeddings/base.py: the one batching path every encoder goes through."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from embeddings.base import Batching, Encoder, available_cores


class LengthEncoder(Encoder):
    """A model whose vector for a text is (its length, the size of the batch it ran in); records batches."""

    name = "lengths"
    dim = 2
    max_tokens = 10

    def __init__(self, batching: Batching = Batching()) -> None:
        self.batching = batching
        self.batches: list[list[str]] = []

    def token_counts(self, texts: Sequence[str], kind: str) -> list[int]:
        return [len(text) for text in texts]

    def tokenize(self, texts: Sequence[str], kind: str) -> list[str]:
        return [f"{kind}:{text}" for text in texts]

    def forward(self, inputs: list[str]) -> np.ndarray:
        texts = [row.split(":", 1)[1] for row in inputs]
        self.batches.append(texts)
        return np.array([[len(text), len(texts)] for text in texts], dtype=np.float32)


def test_batches_of_similar_length_come_back_in_the_order_given():
    encoder = LengthEncoder()
    progress: list[int] = []
    vectors = encoder.embed(["ccc", "a", "bb", "dddd", ""], "passage", batch_size=2, progress=progress.append)
    assert encoder.batches == [["", "a"], ["bb", "ccc"], ["dddd"]]
    assert vectors.tolist() == [[3, 2], [1, 2], [2, 2], [4, 1], [0, 2]]
    assert progress == [2, 2, 1]


def test_a_token_budget_bounds_rows_times_the_longest_row():
    encoder = LengthEncoder(Batching(token_budget=8))
    encoder.embed(["z" * 12, "xxx", "a", "yyy", "b", "c"], "passage", batch_size=32)
    # Lengths count up to max_tokens (10): a text longer than the budget still runs, alone.
    assert encoder.batches == [["a", "b", "c"], ["xxx", "yyy"], ["z" * 12]]


def test_batch_size_is_raised_to_the_minimum_batch():
    encoder = LengthEncoder(Batching(min_batch=4))
    encoder.embed([str(i) for i in range(6)], "query", batch_size=2)
    assert [len(batch) for batch in encoder.batches] == [4, 2]


def test_parallel_workers_give_what_one_worker_gives():
    texts = ["字" * (i % 7) + str(i) for i in range(50)]
    one = LengthEncoder(Batching(token_budget=24)).embed(texts, "passage", batch_size=3)
    progress: list[int] = []
    many = LengthEncoder(Batching(token_budget=24, workers=3)).embed(texts, "passage", batch_size=3, progress=progress.append)
    np.testing.assert_array_equal(many, one)
    assert sum(progress) == len(texts)


def test_no_texts_run_no_batch():
    encoder = LengthEncoder()
    assert encoder.embed([], "passage").shape == (0, 2) and encoder.embed_batch([], "query").shape == (0, 2)
    assert encoder.batches == []


def test_a_query_is_a_batch_of_one():
    encoder = LengthEncoder()
    assert encoder.embed_query("abc").tolist() == [3, 1]
    assert encoder.count_tokens("abcd") == 4


def test_available_cores_are_those_this_process_may_use():
    assert available_cores() == len(os.sched_getaffinity(0)) >= 1
