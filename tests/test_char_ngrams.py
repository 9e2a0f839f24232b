"""embeddings/char_ngrams.py: the stand-in for the model that the fast tests embed with."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from embeddings.char_ngrams import CHAR_NGRAMS_MODEL, CharNgramEncoder

ROOT = Path(__file__).parents[1]
QUERY = "招商引资进度为什么落后"


def test_it_describes_itself_like_a_model():
    encoder = CharNgramEncoder()
    assert (encoder.name, encoder.dim, encoder.max_tokens, encoder.backend) == (CHAR_NGRAMS_MODEL, 384, 512, "char-ngrams")
    assert encoder.prompts == {"query": "query: ", "passage": "passage: "}


def test_vectors_are_unit_length_and_the_same_in_another_process():
    encoder = CharNgramEncoder()
    texts = [QUERY, "How much protein should an adult eat?", "", "   "]
    vectors = encoder.embed(texts, "passage")
    assert vectors.dtype == np.float32 and vectors.shape == (4, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    code = ("from embeddings.char_ngrams import CharNgramEncoder; "
            f"print(CharNgramEncoder().embed_query({QUERY!r}).tobytes().hex())")
    other = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert bytes.fromhex(other.strip()) == encoder.embed_query(QUERY).tobytes()


def test_texts_sharing_wording_are_nearer_than_texts_sharing_none():
    encoder = CharNgramEncoder()
    query = encoder.embed_query(QUERY)
    near, far = encoder.embed(["招商引资进度全市排名最后，项目落地慢", "今天的天气很好，适合出去散步"], "passage")
    assert float(query @ near) > float(query @ far) + 0.2
    assert float(encoder.embed_query("Industrial Policy") @ encoder.embed_query("industrial  policy")) > 0.999


def test_tokens_are_counted_with_the_prompt_and_read_up_to_max_tokens():
    encoder = CharNgramEncoder(max_tokens=16)
    assert encoder.count_tokens("工业 industry 2023") == 2 + 4 + 2  # "query" ":"; 工 业 industry 2023; [CLS] [SEP]
    assert encoder.token_counts(["工业"], "passage") == [2 + 2 + 2]
    long = "一二三四五六七八九十" * 3
    assert encoder.count_tokens(long) > encoder.max_tokens
    np.testing.assert_array_equal(encoder.embed([long], "query"), encoder.embed([long + "后面的字不读"], "query"))
    assert not np.array_equal(encoder.embed_query(long[:5]), encoder.embed_query(long[:6]))
