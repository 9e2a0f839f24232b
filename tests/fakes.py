"""speechqa with the character n-gram encoder in place of the model, in this process or in one of its own.

Settings naming `CHAR_NGRAMS_MODEL` get `CharNgramEncoder` from `embeddings.loader.load_encoder` once
`use_char_ngrams()` has run (conftest's `fake_model` fixture, for one test); any other model loads as
before. A test starts the CLI or a server that way with `python -m tests.fakes ARGS…` in
`char_ngrams_env()`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from embeddings.char_ngrams import CHAR_NGRAMS_MODEL, CharNgramEncoder

__all__ = ["CHAR_NGRAMS_MODEL", "CharNgramEncoder", "char_ngrams_env", "char_ngrams_loader", "use_char_ngrams"]


def char_ngrams_loader(load_model: Callable) -> Callable:
    """A `load_encoder` that answers settings naming CHAR_NGRAMS_MODEL with the n-gram encoder and
    hands any other to load_model."""

    def load_encoder(settings):
        if settings.model == CHAR_NGRAMS_MODEL:
            return CharNgramEncoder()
        return load_model(settings)

    return load_encoder


def use_char_ngrams() -> None:
    """From now on, in this process, settings naming CHAR_NGRAMS_MODEL load the n-gram encoder."""
    import embeddings.loader

    embeddings.loader.load_encoder = char_ngrams_loader(embeddings.loader.load_encoder)


def char_ngrams_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment (os.environ by default) whose speechqa uses the n-gram encoder."""
    return {**(os.environ if env is None else env), "SPEECHQA_MODEL": CHAR_NGRAMS_MODEL}


if __name__ == "__main__":
    use_char_ngrams()
    from qa.cli import main

    main()
