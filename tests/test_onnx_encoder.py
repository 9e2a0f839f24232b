"""The int8 ONNX encoder must embed like the fp32 sentence-transformers model it was converted from."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.model  # every test embeds with the bundled model

from fresh_interpreter import modules_imported  # noqa: E402

from embeddings.bundled import BUNDLED_MODEL_NAME, ensure_bundled_model  # noqa: E402
from embeddings.onnx_encoder import OnnxEncoder  # noqa: E402
from embeddings.st_encoder import SentenceTransformerEncoder  # noqa: E402

ROOT = Path(__file__).parents[1]
SAMPLES = ROOT / "qa" / "sample_speeches"
N_PASSAGES = 20
PASSAGE_CHARS = 300
HEAVY = ("torch", "transformers", "sentence_transformers")  # what a cached ONNX model loads without


def speech_texts() -> list[str]:
    return [re.sub(r"\s+", " ", path.read_text(encoding="utf-8")).strip() for path in sorted(SAMPLES.glob("*.txt"))]


@pytest.fixture(scope="module")
def passages() -> list[str]:
    """300-character windows taken in turn from each sample speech, so every speech is represented."""
    per_speech = [[text[i : i + PASSAGE_CHARS] for i in range(0, len(text) - PASSAGE_CHARS, PASSAGE_CHARS)] for text in speech_texts()]
    mixed = [window for group in itertools.zip_longest(*per_speech) for window in group if window]
    assert len(mixed) >= N_PASSAGES
    return mixed[:N_PASSAGES]


@pytest.fixture(scope="module")
def model_dir(model_cache_dir: Path) -> Path:
    return ensure_bundled_model(model_cache_dir / "models")


@pytest.fixture(scope="module")
def onnx_encoder(model_dir: Path, model_cache_dir: Path) -> OnnxEncoder:
    return OnnxEncoder.from_sentence_transformer_dir(model_dir, name=BUNDLED_MODEL_NAME, cache_dir=model_cache_dir / "models")


@pytest.fixture(scope="module")
def fp32_encoder(model_dir: Path) -> SentenceTransformerEncoder:
    return SentenceTransformerEncoder(str(model_dir), name=BUNDLED_MODEL_NAME, device="cpu")


def row_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_describes_itself_like_the_torch_encoder(onnx_encoder, fp32_encoder):
    assert (onnx_encoder.name, onnx_encoder.dim, onnx_encoder.max_tokens) == (fp32_encoder.name, fp32_encoder.dim, 512)
    assert (onnx_encoder.backend, onnx_encoder.device) == ("onnx-int8", "cpu")
    assert onnx_encoder.prompts == {"query": "query: ", "passage": "passage: "}


@pytest.mark.parametrize("kind", ["passage", "query"])
def test_passages_agree_with_fp32(onnx_encoder, fp32_encoder, passages, kind):
    quantized = onnx_encoder.embed(passages, kind)
    reference = fp32_encoder.embed(passages, kind, batch_size=16)
    assert quantized.shape == reference.shape == (N_PASSAGES, 384)
    assert quantized.dtype == np.float32
    cosines = row_cosines(quantized, reference)
    assert cosines.mean() >= 0.99, cosines
    assert cosines.min() >= 0.97, cosines
    np.testing.assert_allclose(np.linalg.norm(quantized, axis=1), 1.0, atol=1e-5)


def test_short_queries_agree_with_fp32(onnx_encoder, fp32_encoder, passages):
    queries = [passage[:12] for passage in passages[:16]]
    quantized = np.stack([onnx_encoder.embed_query(query) for query in queries])
    cosines = row_cosines(quantized, fp32_encoder.embed(queries, "query"))
    assert cosines.mean() >= 0.99, cosines
    assert cosines.min() >= 0.97, cosines


def test_embed_query_is_the_query_embedding(onnx_encoder):
    query = "如何加快全县工业发展"
    np.testing.assert_array_equal(onnx_encoder.embed_query(query), onnx_encoder.embed([query], "query")[0])
    assert onnx_encoder.embed_query(query).shape == (384,)


def test_order_of_mixed_lengths_is_kept(onnx_encoder, fp32_encoder, passages):
    texts = [passages[0], passages[1][:20], passages[2][:150], "", passages[3][:60]]
    together = onnx_encoder.embed(texts, "passage", batch_size=2)
    reference = fp32_encoder.embed(texts, "passage")
    # Activations are quantised per batch, so batch-mates move a vector slightly (cosine ~0.998), never far.
    assert row_cosines(together, reference).min() >= 0.98
    assert np.argmax(together @ reference.T, axis=1).tolist() == list(range(len(texts)))


def test_count_tokens_matches_the_torch_tokenizer(onnx_encoder, fp32_encoder, passages):
    texts = [*passages[:8], "", "query: tabs\tand  spaces", "Привет мир 한국어 emoji 👍🏽"]
    assert [onnx_encoder.count_tokens(t) for t in texts] == [fp32_encoder.count_tokens(t) for t in texts]


def test_text_over_512_tokens_is_truncated(onnx_encoder, fp32_encoder):
    text = max(speech_texts(), key=len)[:1000]
    assert onnx_encoder.count_tokens(text) > 512
    vector = onnx_encoder.embed([text], "passage")
    assert vector.shape == (1, 384) and np.isfinite(vector).all()
    # Whatever follows the 512th token is never read.
    np.testing.assert_array_equal(vector, onnx_encoder.embed([text + "后面的文字不会被读到。" * 20], "passage"))
    assert row_cosines(vector, fp32_encoder.embed([text], "passage"))[0] >= 0.97


def test_empty_list_gives_no_rows(onnx_encoder):
    for vectors in (onnx_encoder.embed([], "passage"), onnx_encoder.embed_batch([], "query")):
        assert vectors.shape == (0, 384) and vectors.dtype == np.float32


def test_cached_model_loads_without_torch(onnx_encoder, model_dir, model_cache_dir):
    assert modules_imported(
        "from embeddings.onnx_encoder import OnnxEncoder\n"
        f"encoder = OnnxEncoder.from_sentence_transformer_dir(Path({str(model_dir)!r}), name='m', "
        f"cache_dir=Path({str(model_cache_dir / 'models')!r}))",
        HEAVY,
    ) == []


def converted_dir(model_dir: Path, model_cache_dir: Path) -> Path:
    return model_cache_dir / "models" / f"{model_dir.name}-onnx-int8"


def test_parallel_workers_give_the_vectors_of_one_worker(onnx_encoder, model_dir, model_cache_dir, passages):
    one_worker = OnnxEncoder(converted_dir(model_dir, model_cache_dir), name=BUNDLED_MODEL_NAME, workers=1)
    many_workers = OnnxEncoder(converted_dir(model_dir, model_cache_dir), name=BUNDLED_MODEL_NAME, workers=3)
    # Small batches, so several run at once and finish out of order.
    texts = passages[:12]
    np.testing.assert_array_equal(many_workers.embed(texts, "passage", batch_size=3),
                                  one_worker.embed(texts, "passage", batch_size=3))
    counted: list[int] = []
    many_workers.embed(texts, "passage", batch_size=3, progress=counted.append)
    assert sum(counted) == len(texts)


def test_the_slow_fused_cpu_kernels_are_left_out(onnx_encoder, model_dir, model_cache_dir):
    import onnx

    graph = onnx.load(str(converted_dir(model_dir, model_cache_dir) / "model.onnx"), load_external_data=False).graph
    ops = {node.op_type for node in graph.node}
    assert {"QAttention", "LayerNormalization"} <= ops
    assert not ops & {"SkipLayerNormalization", "BiasGelu"}
