"""A sentence-transformers BERT model on ONNX Runtime with int8 weights: the fast CPU backend.

The first use converts the model directory once per cache directory:

1. export the transformer with ``torch.onnx.export`` (dynamic batch and sequence axes);
2. fuse it with ONNX Runtime's transformer optimizer: Attention, Gelu and EmbedLayerNormalization, but
   not SkipLayerNormalization or BiasGelu (see UNFUSED_OPTIMIZERS);
3. quantise the weights to int8 with ``quantize_dynamic``: MatMul, Attention and the embedding table,
   signed, per output channel, 7-bit range (activations are quantised per call). Per-tensor weights agree
   with fp32 much less well, because AVX2 without VNNI multiplies u8 x s8 into saturating 16-bit sums;
   unsigned weights agree as well but run slower.

Later loads open the cached model and import neither torch nor transformers. Tokenising, mean pooling and
normalising happen here with ``tokenizers`` and numpy, mirroring sentence-transformers. ``scripts/bench.py --embed``
measures speed and agreement with the fp32 model; tests/test_onnx_encoder.py holds the agreement.
"""

from __future__ import annotations

import gc
import json
import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from embeddings.base import Batching, Encoder, available_cores
from embeddings.errors import BadInputError, SpeechQAError
from embeddings.prompts import KINDS, model_prompts
from embeddings.publish import build_once

BACKEND = "onnx-int8"
# Bump when the conversion's output changes, so caches from older versions are rebuilt.
CONVERSION_VERSION = 2
CONFIG_NAME = "onnx-encoder.json"
MODEL_NAME = "model.onnx"
TOKENIZER_NAME = "tokenizer.json"
# ONNX Runtime's fused SkipLayerNormalization and BiasGelu CPU kernels are slower than the Add +
# LayerNormalization and Add + Gelu they replace, and SkipLayerNormalization takes a large share of the
# whole model's time. Both are left unfused, offline and when a session loads, with identical vectors
# (scripts/bench.py --embed measures the throughput).
UNFUSED_OPTIMIZERS = ("SkipLayerNormFusion", "BiasGeluFusion")
# Tokens per inference call. Each call runs on one core (see _open_session); with one caller per core a
# budget of this order runs fastest (scripts/bench.py --embed): small activations stay in cache, and
# length-sorted batches waste little on padding anyway.
TOKEN_BUDGET = 768
# The quantised model must agree with the fp32 one at least this well on the check sentences.
MIN_CHECK_COSINE = 0.98
CHECK_TEXTS = (
    "今天县上专门召开工业领导组扩大会议，分析我县前期工业经济运行情况。",
    "坚持以人民为中心的发展思想，推动高质量发展。",
    "How much protein should an adult eat per day?",
    "La conférence a réuni des représentants de quarante pays.",
)


class OnnxEncoder(Encoder):
    """Embeds with a converted model directory; build one with `from_sentence_transformer_dir`."""

    backend = BACKEND
    device = "cpu"

    def __init__(self, onnx_dir: Path, *, name: str, workers: int | None = None) -> None:
        config = json.loads((onnx_dir / CONFIG_NAME).read_text(encoding="utf-8"))
        self.name = name
        self.dim = int(config["dim"])
        self.max_tokens = int(config["max_tokens"])
        self.prompts = model_prompts(name, config["prompts"])
        self._pad_id = int(config["pad_id"])
        # Truncation is done by hand in _truncate, so count_tokens can see the full length.
        self._tokenizer = Tokenizer.from_file(str(onnx_dir / TOKENIZER_NAME))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        # One session shared by every caller: its run() is thread-safe and keeps one copy of the weights.
        self._session = _open_session(onnx_dir / MODEL_NAME)
        # Batches run on every core at once, each call on one core: independent calls scale across
        # cores better than one call split over them (scripts/bench.py --embed measures the throughput).
        self.batching = Batching(token_budget=TOKEN_BUDGET, workers=max(1, workers or available_cores()))

    @classmethod
    def from_sentence_transformer_dir(cls, model_dir: Path, *, name: str, cache_dir: Path) -> OnnxEncoder:
        """Convert ``model_dir`` into ``cache_dir`` unless a current conversion is there, then load it.

        Args:
            model_dir: a sentence-transformers directory holding a BERT-style model with mean pooling.
            name: the model name vectors are recorded under (the same as the torch backend's).
            cache_dir: where the converted model lives, as ``<model_dir name>-onnx-int8``.
        """
        model_dir, cache_dir = Path(model_dir), Path(cache_dir)
        target = cache_dir / f"{model_dir.name}-{BACKEND}"
        build_once(target, lambda directory: _is_current(directory, model_dir), lambda staging: _convert(model_dir, staging))
        return cls(target, name=name)

    # ------------------------------------------------------------------ Encoder interface

    def token_counts(self, texts: Sequence[str], kind: str) -> list[int]:
        """Tokens with special tokens, before truncation (as the torch backend counts)."""
        prompt = self.prompts.get(kind, "")
        return [len(encoding.ids) for encoding in self._tokenizer.encode_batch([prompt + text for text in texts])]

    def tokenize(self, texts: Sequence[str], kind: str) -> list[list[int]]:
        prompt = self.prompts.get(kind, "")
        encodings = self._tokenizer.encode_batch([prompt + text for text in texts])
        return [_truncate(encoding.ids, self.max_tokens) for encoding in encodings]

    def forward(self, inputs: list[list[int]]) -> np.ndarray:
        """Pad to the longest row, run the model, mean-pool over real tokens and L2-normalise."""
        width = max(len(row) for row in inputs)
        input_ids = np.full((len(inputs), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(inputs), width), dtype=np.int64)
        for i, row in enumerate(inputs):
            input_ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        (hidden,) = self._session.run(None, {"input_ids": input_ids, "attention_mask": mask})
        weights = mask.astype(np.float32)
        pooled = np.einsum("btd,bt->bd", hidden, weights) / weights.sum(axis=1, keepdims=True)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


