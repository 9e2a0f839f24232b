"""HTML pages and fragments to text: a page's main text and title, a record field's markup removed."""

from __future__ import annotations

import html
import re

from qa.ingest.readers.contents import FileContents, read_all
from qa.ingest.readers.decoding import decode_text

# Page chrome: elements whose content is never the document's text.
_CHROME_ELEMENTS = ("script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form", "iframe", "svg")
_DROPPED_ELEMENTS = re.compile(rf"<({'|'.join(_CHROME_ELEMENTS)})\b[^>]*>.*?</\1\s*>", re.S | re.I)
_BLOCK_TAG = re.compile(
    r"<\s*/?\s*(?:p|br|div|li|ul|ol|h[1-6]|tr|table|section|article|blockquote|pre|dd|dt|hr)\b[^>]*>",
    re.I,
)
# Only real tags: a '<' followed by a letter, '/' or '!'. Chinese text on some sites writes
# book titles as <政府工作报告>, which must stay text.
_ANY_TAG = re.compile(r"<!--.*?-->|<![^>]*>|</?[A-Za-z][^>]*>", re.S)
_LOOKS_LIKE_HTML = re.compile(r"</?[A-Za-z][A-Za-z0-9]*\b[^>]*>|&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")
_SPACE_AROUND_NEWLINE = re.compile(r"[ \t\r\f\v\xa0]*\n\s*")
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?([A-Za-z0-9_-]+)", re.I)


def html_to_text(markup: str) -> str:
    """Text of an HTML fragment: block tags and ``<br>`` become line breaks, other tags go,
    entities are unescaped, and one newline separates paragraphs."""
    markup = _DROPPED_ELEMENTS.sub("", markup)
    markup = _BLOCK_TAG.sub("\n", markup)
    text = html.unescape(_ANY_TAG.sub("", markup))
    return _SPACE_AROUND_NEWLINE.sub("\n", text).strip()


def text_of_field(value: str) -> str:
    """A record's field as text: the text of its markup when it holds any, else the field as it is."""
    return html_to_text(value) if _LOOKS_LIKE_HTML.search(value) else value


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


def html_document(file: FileContents) -> tuple[str, str | None]:
    """Main text and title of a page: chrome elements go; the text is the page's only
    <article>, else its <main>, else its <body>; the title is its <h1>, else its <title>
    without the site name after "_", "|" or " - "."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(_decode_html(read_all(file)))
    page_title = tree.css_first("title")
    tree.strip_tags(list(_CHROME_ELEMENTS))
    heading = tree.css_first("h1")
    title = " ".join(heading.text().split()) if heading is not None else ""
    if not title and page_title is not None:
        title = _SITE_NAME_SEPARATOR.split(" ".join(page_title.text().split()))[0]
    articles = tree.css("article")
    root = articles[0] if len(articles) == 1 else tree.css_first("main") or tree.body or tree.root
    return (html_to_text(root.html or "") if root is not None else ""), title or None
