"""embeddings/prompts.py: which prompts a model gets before queries and passages."""

from __future__ import annotations

from embeddings.prompts import E5_PROMPTS, is_e5, model_prompts


def test_declared_prompts_win_and_only_query_and_passage_count():
    declared = {"query": "Represent this question: ", "passage": "", "classification": "Classify: "}
    assert model_prompts("intfloat/multilingual-e5-small", declared) == {"query": "Represent this question: ", "passage": ""}


def test_an_e5_model_that_declares_none_gets_the_e5_prompts():
    for configured in (None, {}, {"classification": "Classify: "}):
        assert model_prompts("intfloat/Multilingual-E5-large", configured) == {"query": "query: ", "passage": "passage: "}
    assert E5_PROMPTS == {"query": "query: ", "passage": "passage: "}


def test_other_models_that_declare_none_get_none():
    assert model_prompts("sentence-transformers/all-MiniLM-L6-v2", None) == {}
    assert not is_e5("BAAI/bge-m3") and is_e5("/models/my-e5-copy")


def test_the_result_is_a_copy():
    prompts = model_prompts("e5", None)
    prompts["query"] = "changed"
    assert E5_PROMPTS["query"] == "query: "
