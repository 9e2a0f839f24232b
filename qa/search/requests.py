"""What each operation takes — search, similar passages, phrase timeline, document list — declared once.

Every front end takes its parameters from these models: the HTTP API (query string and JSON body, under
the aliases it has always used: q, doc, ignore_filter), the pages, the CLI (options named after the aliases)
and the MCP tools (arguments named after the fields). The services call `checked()`, the one validation,
whose messages say what to change. The bounds in each field's schema are stated for the OpenAPI
description and enforced by `checked()`, so a client hears them as a 400 with that message, never as a
bare schema error.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from qa.errors import BadInputError, FieldError
from qa.search.query import parse_switched_off
from qa.text.normalize import drop_surrogates
from qa.types import PassageFilter

MODES = ("hybrid", "dense", "lexical")
MAX_K = 100
MAX_QUERY_CHARS = 2000  # the default of Settings.max_query_chars; a service may be given another
MAX_PHRASE_CHARS = 100
# One character is no formulation, and would list a good part of the collection's characters.
MIN_PHRASE_CHARS = 2
MAX_PHRASE_LIMIT = 10_000  # occurrences in one page or one export
GRANULARITIES = ("auto", "month", "year")
MAX_DOCUMENTS_LIMIT = 500
MAX_REUSE_TEXT_CHARS = 20_000  # a pasted text: a long speech, not a collection
MAX_REUSE_LIMIT = 1_000  # reusing documents in one page
MAX_TOP_REUSE_LIMIT = 100
MAX_OFFSET = 1_000_000_000  # far past any collection, well inside SQLite's 64-bit integers

# What the services take as "not empty": a character that str.strip() keeps (and, for queries, that
# is no control character). Spelled out, so that Python and JSON-schema regexes read it alike.
_WHITESPACE = r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
HAS_TEXT = f"[^{_WHITESPACE}]"
HAS_QUERY_TEXT = rf"[^{_WHITESPACE}\x00-\x08\x0e-\x1f\x7f]"
HAS_TWO_CHARACTERS = rf"{HAS_TEXT}[\s\S]*{HAS_TEXT}"  # what a phrase keeps after strip() is 2+ characters long
# One named date or speaker to switch off, as parse_switched_off reads it, or a blank.
IGNORE_FILTER_ITEM = {"type": "string",
                      "pattern": rf"^[{_WHITESPACE}]*$|^[{_WHITESPACE}]*(date|speaker)[{_WHITESPACE}]*:[\s\S]*{HAS_TEXT}"}
# Control characters (NUL and the like) carry nothing to search for; tabs and line breaks stay.
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# How the HTTP API names what a message names as {field} (its aliases) and the actions it suggests.
API_WORDS = {"query": "q", "phrase": "q", "doc_ids": "doc", "ignore_filters": "ignore_filter",
             "list_documents": "GET /api/documents"}


def _bad(template: str) -> FieldError:
    """Bad input in a request's fields, each named in `template` as {field} (qa.errors.Worded)."""
    return FieldError(template, API_WORDS)


def _listed(value: object) -> object:
    """One value where a list may be given: a JSON body or an MCP call may send a lone string."""
    return (value,) if isinstance(value, str) else value


# An empty date is no filter (the pages' forms send one): the schema says so.
_DATE = dict(anyOf=[{"type": "string", "format": "date"}, {"type": "string", "maxLength": 0}, {"type": "null"}])
_TEXT_LIST = WithJsonSchema({"anyOf": [{"items": {"type": "string"}, "type": "array"}, {"type": "string"}]})
_SWITCH_LIST = WithJsonSchema({"anyOf": [{"items": IGNORE_FILTER_ITEM, "type": "array"}, IGNORE_FILTER_ITEM]})
TextList = Annotated[tuple[str, ...], BeforeValidator(_listed), _TEXT_LIST]
# The fields several requests share, each declared once (defaults stay beside the fields, where type checkers see them).
PassageCount = Annotated[int, Field(description=f"passages, 1-{MAX_K}",
                                    json_schema_extra=dict(minimum=1, maximum=MAX_K))]
LeftOut = Annotated[str | None, Field(description="leave out passages of this document")]
Prefer = Annotated[bool, Field(description="let the dates and speakers the question names favour documents that fit "
                                           "them (hybrid mode; a soft preference, never a filter; the response's "
                                           "`preferences` says what was read); false turns it off")]
SwitchedOff = Annotated[tuple[str, ...], BeforeValidator(_listed), _SWITCH_LIST,
                        Field(validation_alias="ignore_filter",
                              description="switch off one date or speaker the question names, as applied_filters lists "
                                          "it: date:2024, speaker:賴清德 (repeatable)")]
