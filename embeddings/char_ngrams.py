"""A deterministic stand-in for a model: a text's vector is its bag of hashed character n-grams.

Like llm's ``EmbedDemo``, it lets everything around the model (ingest, the indexes, fusion, the API,
the CLI) be tested in milliseconds and without the model installed. Texts that share characters and
short runs of them get near vectors, so a copied sentence still finds its passage and rankings still
mean something; it knows nothing of meaning, of other scripts or of other languages, so retrieval
quality is tested with the real model only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from embeddings.base import Encoder

CHAR_NGRAMS_MODEL = "char-ngrams"
# A word of Latin letters or digits is one token, any other character that is not a space another;
# roughly how the real (XLM-R) tokenizer counts Chinese.
_TOKEN = re.compile(r"[A-Za-z0-9]+|\S")
_SPACES = re.compile(r"\s+")
_SPECIAL_TOKENS = 2  # the start and end tokens a BERT model adds
# The n-gram lengths read and the weight each has: longer runs say more about what two texts share.
_WEIGHTS = {1: 0.5, 2: 1.0, 3: 1.0}
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd, so multiplying mixes the bits without losing any


class CharNgramEncoder(Encoder):
    """Unit vectors of weighted character 1-, 2- and 3-gram counts hashed into `dim` buckets.

    The same text always gets the same vector, in any process and on any machine. Like a real model it
    has e5's prompts, counts them among a text's tokens, and reads no more than `max_tokens` tokens.
    """

    backend = "char-ngrams"
    device = "cpu"

    def __init__(self, dim: int = 384, *, name: str = CHAR_NGRAMS_MODEL, max_tokens: int = 512,
                 prompts: dict[str, str] | None = None) -> None:
        self.name = name
        self.dim = dim
        self.max_tokens = max_tokens
        self.prompts = dict(prompts) if prompts is not None else {"query": "query: ", "passage": "passage: "}

    def token_counts(self, texts: Sequence[str], kind: str) -> list[int]:
        prompt = self.prompts.get(kind, "")
        return [len(_TOKEN.findall(prompt + text)) + _SPECIAL_TOKENS for text in texts]

    def tokenize(self, texts: Sequence[str], kind: str) -> list[str]:
        """Each text as the model reads it: cut after `max_tokens` tokens (its prompt's among them), in
        lower case, spaces collapsed. The prompt itself is left out: every text of a kind shares it."""
        budget = max(self.max_tokens - self.token_counts([""], kind)[0], 1)
        return [_SPACES.sub(" ", _truncate(text, budget).casefold()).strip() for text in texts]

    def forward(self, inputs: list[str]) -> np.ndarray:
        out = np.zeros((len(inputs), self.dim), dtype=np.float32)
        for row, text in enumerate(inputs):
            out[row] = self._vector(text)
        return out

    def _vector(self, text: str) -> np.ndarray:
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        counts = np.zeros(self.dim, dtype=np.float64)
        with np.errstate(over="ignore"):  # the hash wraps around on purpose
            for n, weight in _WEIGHTS.items():
                if len(codes) < n:
                    continue
                hashes = np.full(len(codes) - n + 1, n, dtype=np.uint64)
                for offset in range(n):
                    hashes = (hashes ^ codes[offset : len(codes) - n + 1 + offset]) * _MULTIPLIER
                hashes = hashes[_without_spaces(codes, n)]  # n-grams across words say little
                buckets = (hashes >> np.uint64(32)) % np.uint64(self.dim)
                counts += weight * np.bincount(buckets.astype(np.int64), minlength=self.dim)
        counts = np.sqrt(counts)  # a run repeated ten times is not ten times as telling
        norm = float(np.linalg.norm(counts))
        if norm == 0:  # an empty text: some unit vector all the same, as a model gives
            counts[0], norm = 1.0, 1.0
        return (counts / norm).astype(np.float32)


def _truncate(text: str, tokens: int) -> str:
    """The text up to the end of its `tokens`-th token."""
    for count, match in enumerate(_TOKEN.finditer(text), 1):
        if count == tokens:
            return text[: match.end()]
    return text


def _without_spaces(codes: np.ndarray, n: int) -> np.ndarray:
    """Which of the n-grams starting at each position hold no space."""
    letters = codes != ord(" ")
    keep = letters[: len(codes) - n + 1].copy()
    for offset in range(1, n):
        keep &= letters[offset : len(codes) - n + 1 + offset]
    return keep
