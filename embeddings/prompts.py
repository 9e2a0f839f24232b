"""The prompts a model puts before queries and passages, decided in one place (numpy-free, so the
bundled model's fast path can use it)."""

from __future__ import annotations

from collections.abc import Mapping

KINDS = ("query", "passage")
# e5 models are trained with these prefixes and embed noticeably worse without them.
E5_PROMPTS = {"query": "query: ", "passage": "passage: "}


def is_e5(model_name: str) -> bool:
    """Whether a model name looks like an e5 model (the guess made for configs that declare no prompts)."""
    return "e5" in model_name.lower()


def model_prompts(model_name: str, configured: Mapping[str, str] | None) -> dict[str, str]:
    """The query and passage prompts a model's config declares; an e5 model's own when it declares none,
    because older hub configs of e5 models omit them."""
    declared = {kind: text for kind, text in (configured or {}).items() if kind in KINDS}
    if declared:
        return declared
    return dict(E5_PROMPTS) if is_e5(model_name) else {}
