"""Query vectors: long text embedded in windows of whole sentences, recent vectors remembered."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from embeddings.base import Encoder
from qa.search.query_vectors import QueryVectors, sentence_windows


class RecordingEncoder(Encoder):
    """A text's vector is (its length, its count of 工, 1), normalised; every text embedded is recorded."""

    name = "recording"
    dim = 3
    max_tokens = 40

    def __init__(self) -> None:
        self.seen: list[str] = []

    def token_counts(self, texts: Sequence[str], kind: str) -> list[int]:
        return [len(text) for text in texts]

    def tokenize(self, texts: Sequence[str], kind: str) -> list[str]:
        self.seen.extend(texts)
        return list(texts)

    def forward(self, inputs: list[str]) -> np.ndarray:
        rows = np.array([[len(t), t.count("工"), 1.0] for t in inputs], dtype=np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_windows_are_whole_sentences_up_to_the_size():
    text = "第一句话。第二句话比较长一些。\n第三句。"
    assert sentence_windows(text, 10) == ["第一句话。", "第二句话比较长一些。", "第三句。"]
    assert sentence_windows(text, 100) == ["第一句话。第二句话比较长一些。第三句。"]
    assert sentence_windows("第一句话。第二句  话。", 100) == ["第一句话。第二句 话。"]  # spaces collapsed
    assert sentence_windows("一" * 25, 10) == ["一" * 10, "一" * 10, "一" * 5]  # a sentence longer than a window is cut
    assert sentence_windows("", 10) == [""]


def test_a_short_query_is_embedded_once_in_simplified_script_and_remembered():
    encoder = RecordingEncoder()
    vectors = QueryVectors(encoder, window_chars=20)
    first = vectors.embed("工業發展")
    assert encoder.seen == ["工业发展"]
    np.testing.assert_allclose(first, encoder.embed_batch(["工业发展"], "query")[0])
    assert vectors.embed("工業發展") is first and len(encoder.seen) == 2  # the second embed_batch above, not a repeat
    with pytest.raises(ValueError):
        first[0] = 0  # shared between requests: read-only


def test_the_oldest_vectors_go_first():
    encoder = RecordingEncoder()
    vectors = QueryVectors(encoder, window_chars=20, cache_size=2)
    for text in ("甲", "乙", "丙", "丙", "甲"):
        vectors.embed(text)
    assert encoder.seen == ["甲", "乙", "丙", "甲"]  # 甲 was forgotten when 丙 came


def test_a_text_longer_than_the_model_reads_is_the_length_weighted_mean_of_its_windows():
    encoder = RecordingEncoder()
    text = "工业发展要抓项目。" * 6 + "招商引资进度落后了。" * 2
    assert encoder.count_tokens(text) > encoder.max_tokens
    vector = QueryVectors(encoder, window_chars=30, batch_size=2).embed(text)
    windows = sentence_windows(text, 30)
    assert len(windows) > 2 and sorted(encoder.seen) == sorted(windows)
    rows = encoder.embed_batch(windows, "query")
    mean = (rows * np.array([len(w) for w in windows])[:, None]).sum(axis=0)
    np.testing.assert_allclose(vector, mean / np.linalg.norm(mean), rtol=1e-6)
    assert vector.dtype == np.float32
