"""qa.text.sentences: sentence spans, and the groups the model reads a sentence at a time."""

from __future__ import annotations

from qa.ingest.pipeline import SENTENCE_MIN_CHARS, embed_sentences, embedded_sentence_spans
from qa.text.sentences import sentence_groups, split_sentences

LONG = "要把招商引资作为经济工作的生命线，全力以赴抓项目、促投资。"  # at least SENTENCE_MIN_CHARS


def test_a_short_sentence_is_grouped_with_the_next_and_a_short_tail_stands_alone():
    text = "同志們！" + LONG + "謝謝。"
    spans = split_sentences(text)
    assert sentence_groups(text, SENTENCE_MIN_CHARS) == [spans[:2], spans[2:]]


def test_text_without_a_sentence_is_one_group():
    assert sentence_groups("", SENTENCE_MIN_CHARS) == [[(0, 0)]]
    assert sentence_groups("   ", SENTENCE_MIN_CHARS) == [[(0, 3)]]


def test_embedded_sentence_spans_are_where_the_embedded_sentences_lie():
    text = "同志們！" + LONG + "\n" + LONG + "謝謝。"
    spans = embedded_sentence_spans(text)
    assert spans is not None
    from qa.text.normalize import to_simplified

    assert [to_simplified(text[start:end]) for start, end in spans] == embed_sentences(text)
