"""What ingest records about a document besides its text: its metadata, read from a new document
(``extract_metadata``) or again from a stored one (``refresh_metadata``), and its content hash."""

from __future__ import annotations

import hashlib
from dataclasses import replace

from qa.ingest.metadata.attribution import speaker_and_place
from qa.ingest.metadata.heading import (
    HEAD_CHARS,
    byline,
    date_line,
    file_name_title,
    first_line_title,
    published_date,
    speaker_from_text,
    tidy_title,
)
from qa.text.normalize import normalize_for_matching
from qa.types import Document, Metadata, RawDocument


def extract_metadata(raw: RawDocument, cleaned: str) -> Metadata:
    """Title, date (with its kind), speaker and place of one document.

    Args:
        raw: the document as read; its fields win, and its text holds clues that cleaning drops.
        cleaned: ``clean_text(raw.text)``.

    Returns:
        Metadata where ``date_kind`` is "speech" when the text states when the speech was given
        (``(2023年5月11日在…)``), "published" for a publication date (a ``时间:`` line or the
        record's date), and every field nobody stated is None.
    """
    head = raw.text[:HEAD_CHARS]
    byline_title, speaker, speech_date, place = byline(head)
    if speech_date is None:
        speech_date = date_line(head)
    title = (
        (tidy_title(raw.title) if raw.title else None)
        or byline_title
        or first_line_title(cleaned)
        or file_name_title(raw.text)
    )
    date: str | None
    date_kind: str | None
    if speech_date:
        date, date_kind = speech_date, "speech"
    else:
        date = published_date(head) or raw.date
        date_kind = "published" if date else None
    found_speaker, found_place = speaker_and_place(title, cleaned, date)
    return Metadata(
        title=title,
        date=date,
        date_kind=date_kind,
        speaker=raw.speaker or speaker or found_speaker or speaker_from_text(head, title),
        place=raw.place or place or found_place,
    )


def refresh_metadata(document: Document) -> Metadata:
    """A stored document's metadata with the speaker and place its stored title and cleaned text state,
    for collections built before these were read; fields already known (a record's own) are kept."""
    meta = document.metadata
    head = document.text[:HEAD_CHARS]
    _, byline_speaker, _, byline_place = byline(head)
    found_speaker, found_place = speaker_and_place(meta.title, document.text, meta.date)
    return replace(
        meta,
        speaker=meta.speaker or byline_speaker or found_speaker or speaker_from_text(head, meta.title),
        place=meta.place or byline_place or found_place,
    )


def content_hash(cleaned: str) -> str:
    """SHA-256 hex of the matching form of the text: a Simplified and a Traditional copy of one
    speech, or copies that differ only in spacing and punctuation width, hash the same."""
    return hashlib.sha256(normalize_for_matching(cleaned).encode("utf-8")).hexdigest()
