"""HTML pages and fragments to text: a page's main text and title, a record field's markup removed."""

from __future__ import annotations

import html
import re

from qa.ingest.readers.contents import FileContents, read_all
from qa.ingest.readers.decoding import decode_text

# Page chrome: elements whose content is never the document's text.
_CHROME_ELEMENTS = ("script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form", "iframe", "svg")
_CHROME_OPENING = re.compile(rf"<({'|'.join(_CHROME_ELEMENTS)})\b", re.I)
_CHROME_CLOSING = {name: re.compile(rf"</{name}\s*>", re.I) for name in _CHROME_ELEMENTS}
_BLOCK_TAG = re.compile(
    r"<\s*/?\s*(?:p|br|div|li|ul|ol|h[1-6]|tr|table|section|article|blockquote|pre|dd|dt|hr)\b[^>]*>",
    re.I,
)
# Only real tags: a '<' followed by a letter, '/' or '!'. Chinese text on some sites writes
# book titles as <政府工作报告>, which must stay text.
_COMMENT_OR_TAG = re.compile(r"<!--.*?-->|<![^>]*>|</?[A-Za-z][^>]*>", re.S)
_TAG = re.compile(r"<![^>]*>|</?[A-Za-z][^>]*>")
_LOOKS_LIKE_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*\b[^>]*>")
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")
# Spaces before a line break (counted from the first of them) and all space after it.
_SPACE_AROUND_NEWLINE = re.compile(r"(?<![ \t\r\f\v\xa0])[ \t\r\f\v\xa0]*\n\s*")
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?([A-Za-z0-9_-]+)", re.I)

# Each pattern above reads in time linear in the markup, however it is written: a tag pattern ends at a '>',
# so none is tried after the last one, and a comment or chrome element is looked for once past its last
# closing. (Tried at every '<', a tag without an end scanned to the end of the markup each time: 8,000
# unclosed "<script>" took seconds, and held every thread of the server meanwhile.)


def _drop_chrome(markup: str) -> str:
    """The markup without its chrome elements, each from its opening tag to its first closing one."""
    kept, kept_from, at = [], 0, 0
    closings: dict[str, re.Match[str] | None] = {}  # each name's first closing tag past where it was looked for
    while (opening := _CHROME_OPENING.search(markup, at)) is not None:
        at = opening.start() + 1
        tag_end = markup.find(">", opening.end())
        if tag_end < 0:
            break  # no tag ends after here
        name = opening.group(1).lower()
        closing = closings.get(name, opening)
        if closing is None:
            continue  # none closes after an earlier opening, so none after this one
        if closing is opening or closing.start() <= tag_end:
            closing = closings[name] = _CHROME_CLOSING[name].search(markup, tag_end + 1)
            if closing is None:
                continue
        kept.append(markup[kept_from : opening.start()])
        kept_from = at = closing.end()
    kept.append(markup[kept_from:])
    return "".join(kept)


def _replace_tags(pattern: re.Pattern[str], replacement: str, markup: str) -> str:
    """`pattern.sub` where every match ends with '>': none is tried past the last one."""
    end = markup.rfind(">") + 1
    return pattern.sub(replacement, markup[:end]) + markup[end:]


def _drop_tags(markup: str) -> str:
    """The markup without comments and tags; a comment can match only up to the last '-->'."""
    comments_end = markup.rfind("-->") + 3 if "-->" in markup else 0
    return _replace_tags(_COMMENT_OR_TAG, "", markup[:comments_end]) + _replace_tags(_TAG, "", markup[comments_end:])


def html_to_text(markup: str) -> str:
    """Text of an HTML fragment: block tags and ``<br>`` become line breaks, other tags go,
    entities are unescaped, and one newline separates paragraphs."""
    markup = _replace_tags(_BLOCK_TAG, "\n", _drop_chrome(markup))
    text = html.unescape(_drop_tags(markup))
    return _SPACE_AROUND_NEWLINE.sub("\n", text).strip()


def _looks_like_html(value: str) -> bool:
    return bool(_LOOKS_LIKE_TAG.search(value, 0, value.rfind(">") + 1) or _ENTITY.search(value))


def text_of_field(value: str) -> str:
    """A record's field as text: the text of its markup when it holds any, else the field as it is."""
    return html_to_text(value) if _looks_like_html(value) else value