IsoDate = Annotated[str | None, Field(description="ISO date, inclusive, on the speech's date", json_schema_extra=_DATE)]


class _Request(BaseModel):
    # Python callers and MCP arguments name the fields; the HTTP API names their aliases.
    model_config = ConfigDict(frozen=True, validate_by_name=True, validate_by_alias=True)


class Filters(_Request):
    """The documents an operation looks in: the one filter every request below carries."""

    doc_ids: TextList = Field(default=(), validation_alias="doc",
                              description="restrict to these document ids (repeatable)")
    date_from: IsoDate = None
    date_to: IsoDate = None
    speaker: str | None = Field(default=None, description="restrict to speeches by this speaker")
    source: str | None = Field(default=None, description="only documents from this site or file (a value of "
                                                         "facets.source or by_source)")

    @property
    def where(self) -> PassageFilter:
        """The filter as the index takes it."""
        return PassageFilter(doc_ids=self.doc_ids, date_from=self.date_from, date_to=self.date_to,
                             speaker=self.speaker, source=self.source)

    def _check_text(self, *more: tuple[str, str | None]) -> None:
        """Refuse ids and names that are not text; `more` are the request's other ones, as (name, value)."""
        for name, values in (("doc", self.doc_ids), ("speaker", (self.speaker,)), ("source", (self.source,)),
                             *((name, (value,)) for name, value in more)):
            for value in values:
                if value is not None and drop_surrogates(value) != value:
                    raise BadInputError(f"{name} holds an unpaired surrogate (a lone \\ud800-\\udfff escape), which is "
                                        "not text: send document ids and names as the API gives them")

    def _checked_where(self) -> dict[str, Any]:
        """The filter's fields, dates checked and normalised, a blank name none."""
        date_from = _iso_date(self.date_from, "date_from")
        date_to = _iso_date(self.date_to, "date_to")
        if date_from and date_to and date_from > date_to:
            raise _bad(f"{{date_from}} ({date_from}) is after {{date_to}} ({date_to}); swap them")
        return {"doc_ids": tuple(self.doc_ids), "date_from": date_from, "date_to": date_to,
                "speaker": self.speaker or None, "source": self.source or None}


def _iso_date(value: str | None, name: str) -> str | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise _bad(f"{{{name}}} must be an ISO date such as 2022-06-10, not {value!r}") from None


def _checked_switches(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{kind}:{value}" for kind, value in parse_switched_off(values))


def _checked_count(k: int) -> int:
    if not 1 <= k <= MAX_K:
        raise _bad(f"{{k}} must be between 1 and {MAX_K}, not {k}")
    return k


class SearchRequest(Filters):
    """A question or pasted text, and how to answer it."""

    query: str = Field(validation_alias="q", description="question or pasted text, any script, 1-2,000 characters",
                       json_schema_extra=dict(minLength=1, maxLength=MAX_QUERY_CHARS, pattern=HAS_QUERY_TEXT))
    k: PassageCount = 10
    mode: str = Field(default="hybrid", description="hybrid, dense or lexical",
                      json_schema_extra=dict(enum=list(MODES)))
    exclude_doc: LeftOut = None
    prefer: Prefer = True
    ignore_filters: SwitchedOff = ()

    def checked(self, max_query_chars: int = MAX_QUERY_CHARS) -> SearchRequest:
        """This request as the service runs it, or BadInputError saying what to change."""
        self._check_text(("exclude_doc", self.exclude_doc))
        query = _CONTROL_CHARS.sub(" ", drop_surrogates(self.query or "")).strip()
        if not query:
            raise _bad("the query is empty: type a question or paste a passage as {query}")
        if len(query) > max_query_chars:
            raise BadInputError(f"the query is {len(query)} characters long; shorten it to at most {max_query_chars}")
        _checked_count(self.k)
        if self.mode not in MODES:
            raise _bad(f"{{mode}} must be one of {', '.join(MODES)}, not {self.mode!r}")
        where = self._checked_where()
        return self.model_copy(update={**where, "query": query, "ignore_filters": _checked_switches(self.ignore_filters)})


class SimilarRequest(Filters):
    """Passages of other documents that say what a pasted text or a stored passage says."""

    # Exactly one of the two, as text: the schema says what the service asks for.
    model_config = ConfigDict(json_schema_extra={"oneOf": [
        {"required": ["text"], "properties": {"text": {"type": "string"}}},
        {"required": ["chunk_id"], "properties": {"chunk_id": {"type": "string", "minLength": 1}}},
    ]})

    text: str | None = Field(default=None, description="pasted text to compare; or give chunk_id",
                             json_schema_extra=dict(maxLength=MAX_QUERY_CHARS, pattern=HAS_QUERY_TEXT))
    chunk_id: str | None = Field(default=None, description="start from a stored passage; its own document is left out")
    k: PassageCount = 10
    exclude_doc: LeftOut = None
    prefer: Prefer = True
    ignore_filters: SwitchedOff = ()

    def stored_chunk(self) -> str | None:
        """chunk_id, once it is known to be text (a lone surrogate cannot name a stored passage)."""
        if self.chunk_id is not None and drop_surrogates(self.chunk_id) != self.chunk_id:
            raise BadInputError("chunk_id holds an unpaired surrogate (a lone \\ud800-\\udfff escape), which is not "
                                "text: take chunk ids from search results")
        if self.chunk_id and self.text and self.text.strip():
            raise _bad("give {text} or {chunk_id}, not both: the text to compare, or the stored passage to start from")
        return self.chunk_id or None

    def search(self, text: str, exclude_doc: str | None) -> SearchRequest:
        """The hybrid search that finds them: `text` is the pasted or the stored passage's, `exclude_doc` the
        document left out (the stored passage's own unless the request names one)."""
        if not text or not text.strip():
            raise _bad("give the text to compare as {text}, or a stored passage's id as {chunk_id}")
        return SearchRequest(query=text, k=self.k, exclude_doc=exclude_doc, prefer=self.prefer,
                             ignore_filters=self.ignore_filters, **self._filter_fields())

    def _filter_fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in Filters.model_fields}


