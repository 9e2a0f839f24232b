"""web/render.py: marked segments from stored offsets, document pieces, source display; and the templates that use them."""

from __future__ import annotations

import pytest

from qa.search.requests import MODES
from qa.types import Document, Hit, Metadata, Passage
from web.render import document_segments, segments, source_name, templates, web_link


# -- segments -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spans", "expected"),
    [
        ([], [("abcdefgh", False)]),
        ([(2, 5)], [("ab", False), ("cde", True), ("fgh", False)]),
        ([(0, 3)], [("abc", True), ("defgh", False)]),
        ([(5, 8)], [("abcde", False), ("fgh", True)]),
        ([(0, 8)], [("abcdefgh", True)]),
        ([(6, 8), (0, 2)], [("ab", True), ("cdef", False), ("gh", True)]),  # any order
        ([(0, 2), (2, 4)], [("ab", True), ("cd", True), ("efgh", False)]),  # adjacent spans stay separate marks
        ([(0, 4), (2, 6)], [("abcd", True), ("ef", True), ("gh", False)]),  # overlap: each character marked once
        ([(0, 6), (2, 4)], [("abcdef", True), ("gh", False)]),  # a span inside another adds nothing
        ([(-3, 2), (6, 99)], [("ab", True), ("cdef", False), ("gh", True)]),  # clipped to the text
        ([(3, 3), (5, 2)], [("abcdefgh", False)]),  # empty and reversed spans mark nothing
        ([(20, 30)], [("abcdefgh", False)]),  # past the end
        ([[1, 2]], [("a", False), ("b", True), ("cdefgh", False)]),  # JSON lists work like tuples
    ],
)
def test_segments(spans, expected):
    assert segments("abcdefgh", spans) == expected


def test_segments_of_chinese_text_keep_every_character():
    text = "招商引資進度全市排名最后,與6月末實現目標存在較大差距。"
    pieces = segments(text, [(0, 12)])
    assert pieces == [("招商引資進度全市排名最后", True), (",與6月末實現目標存在較大差距。", False)]
    assert "".join(piece for piece, _ in pieces) == text


def test_segments_of_empty_text():
    assert segments("", []) == []
    assert segments("", [(0, 3)]) == []


# -- document_segments --------------------------------------------------------------------------
def passage(chunk_id: str, start: int, end: int, text: str) -> Passage:
    return Passage(chunk_id, "d-1", 0, text[start:end], start, end)


TEXT = "一二三四五六七八九十"


def test_document_segments_split_at_every_passage_boundary():
    passages = [passage("c-a", 0, 6, TEXT), passage("c-b", 4, 10, TEXT)]  # overlapping by two characters
    assert document_segments(TEXT, passages, "c-a") == [
        {"text": "一二三四", "chunks": ["c-a"], "anchors": ["c-a"], "cited": True},
        {"text": "五六", "chunks": ["c-a", "c-b"], "anchors": ["c-b"], "cited": True},
        {"text": "七八九十", "chunks": ["c-b"], "anchors": [], "cited": False},
    ]
    assert [piece["cited"] for piece in document_segments(TEXT, passages, "c-b")] == [False, True, True]
    assert [piece["cited"] for piece in document_segments(TEXT, passages, None)] == [False, False, False]
    assert [piece["cited"] for piece in document_segments(TEXT, passages, "c-unknown")] == [False, False, False]


def test_document_segments_keep_text_outside_passages():
    passages = [passage("c-a", 2, 5, TEXT)]
    assert document_segments(TEXT, passages, "c-a") == [
        {"text": "一二", "chunks": [], "anchors": [], "cited": False},
        {"text": "三四五", "chunks": ["c-a"], "anchors": ["c-a"], "cited": True},
        {"text": "六七八九十", "chunks": [], "anchors": [], "cited": False},
    ]


def test_document_segments_without_passages_is_the_whole_text():
    assert document_segments(TEXT, [], None) == [{"text": TEXT, "chunks": [], "anchors": [], "cited": False}]
    assert document_segments("", [], None) == []


def test_document_segments_put_back_together_are_the_document():
    passages = [passage("c-a", 0, 3, TEXT), passage("c-b", 3, 7, TEXT), passage("c-c", 6, 10, TEXT)]
    pieces = document_segments(TEXT, passages, "c-b")
    assert "".join(piece["text"] for piece in pieces) == TEXT
    assert "".join(piece["text"] for piece in pieces if piece["cited"]) == TEXT[3:7]
    assert [anchor for piece in pieces for anchor in piece["anchors"]] == ["c-a", "c-b", "c-c"]


# -- sources ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("/srv/speechqa/uploads/002_efcfb80e12f1a49d.txt", "002_efcfb80e12f1a49d.txt"),
        ("002_efcfb80e12f1a49d.txt", "002_efcfb80e12f1a49d.txt"),
        ("C:\\speeches\\讲话.docx", "讲话.docx"),
        ("news.jsonl.gz:17", "news.jsonl.gz:17"),
        ("https://example.org/news/2022/06/10.html", "https://example.org/news/2022/06/10.html"),
        (None, ""),
        ("", ""),
    ],
)
def test_source_name_never_shows_the_server_folders(source, shown):
    assert source_name(source) == shown


