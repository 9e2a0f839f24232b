"""Title, date, speaker and place of a speech, from its record fields and its raw text.

Clues that boilerplate removal deletes (the ``时间:2023-04-20`` line of a download page, the
byline under a title) are read from the raw text; who speaks, where and at what occasion are read
from the title and the opening lines of the cleaned text (``attribute``), so stored documents can be
read again (``refresh_metadata``). Nothing is ever guessed: unknown is None.

Import from here. Inside: ``heading`` reads the head of the raw text (title, byline, dates),
``attribution`` the opening lines (speaker, place, occasion), ``names`` tells person names,
``offices`` knows who held an office when, and ``extract`` puts them together.
"""

from qa.ingest.metadata.attribution import Attribution, attribute, stated_occasion
from qa.ingest.metadata.extract import content_hash, extract_metadata, refresh_metadata
from qa.ingest.metadata.offices import OFFICE_HOLDERS, office_holder

__all__ = [
    "OFFICE_HOLDERS",
    "Attribution",
    "attribute",
    "content_hash",
    "extract_metadata",
    "office_holder",
    "refresh_metadata",
    "stated_occasion",
]