class PhraseRequest(Filters):
    """Every exact occurrence of a phrase, in either script, over time."""

    phrase: str = Field(validation_alias="q",
                        description=f"the exact phrase, either script, {MIN_PHRASE_CHARS}-{MAX_PHRASE_CHARS} characters",
                        json_schema_extra=dict(minLength=MIN_PHRASE_CHARS, maxLength=MAX_PHRASE_CHARS,
                                               pattern=HAS_TWO_CHARACTERS))
    granularity: str = Field(default="auto", description="auto, month or year",
                             json_schema_extra=dict(enum=list(GRANULARITIES)))
    offset: int = Field(default=0, description="occurrences to skip",
                        json_schema_extra=dict(minimum=0, maximum=MAX_OFFSET))
    limit: int = Field(default=50, description=f"occurrences listed, 1-{MAX_PHRASE_LIMIT} (a download lists every one "
                                               "unless told)",
                       json_schema_extra=dict(minimum=1, maximum=MAX_PHRASE_LIMIT))

    def checked(self) -> PhraseRequest:
        """This request as the timeline runs it, or BadInputError saying what to change."""
        self._check_text()
        phrase = drop_surrogates(self.phrase or "").strip()
        if not phrase:
            raise _bad("the phrase is empty: give the exact wording to look for as {phrase}")
        if len(phrase) < MIN_PHRASE_CHARS:
            raise BadInputError(f"the phrase {phrase!r} is one character; give at least {MIN_PHRASE_CHARS} "
                                "(a word or a formulation such as 工业强县)")
        if len(phrase) > MAX_PHRASE_CHARS:
            raise BadInputError(f"the phrase is {len(phrase)} characters long; a phrase timeline takes at most "
                                f"{MAX_PHRASE_CHARS} — for a longer passage use the similar-passage search")
        if self.granularity not in GRANULARITIES:
            raise BadInputError(f"granularity must be one of {', '.join(GRANULARITIES)}, not {self.granularity!r}")
        if self.offset > MAX_OFFSET:
            raise BadInputError(f"offset must be at most {MAX_OFFSET:,}, not {self.offset}")
        if self.offset < 0 or not 1 <= self.limit <= MAX_PHRASE_LIMIT:
            raise BadInputError(f"offset must be ≥ 0 and limit between 1 and {MAX_PHRASE_LIMIT}")
        return self.model_copy(update={**self._checked_where(), "phrase": phrase})