def _decode_html(data: bytes) -> str:
    declared = _META_CHARSET.search(data[:4096])
    if declared:
        name = declared.group(1).decode("ascii").lower()
        name = {"gb2312": "gb18030", "gbk": "gb18030", "big5": "big5hkscs"}.get(name, name)
        try:
            return data.decode(name)
        except (LookupError, UnicodeDecodeError):
            pass  # a wrong declaration is common; detect instead
    return decode_text(data)


_SITE_NAME_SEPARATOR = re.compile(r"\s*(?:_|\||｜|\s[-–—]\s)\s*")


# Deeper than this, a page is read by the tag stripper instead of the parser, whose time grows with the
# depth times the number of tags (a page 80,000 elements deep took 14 s, one a million deep never ended);
# real pages nest a few dozen deep.
MAX_PARSED_DEPTH = 512
# Elements that hold no others (void) or that the parser closes by itself: their tags do not nest deeper.
_FLAT_ELEMENTS = ("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
                  "track", "wbr", "p", "li", "dt", "dd", "option", "tr", "td", "th")
_BODY = re.compile(r"<body\b[^>]*>", re.I)


def nesting_depth(markup: str) -> int:
    """How deep a page's elements nest, at least: its opening and closing tags counted in order (a stray
    closing tag never goes below 0), those of elements that hold no others left out. Linear in the markup."""
    import numpy as np

    longest = max(map(len, _FLAT_ELEMENTS))
    points = np.frombuffer((markup + "\0" * (longest + 2)).encode("utf-32-le"), dtype=np.uint32)
    lower = points | 0x20  # ASCII letters in lower case; what else changes is compared with letters only

    def is_letter(at: np.ndarray) -> np.ndarray:
        return (lower[at] >= ord("a")) & (lower[at] <= ord("z"))

    starts = np.flatnonzero(points[: len(markup)] == ord("<"))
    closing = points[starts + 1] == ord("/")
    name_at = starts + 1 + closing
    tags = is_letter(name_at)
    closing, name_at = closing[tags], name_at[tags]
    flat = np.zeros(len(name_at), dtype=bool)
    for name in _FLAT_ELEMENTS:
        same = np.ones(len(name_at), dtype=bool)
        for offset, char in enumerate(name):
            same &= lower[name_at + offset] == ord(char)
        after = name_at + len(name)
        flat |= same & ~is_letter(after) & ~((points[after] >= ord("0")) & (points[after] <= ord("9")))
    steps = np.where(closing, -1, 1)[~flat]
    if not len(steps):
        return 0
    level = np.cumsum(steps)
    return int((level - np.minimum.accumulate(np.minimum(level, 0))).max())


def html_document(file: FileContents) -> tuple[str, str | None]:
    """Main text and title of a page: chrome elements go; the text is the page's only
    <article>, else its <main>, else its <body>; the title is its <h1>, else its <title>
    without the site name after "_", "|" or " - ". A page nested deeper than MAX_PARSED_DEPTH
    is read without the parser: the text of its body, chrome dropped."""
    from selectolax.lexbor import LexborHTMLParser

    markup = _decode_html(read_all(file))
    if nesting_depth(markup) > MAX_PARSED_DEPTH:
        return _stripped_document(markup)
    tree = LexborHTMLParser(markup)
    page_title = tree.css_first("title")
    tree.strip_tags(list(_CHROME_ELEMENTS))
    heading = tree.css_first("h1")
    title = " ".join(heading.text().split()) if heading is not None else ""
    if not title and page_title is not None:
        title = _SITE_NAME_SEPARATOR.split(" ".join(page_title.text().split()))[0]
    articles = tree.css("article")
    root = articles[0] if len(articles) == 1 else tree.css_first("main") or tree.body or tree.root
    return (html_to_text(root.html or "") if root is not None else ""), title or None


def _stripped_document(markup: str) -> tuple[str, str | None]:
    """(text, title) of a page read by the tag stripper: its body's text, its first <h1> or else its <title>."""
    body = _BODY.search(markup, 0, markup.rfind(">") + 1)
    text = html_to_text(markup[body.end() :] if body else markup)
    title = _element_text(markup, "h1") or _SITE_NAME_SEPARATOR.split(_element_text(markup, "title"))[0]
    return text, title or None


def _element_text(markup: str, name: str) -> str:
    """The text of the first element `name` (its first closing tag ends it), or ""."""
    opening = re.compile(rf"<{name}\b[^>]*>", re.I).search(markup, 0, markup.rfind(">") + 1)
    closing = re.compile(rf"</{name}\s*>", re.I).search(markup, opening.end()) if opening else None
    if opening is None or closing is None:
        return ""
    return " ".join(html_to_text(markup[opening.end() : closing.start()]).split())