def _truncate(ids: list[int], limit: int) -> list[int]:
    """Keep the first ``limit`` tokens, ending with the closing special token as HF truncation does."""
    return ids if len(ids) <= limit else ids[: limit - 1] + ids[-1:]


def _open_session(path: Path) -> ort.InferenceSession:
    """A session whose every run() computes on its calling thread alone.

    Parallelism comes from concurrent callers instead: the embedding workers, or the web server's
    request threads. A model this small splits poorly across cores (a single query is no faster on
    two threads than on one), and per-call thread pools would oversubscribe the cores as soon as
    two requests overlap.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"], disabled_optimizers=list(UNFUSED_OPTIMIZERS))


# --------------------------------------------------------------------------- conversion


def _source_fingerprint(model_dir: Path) -> dict[str, int]:
    """Changes when the source weights are rewritten, so a stale conversion is noticed cheaply."""
    weights = next((model_dir / name for name in ("model.safetensors", "pytorch_model.bin") if (model_dir / name).exists()), None)
    if weights is None:
        raise BadInputError(f"{model_dir} holds no model.safetensors or pytorch_model.bin to convert")
    stat = weights.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _is_current(target: Path, model_dir: Path) -> bool:
    try:
        config = json.loads((target / CONFIG_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return config.get("conversion_version") == CONVERSION_VERSION and config.get("source") == _source_fingerprint(model_dir)


def _convert(model_dir: Path, out_dir: Path) -> None:
    """Export, fuse, quantise and check, writing the converted model into out_dir.

    Each step holds a few copies of the embedding table, the largest tensor; dropping the torch model
    after the export and collecting between steps lowers the conversion's peak memory.
    """
    settings = _sentence_transformer_settings(model_dir)
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    encoder_config = {
        "conversion_version": CONVERSION_VERSION,
        "source": _source_fingerprint(model_dir),
        "source_dir": model_dir.name,
        "dim": int(config["hidden_size"]),
        "max_tokens": min(settings["max_tokens"], int(config.get("max_position_embeddings", 512))),
        "prompts": settings["prompts"],
        "pad_id": int(config.get("pad_token_id") or 0),
        "quantization": "dynamic int8: MatMul, Attention, EmbedLayerNormalization; QInt8 per-channel, reduce_range",
    }
    # The staging directory becomes visible only complete, by one rename, so the config can go in first.
    (out_dir / CONFIG_NAME).write_text(json.dumps(encoder_config, indent=2), encoding="utf-8")
    shutil.copyfile(model_dir / TOKENIZER_NAME, out_dir / TOKENIZER_NAME)
    tokenizer = Tokenizer.from_file(str(out_dir / TOKENIZER_NAME))
    check_ids = [_truncate(e.ids, encoder_config["max_tokens"])
                 for e in tokenizer.encode_batch([settings["prompts"].get("passage", "") + text for text in CHECK_TEXTS])]

    fp32_path, fused_path = out_dir / "fp32.onnx", out_dir / "fused.onnx"
    model = _load_torch_model(model_dir)
    expected = _torch_vectors(model, check_ids)
    _export(model, fp32_path)
    del model
    gc.collect()
    _fuse(fp32_path, fused_path, heads=int(config["num_attention_heads"]), hidden=int(config["hidden_size"]))
    fp32_path.unlink()
    gc.collect()
    _quantize(fused_path, out_dir / MODEL_NAME)
    fused_path.unlink()
    _check_agreement(out_dir, check_ids, expected)


def _sentence_transformer_settings(model_dir: Path) -> dict:
    """Prompts and max length from the sentence-transformers files; refuse pooling we don't mirror."""
    def read(name: str) -> dict:
        path = model_dir / name
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    pooling = read("1_Pooling/config.json")
    if pooling and not pooling.get("pooling_mode_mean_tokens"):
        raise BadInputError(f"{model_dir}: only mean pooling is supported by the ONNX backend; use the torch backend")
    if not (model_dir / TOKENIZER_NAME).exists():
        raise BadInputError(f"{model_dir} has no {TOKENIZER_NAME}; the ONNX backend needs a fast tokenizer file")
    prompts = {kind: text for kind, text in read("config_sentence_transformers.json").get("prompts", {}).items() if kind in KINDS}
    return {"prompts": prompts, "max_tokens": int(read("sentence_bert_config.json").get("max_seq_length") or 512)}


