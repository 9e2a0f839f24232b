"""Word (.docx) and PDF files, read by python-docx and pypdf: their text, with no title."""

from __future__ import annotations

from qa.errors import BadInputError
from qa.ingest.readers.contents import FileContents, opened_by_library


def docx_document(file: FileContents) -> tuple[str, str | None]:
    """(text, title) of a .docx file: its paragraphs, then each table row as a line of tab-separated cells."""
    import docx

    try:
        document = docx.Document(opened_by_library(file))
        lines = [p.text for p in document.paragraphs]
        for table in document.tables:
            for row in table.rows:
                lines.append("\t".join(cell.text for cell in row.cells))
    except Exception as exc:  # python-docx raises many types for a damaged file
        raise BadInputError(
            f"not a readable .docx ({type(exc).__name__}: {exc}); open and re-save it in Word or "
            "LibreOffice as .docx (old .doc files must be converted)"
        ) from None
    return "\n".join(lines), None


def pdf_document(file: FileContents) -> tuple[str, str | None]:
    """(text, title) of a PDF: the text layer of each page, in order."""
    import logging

    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # damaged-but-readable files warn a lot
    try:
        reader = PdfReader(opened_by_library(file), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise BadInputError("the PDF is password-protected; remove the password and try again")
        pages = [page.extract_text() or "" for page in reader.pages]
    except BadInputError:
        raise
    except Exception as exc:  # pypdf raises many types for a damaged file
        raise BadInputError(f"not a readable PDF ({type(exc).__name__}: {exc}); re-export or repair it") from None
    text = "\n".join(pages)
    if not text.strip():
        raise BadInputError(
            f"the PDF has no text layer ({len(pages)} page(s) of images?); run OCR on it first "
            "(for example with ocrmypdf) and read the result"
        )
    return text, None
