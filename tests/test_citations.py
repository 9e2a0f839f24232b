"""qa.citations: how a file is named in a citation, from disk and from an upload."""

from __future__ import annotations

from pathlib import Path

from qa.citations import citation_source, source_group, uploaded_file_name
from qa.ingest.pipeline import build_document
from qa.ingest.readers import read_named, read_path
from qa.types import Document, RawDocument

SPEECH = "同志们：今天我们召开全县工业经济工作会议，主要任务是总结上半年工作，安排部署下半年任务。" * 3


def test_a_backslash_in_a_file_name_on_disk_is_part_of_the_name(tmp_path: Path) -> None:
    # On Linux "\" is an ordinary character: this is one file in tmp_path, not evil.txt two folders up.
    path = tmp_path / "b67_backslash..\\..\\evil.txt"
    path.write_text(SPEECH, encoding="utf-8")
    [raw] = read_path(path)
    assert isinstance(raw, RawDocument)
    document = build_document(raw)
    assert isinstance(document, Document)
    assert document.sources == ("b67_backslash..\\..\\evil.txt",)
    assert citation_source(str(path)) == "b67_backslash..\\..\\evil.txt"
    assert source_group(str(path)) == "b67_backslash..\\..\\evil.txt"


def test_an_uploaded_name_loses_the_folders_of_either_kind_of_path() -> None:
    assert uploaded_file_name("..\\..\\evil.txt") == "evil.txt"
    assert uploaded_file_name("../../evil.txt") == "evil.txt"
    assert uploaded_file_name("C:\\Users\\alice\\講話.docx") == "講話.docx"
    [raw] = read_named("..\\..\\evil.txt", SPEECH.encode())
    assert isinstance(raw, RawDocument)
    assert raw.source == "evil.txt"


def test_folders_of_a_path_on_disk_are_never_cited() -> None:
    assert citation_source("/home/alice/speeches/002_efcfb80e12f1a49d.txt") == "002_efcfb80e12f1a49d.txt"
    assert citation_source("exports/news.jsonl.gz#L12") == "news.jsonl.gz#L12"
    assert citation_source("https://tv.cctv.com/2025/01/02/VIDE1.shtml") == "https://tv.cctv.com/2025/01/02/VIDE1.shtml"


def test_a_path_a_windows_machine_read_is_cited_by_its_file_name() -> None:
    # A collection built on Windows stores C:\... sources: there a backslash does end a folder.
    assert citation_source("C:\\speeches\\讲话.docx") == "讲话.docx"
    assert citation_source("\\\\archive\\share\\2021\\讲话.docx") == "讲话.docx"