@pytest.mark.parametrize(
    ("source", "link"),
    [
        ("https://example.org/a.html", "https://example.org/a.html"),
        ("HTTP://example.org/a.html", "HTTP://example.org/a.html"),
        ("javascript:alert(1)", None),
        ("data:text/html,<script>alert(1)</script>", None),
        ("/etc/passwd", None),
        ("speech.txt", None),
        (None, None),
    ],
)
def test_only_web_addresses_become_links(source, link):
    assert web_link(source) == link


# -- the templates escape speech text and mark only from offsets ------------------------------------
EVIL = "<script>alert(1)</script>"


def evil_hit() -> Hit:
    text = f"前言{EVIL}重点句子。后文"
    document = Document("d-1", text, "h", Metadata(title=f"标题{EVIL}", date="2022-06-10", speaker="张三"), "zh-Hans",
                        ("/srv/data/evil.txt",))
    return Hit(1, 0.5, Passage("c-1", "d-1", 0, text, 0, len(text), section="一、总体要求"), document,
               highlights=((2 + len(EVIL), 2 + len(EVIL) + 5),))


def test_templates_autoescape():
    assert templates.env.autoescape("_hit.html") is True


def test_a_hit_is_escaped_marked_and_cited():
    html = templates.env.get_template("_hit.html").render(hit=evil_hit())
    assert EVIL not in html
    assert ('<blockquote class="passage">前言&lt;script&gt;alert(1)&lt;/script&gt;<mark>重点句子。</mark>后文</blockquote>'
            in html)
    assert ('<a class="cite-link" href="/doc/d-1?chunk=c-1#c-1">标题&lt;script&gt;alert(1)&lt;/script&gt;</a>'
            '<span class="sep"> · </span><time datetime="2022-06-10">2022-06-10</time>'
            '<span class="sep"> · </span><span class="speaker">张三</span>'
            '<span class="sep"> · </span><span class="section">一、总体要求</span>') in html
    assert '<span class="source">evil.txt · 第 0–34 字 chars</span>' in html
    assert 'href="/similar?chunk=c-1"' in html


def test_the_document_page_marks_the_cited_passage_and_escapes_the_text():
    hit = evil_hit()
    text = hit.document.text
    passages = [Passage("c-1", "d-1", 0, text[:10], 0, 10), Passage("c-2", "d-1", 1, text[8:], 8, len(text))]
    html = templates.env.get_template("doc.html").render(
        document=hit.document, passages=passages, cited="c-2", can_write=False, needs_token=False, modes=MODES)
    assert EVIL not in html
    assert ('<div class="speech-text" data-cited="c-2">'
            '<a class="anchor" id="c-1" href="/similar?chunk=c-1" title="相似段落 similar passages">¶</a>'
            '<span class="seg c-1">前言&lt;scrip</span>'
            '<a class="anchor" id="c-2" href="/similar?chunk=c-2" title="相似段落 similar passages">¶</a>'
            '<span class="seg c-1 c-2 cited"><mark>t&gt;</mark></span>'
            '<span class="seg c-2 cited"><mark>alert(1)&lt;/script&gt;重点句子。后文</mark></span></div>') in html
    assert "<title>标题&lt;script&gt;alert(1)&lt;/script&gt; · speechqa</title>" in html
    # citing the first passage: the ¶ of the second, which starts inside it, is shaded with it
    html = templates.env.get_template("doc.html").render(
        document=hit.document, passages=passages, cited="c-1", can_write=False, needs_token=False, modes=MODES)
    assert ('<a class="anchor in-cited" id="c-2" href="/similar?chunk=c-2" title="相似段落 similar passages">¶</a>'
            '<span class="seg c-1 c-2 cited"><mark>t&gt;</mark></span><span class="seg c-2">alert(1)') in html
    assert "移除此文档" not in html  # no remove form for those who may not write


def plain_document_segments(text: str, passages: list[Passage], cited: str | None) -> list[dict]:
    """The definition, quadratic: every passage that covers a piece, in the order given."""
    bounds = sorted({0, len(text), *(p.char_start for p in passages), *(p.char_end for p in passages)})
    return [
        {"text": text[start:end],
         "chunks": [p.chunk_id for p in passages if p.char_start <= start and end <= p.char_end],
         "anchors": [p.chunk_id for p in passages if p.char_start == start],
         "cited": any(p.chunk_id == cited and p.char_start <= start and end <= p.char_end for p in passages)}
        for start, end in zip(bounds, bounds[1:], strict=False) if start < end
    ]


def test_document_segments_match_the_definition_on_many_overlapping_passages():
    text = "字" * 6_000
    passages = [passage(f"c-{i}", max(0, 10 * i - 3), 10 * i + 10, text) for i in range(600)]
    passages += [passage("c-whole", 0, 6_000, text), passage("c-same-start", 70, 75, text)]
    shuffled = passages[1::2] + passages[::2]  # the order given is kept, whatever it is
    for given in (passages, shuffled):
        assert document_segments(text, given, "c-7") == plain_document_segments(text, given, "c-7")
    pieces = document_segments(text, passages[:600], "c-7")
    assert [p["text"] for p in pieces if p["cited"]] == ["字" * 3, "字" * 7, "字" * 3]