def _load_torch_model(model_dir: Path):
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()  # the unused pooler weights would print an alarming load report
    hf_logging.disable_progress_bar()
    try:
        return AutoModel.from_pretrained(model_dir, add_pooling_layer=False, attn_implementation="eager").eval()
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def _last_hidden_state(model):
    """The model behind a module taking positional tensors and returning one, as the exporter wants."""
    import torch

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    return LastHiddenState().eval()


def _export(model, path: Path) -> None:
    import torch

    # Two rows, one padded, so the traced graph keeps the general masking path.
    input_ids = torch.tensor([[0, 581, 22355, 10, 4, 2], [0, 581, 2, 1, 1, 1]])
    attention_mask = (input_ids != 1).long()
    axes = {"batch": 0, "tokens": 1}
    dynamic = {name: {index: axis for axis, index in axes.items()} for name in ("input_ids", "attention_mask", "last_hidden_state")}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shape-dependent Python branches
        torch.onnx.export(
            _last_hidden_state(model), (input_ids, attention_mask), str(path),
            input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
            dynamic_axes=dynamic, opset_version=17, do_constant_folding=True, dynamo=False,
        )


def _fuse(source: Path, target: Path, *, heads: int, hidden: int) -> None:
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    fusions = FusionOptions("bert")
    fusions.enable_skip_layer_norm = fusions.enable_bias_skip_layer_norm = False  # see UNFUSED_OPTIMIZERS
    fusions.enable_bias_gelu = False
    # opt_level=0: only the pattern fusions; ORT applies its own graph optimisations when loading.
    fused = optimize_model(str(source), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0,
                           optimization_options=fusions)
    fused.save_model_to_file(str(target))


def _quantize(source: Path, target: Path) -> None:
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    def drop_advice(record: logging.LogRecord) -> bool:
        # quantize_dynamic tells the root logger to "run pre-processing", advice meant for static quantisation.
        return "pre-processing" not in record.getMessage()

    logging.getLogger().addFilter(drop_advice)
    try:
        quantize_dynamic(
            str(source), str(target),
            op_types_to_quantize=["MatMul", "Attention", "EmbedLayerNormalization"],
            weight_type=QuantType.QInt8, per_channel=True, reduce_range=True,
            # Shape inference cannot type the fused contrib ops' outputs; they are all float.
            extra_options={"DefaultTensorType": 1},
        )
    finally:
        logging.getLogger().removeFilter(drop_advice)


def _torch_vectors(model, rows: list[list[int]]) -> np.ndarray:
    """The fp32 model's normalised mean-pooled vectors, one unpadded text at a time."""
    import torch

    vectors = []
    with torch.no_grad():
        for row in rows:
            mean = model(input_ids=torch.tensor([row])).last_hidden_state[0].mean(dim=0).numpy()
            vectors.append(mean / np.linalg.norm(mean))
    return np.stack(vectors)


def _check_agreement(out_dir: Path, rows: list[list[int]], expected: np.ndarray) -> None:
    """Refuse to publish a conversion whose vectors drift from the fp32 model's."""
    cosine = float((OnnxEncoder(out_dir, name="check", workers=1).forward(rows) * expected).sum(axis=1).min())
    if cosine < MIN_CHECK_COSINE:
        raise SpeechQAError(
            f"the int8 ONNX conversion of {out_dir.name} disagrees with the fp32 model (cosine {cosine:.3f}); "
            "set SPEECHQA_BACKEND=torch to use the PyTorch model"
        )