class ReuseRequest(Filters):
    """One stored passage (``chunk_id``) or a pasted ``text``, and which documents may count as reusing it."""

    model_config = ConfigDict(json_schema_extra={"anyOf": [
        {"required": ["text"], "properties": {"text": {"type": "string"}}},
        {"required": ["chunk_id"], "properties": {"chunk_id": {"type": "string", "minLength": 1}}},
    ]})

    chunk_id: str | None = Field(default=None, description="a stored passage; its own document is left out")
    text: str | None = Field(default=None, description=f"pasted text, at most {MAX_REUSE_TEXT_CHARS:,} characters; or give chunk_id",
                             json_schema_extra=dict(maxLength=MAX_REUSE_TEXT_CHARS))
    hide_series: bool = Field(default=False, description="leave out the documents of the passage's own series "
                                                         "(same source, same title but for its numbers)")
    granularity: str = Field(default="auto", description="auto, month or year",
                             json_schema_extra=dict(enum=list(GRANULARITIES)))
    offset: int = Field(default=0, description="reusing documents to skip", json_schema_extra=dict(minimum=0, maximum=MAX_OFFSET))
    limit: int = Field(default=50, description=f"reusing documents listed, 1-{MAX_REUSE_LIMIT}",
                       json_schema_extra=dict(minimum=1, maximum=MAX_REUSE_LIMIT))

    def checked(self) -> ReuseRequest:
        """This request as the report runs it, or BadInputError saying what to change."""
        self._check_text(("chunk_id", self.chunk_id))
        text = drop_surrogates(self.text or "").strip() or None
        chunk_id = (self.chunk_id or "").strip() or None
        if (text is None) == (chunk_id is None):
            raise BadInputError("give either the chunk_id of a stored passage or a text to look for (text=...), not both")
        if text is not None and len(text) > MAX_REUSE_TEXT_CHARS:
            raise BadInputError(f"the text is {len(text)} characters long; reuse takes at most {MAX_REUSE_TEXT_CHARS:,}")
        if self.granularity not in GRANULARITIES:
            raise BadInputError(f"granularity must be one of {', '.join(GRANULARITIES)}, not {self.granularity!r}")
        if not 0 <= self.offset <= MAX_OFFSET or not 1 <= self.limit <= MAX_REUSE_LIMIT:
            raise BadInputError(f"offset must be between 0 and {MAX_OFFSET:,} and limit between 1 and {MAX_REUSE_LIMIT}")
        return self.model_copy(update={**self._checked_where(), "chunk_id": chunk_id, "text": text})


class TopReuseRequest(Filters):
    """The most reused passages among the documents the filter allows."""

    hide_series: bool = Field(default=False, description="count only documents outside each passage's own series")
    limit: int = Field(default=20, description=f"passages listed, 1-{MAX_TOP_REUSE_LIMIT}",
                       json_schema_extra=dict(minimum=1, maximum=MAX_TOP_REUSE_LIMIT))

    def checked(self) -> TopReuseRequest:
        """This request as the list runs it, or BadInputError saying what to change."""
        self._check_text()
        if not 1 <= self.limit <= MAX_TOP_REUSE_LIMIT:
            raise BadInputError(f"limit must be between 1 and {MAX_TOP_REUSE_LIMIT}, not {self.limit}")
        return self.model_copy(update=self._checked_where())


class DocumentsRequest(_Request):
    """A page of the collection's documents."""

    offset: int = Field(default=0, description="documents to skip",
                        json_schema_extra=dict(minimum=0, maximum=MAX_OFFSET))
    limit: int = Field(default=50, description=f"documents to list, 1-{MAX_DOCUMENTS_LIMIT}",
                       json_schema_extra=dict(minimum=1, maximum=MAX_DOCUMENTS_LIMIT))

    def checked(self) -> DocumentsRequest:
        if not 0 <= self.offset <= MAX_OFFSET or not 1 <= self.limit <= MAX_DOCUMENTS_LIMIT:
            raise BadInputError(f"offset must be between 0 and {MAX_OFFSET:,} and limit between 1 and "
                                f"{MAX_DOCUMENTS_LIMIT}, not offset={self.offset}, limit={self.limit}")
        return self


@dataclass(frozen=True)
class Parameter:
    """A request's field as a front end outside HTTP offers it (the CLI's options, the MCP tools' arguments)."""

    name: str  # the field's, as Python and MCP name it
    alias: str  # as the HTTP API names it: q, doc, ignore_filter, or the name
    annotation: Any  # a list field is `list[str] | None`, None meaning the field's default (no value)
    default: Any  # ... where the field is required
    description: str


def parameters(model: type[BaseModel]) -> list[Parameter]:
    """The fields of a request model, in their order, as plain parameters."""
    out = []
    for name, info in model.model_fields.items():
        alias = info.validation_alias if isinstance(info.validation_alias, str) else name
        listed = info.annotation == tuple[str, ...]
        default = None if listed else ... if info.is_required() else info.default
        out.append(Parameter(name, alias, list[str] | None if listed else info.annotation, default, info.description or ""))
    return out


OPERATIONS: dict[str, type[_Request]] = {"search": SearchRequest, "similar": SimilarRequest, "phrase": PhraseRequest,
                                         "reuse": ReuseRequest, "reuse_top": TopReuseRequest,
                                         "documents": DocumentsRequest}
