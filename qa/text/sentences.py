"""Sentence spans of Chinese (and mixed) text: what passages, highlights and query windows are cut from."""

from __future__ import annotations

import re
from collections.abc import Iterator

# Characters that end a sentence; a run of them stays together ("……", "?!", "。。"), and the
# closing quotes and brackets after it belong to the sentence they close: "。”" stays together.
_CJK_TERMINATORS = "。！？；…⋯"
_ASCII_TERMINATORS = "!?;"
TERMINATORS = _CJK_TERMINATORS + _ASCII_TERMINATORS
CLOSERS = "”’」』）)】》〞\"'"
_T, _C, _A, _CJK = (re.escape(chars) for chars in (TERMINATORS, CLOSERS, _ASCII_TERMINATORS, _CJK_TERMINATORS))
_LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"  # everything str.splitlines() breaks at
# ASCII !?; also occur inside pinyin mojibake ("再?gòu") and entities, so a run of only ASCII
# terminators ends a sentence only when no ASCII letter or digit follows it.
_STOP = (
    rf"[{_T}]"
    rf"(?:(?<=[{_CJK}])[{_T}]*[{_C}]*"  # starts with a Chinese terminator: always a stop
    rf"|[{_A}]*+(?:[{_CJK}][{_T}]*[{_C}]*"  # ASCII run that reaches a Chinese terminator
    rf"|[{_C}]*+(?![A-Za-z0-9])))"  # ASCII-only run, not glued to a word
)
# One sentence: starts at a non-space, runs over anything but terminators and line breaks
# (ASCII runs glued to a word included), and takes its stop if it has one. Matching whole
# sentences in one regex keeps the per-sentence Python work to a minimum.
_SENTENCE = re.compile(rf"(?=\S)(?:[^{_T}{_LINE_BREAKS}]++|[{_A}]++[{_C}]*+(?=[A-Za-z0-9]))*(?:{_STOP})?")
LINE_BREAK = re.compile(f"[{_LINE_BREAKS}]")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans ``[start, end)`` covering every non-whitespace character of ``text``.

    A sentence ends after a run of 。！？；… (or ASCII !?; not followed by an ASCII letter or
    digit), together with any closing quotes or brackets, and at every line break. Spans never
    start or end with whitespace and are never empty.
    """
    return list(iter_sentences(text))


def iter_sentences(text: str) -> Iterator[tuple[int, int]]:
    """The spans of `split_sentences`, one at a time (chunking reads them as it goes)."""
    for match in _SENTENCE.finditer(text):
        yield _trim_end(text, *match.span())


def _trim_end(text: str, start: int, end: int) -> tuple[int, int]:
    # A sentence without a stop runs to its line break, spaces before it included.
    if text[end - 1].isspace():
        end = start + len(text[start:end].rstrip())
    return start, end


def sentence_groups(text: str, min_chars: int) -> list[list[tuple[int, int]]]:
    """The sentences of ``text`` as a reader takes them: one shorter than ``min_chars`` (a heading,
    "他說：") goes with the next ones until the group is that long; a short last one stands alone.

    Text without a sentence is one group of its whole span, so every text has at least one.
    """
    groups: list[list[tuple[int, int]]] = []
    pending: list[tuple[int, int]] = []
    size = 0
    for start, end in split_sentences(text) or [(0, len(text))]:
        pending.append((start, end))
        size += end - start
        if size >= min_chars:
            groups.append(pending)
            pending, size = [], 0
    if pending or not groups:
        groups.append(pending)
    return groups
