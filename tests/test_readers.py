"""Reading every supported format and encoding, and rejecting broken files with a reason."""

from __future__ import annotations

import codecs
import gzip
import json
from pathlib import Path

import pytest

from qa.citations import citation_source, uploaded_file_name
from qa.ingest.readers import SUPPORTED_SUFFIXES, decode_text, discover_files, html_to_text, read_path
from qa.types import RawDocument, Rejection

SIMPLIFIED = "在全镇工业经济推进会上的讲话\n同志们：近段时间，我们专门组织有关人员到企业就生产、就业情况进行了调研。"
TRADITIONAL = (
    "縣工業領導組擴大會上的講話\n今天縣上專門召開工業領導組擴大會議，目的是貫徹落實瀘州市工業領導組擴大會議精神。"
)


def read_one(path: Path, **kwargs: int) -> RawDocument | Rejection:
    (item,) = list(read_path(path, **kwargs))
    return item


def make_pdf(content: bytes) -> bytes:
    """A one-page PDF whose page draws ``content`` (a content stream) in Helvetica."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


def make_docx(path: Path, paragraphs: list[str]) -> None:
    import docx

    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    document.save(str(path))


# --- discovery ---------------------------------------------------------------------------------


def test_discover_files_walks_sorted_and_skips_hidden(tmp_path: Path) -> None:
    for name in ["b/z.txt", "b/a.md", "a.txt", ".hidden.txt", ".git/config.txt", "b/.cache/x.txt"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x", encoding="utf-8")
    missing = tmp_path / "missing.txt"
    found = list(discover_files([tmp_path, tmp_path / "a.txt", missing]))
    assert found == [tmp_path / "a.txt", tmp_path / "b/a.md", tmp_path / "b/z.txt", missing]


# --- text encodings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("utf-8", SIMPLIFIED),
        ("utf-8-sig", SIMPLIFIED),
        ("gbk", SIMPLIFIED),
        ("gb18030", TRADITIONAL),  # GBK holds Traditional characters too
        ("big5", TRADITIONAL),
        ("utf-16", SIMPLIFIED),  # Python writes a BOM
        ("utf-16-be", None),
        ("utf-32", TRADITIONAL),
    ],
)
def test_txt_in_any_common_encoding(tmp_path: Path, encoding: str, text: str | None) -> None:
    path = tmp_path / "speech.txt"
    if text is None:  # UTF-16 big-endian with its BOM written by hand
        text = TRADITIONAL
        path.write_bytes(codecs.BOM_UTF16_BE + text.encode("utf-16-be"))
    else:
        path.write_bytes(text.encode(encoding))
    document = read_one(path)
    assert isinstance(document, RawDocument)
    assert document.text == text
    assert document.source == str(path)


def test_big5_and_gbk_are_told_apart() -> None:
    assert decode_text(TRADITIONAL.encode("big5")) == TRADITIONAL
    assert decode_text(SIMPLIFIED.encode("gbk")) == SIMPLIFIED


def test_markdown(tmp_path: Path) -> None:
    path = tmp_path / "speech.md"
    path.write_text("# 在全镇工业经济推进会上的讲话\n\n## 一、认清形势\n\n同志们：", encoding="utf-8")
    document = read_one(path)
    assert isinstance(document, RawDocument)
    assert document.title == "在全镇工业经济推进会上的讲话"
    assert document.text == "在全镇工业经济推进会上的讲话\n\n一、认清形势\n\n同志们："


# --- HTML, docx, pdf -----------------------------------------------------------------------------

PAGE = """<!DOCTYPE html><html><head><meta charset="{charset}"><title>縣工業領導組擴大會上的講話 - 範文網</title>
<style>p {{ color: red }}</style><script>var x = "<p>不要</p>";</script></head>
<body><header><a href="/">首頁</a></header><nav>導航 上一篇 下一篇</nav>
<h1>縣工業領導組擴大會上的講話</h1>
<div class="content"><p>今天縣上專門召開工業領導組擴大會議，</p>
<p>目的是貫徹落實<b>瀘州市</b>工業領導組擴大會議精神。<br>下面，我講三點&nbsp;具體意見&amp;建議：</p></div>
<footer>版權所有 &copy; 範文網</footer></body></html>"""


@pytest.mark.parametrize(("suffix", "charset", "encoding"), [(".html", "utf-8", "utf-8"), (".htm", "big5", "big5")])
def test_html_main_text_only(tmp_path: Path, suffix: str, charset: str, encoding: str) -> None:
    path = tmp_path / f"page{suffix}"
    path.write_bytes(PAGE.format(charset=charset).encode(encoding))
    document = read_one(path)
    assert isinstance(document, RawDocument)
    assert document.title == "縣工業領導組擴大會上的講話"
    assert document.text == (
        "縣工業領導組擴大會上的講話\n今天縣上專門召開工業領導組擴大會議，\n"
        "目的是貫徹落實瀘州市工業領導組擴大會議精神。\n下面，我講三點\xa0具體意見&建議："
    )


def test_html_title_falls_back_to_the_page_title_without_the_site_name(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    page = (
        "<html><head><title>縣工業領導組擴大會上的講話_領導講話_範文網</title></head>"
        "<body><header><h1>範文網</h1></header><article><p>今天縣上專門召開工業領導組擴大會議。</p></article>"
        "<div class=related><p>上一篇：高校網絡德育工作論文</p></div></body></html>"
    )
    path.write_text(page, encoding="utf-8")
    document = read_one(path)
    assert isinstance(document, RawDocument)
    assert (document.title, document.text) == ("縣工業領導組擴大會上的講話", "今天縣上專門召開工業領導組擴大會議。")


def test_html_to_text_keeps_angle_bracket_book_titles() -> None:
    # xwlb bodies write book titles as <政府工作报告>; they are text, not tags.
    assert html_to_text("<p>    审议<政府工作报告></P>\r\n<p>通过<BR>决议</p>") == "审议<政府工作报告>\n通过\n决议"


def test_html_fragments_in_records_lose_the_same_chrome_as_pages() -> None:
    # A record's content_html with the site's navigation and a script: both go, as from a page.
    fragment = "<nav><a href=/>首页</a></nav><p>今天縣上專門召開工業領導組擴大會議。</p><script>track()</script>"
    assert html_to_text(fragment) == "今天縣上專門召開工業領導組擴大會議。"


def test_citations_name_the_file_never_its_folders() -> None:
    assert citation_source("/home/alice/speeches/002_efcfb80e12f1a49d.txt") == "002_efcfb80e12f1a49d.txt"
    assert uploaded_file_name("C:\\Users\\alice\\講話.docx") == "講話.docx"  # an upload's Windows path, any machine
    assert citation_source("exports/news.jsonl.gz#L12") == "news.jsonl.gz#L12"
    assert citation_source("https://tv.cctv.com/2025/01/02/VIDE1.shtml") == "https://tv.cctv.com/2025/01/02/VIDE1.shtml"


def test_docx(tmp_path: Path) -> None:
    path = tmp_path / "speech.docx"
    make_docx(path, ["在全镇工业经济推进会上的讲话", "陈章平", "同志们："])
    document = read_one(path)
    assert isinstance(document, RawDocument)
    assert document.text == "在全镇工业经济推进会上的讲话\n陈章平\n同志们："


def test_pdf_text_layer(tmp_path: Path) -> None:
    path = tmp_path / "speech.pdf"
    path.write_bytes(make_pdf(b"BT /F1 12 Tf 72 720 Td (Remarks at the opening ceremony) Tj ET"))
    document = read_one(path)
    assert isinstance(document, RawDocument)
    assert document.text.strip() == "Remarks at the opening ceremony"


# --- collections -----------------------------------------------------------------------------

XWLB_RECORD = {
    "title": "[视频]王岐山会见蒙古国外长",
    "pub_date": "2019-04-01 19:30:45",
    "url": "https://tv.cctv.com/2019/04/01/VIDE1.shtml",
    "tags": "王岐山,蒙古国",
    "content_html": "<p>    央视网消息（新闻联播）：国家副主席王岐山今天在中南海会见蒙古国外长朝格特巴特尔。</p>\r\n"
    "<p>    王岐山表示，蒙古国是最早同新中国建交的国家之一。<BR>    70年来，友好合作始终是两国关系主流。</p>",
}
TW_RECORD = {
    "id": 1,
    "url": "https://www.president.gov.tw/NEWS/1",
    "date": "2016/5/20",
    "title": "總統感謝巴拉圭等國外賓來台觀禮",
    "subtitle": "總統會見巴拉圭共和國總統卡提斯等外賓",
    "content": "蔡英文總統今（20）日下午先後會見巴拉圭共和國總統卡提斯。\n\n總統致詞時表示：",
}


def test_jsonl_records_map_fields_and_strip_html(tmp_path: Path) -> None:
    path = tmp_path / "stories.jsonl"
    plain = {"text": "同志们：", "date": "2023年5月11日", "speaker": "陈章平", "place": "腊口镇四楼会议室"}
    path.write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in [XWLB_RECORD, TW_RECORD, plain]), encoding="utf-8"
    )
    xwlb, tw, third = list(read_path(path))
    assert xwlb == RawDocument(
        text="央视网消息（新闻联播）：国家副主席王岐山今天在中南海会见蒙古国外长朝格特巴特尔。\n"
        "王岐山表示，蒙古国是最早同新中国建交的国家之一。\n70年来，友好合作始终是两国关系主流。",
        source="https://tv.cctv.com/2019/04/01/VIDE1.shtml",
        title="[视频]王岐山会见蒙古国外长",
        date="2019-04-01",
        url="https://tv.cctv.com/2019/04/01/VIDE1.shtml",
    )
    assert isinstance(tw, RawDocument)
    assert tw.text.startswith("總統會見巴拉圭共和國總統卡提斯等外賓\n蔡英文總統今（20）日")
    assert tw.date == "2016-05-20"
    assert third == RawDocument(
        text="同志们：", source=f"{path}#L3", date="2023-05-11", speaker="陈章平", place="腊口镇四楼会议室"
    )


def test_jsonl_gz_streams(tmp_path: Path) -> None:
    path = tmp_path / "news.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as stream:
        for i in range(3):
            stream.write(json.dumps({**TW_RECORD, "url": f"https://example.org/{i}"}, ensure_ascii=False) + "\n")
    documents = list(read_path(path))
    assert [d.source for d in documents] == [f"https://example.org/{i}" for i in range(3)]


def test_csv_in_gbk(tmp_path: Path) -> None:
    path = tmp_path / "speeches.csv"
    rows = (
        "Title,Date,Speaker,Content\n"
        '在全镇工业经济推进会上的讲话,20230511,陈章平,"同志们：\n近段时间，我们专门组织了调研。"\n'
    )
    path.write_bytes(rows.encode("gbk"))
    (document,) = list(read_path(path))
    assert document == RawDocument(
        text="同志们：\n近段时间，我们专门组织了调研。",
        source=f"{path}#L2",
        title="在全镇工业经济推进会上的讲话",
        date="2023-05-11",
        speaker="陈章平",
    )


@pytest.mark.parametrize(
    ("value", "iso"),
    [
        ("2022-09-18 09:36:00", "2022-09-18"),
        ("2022/9/18", "2022-09-18"),
        ("20220918", "2022-09-18"),
        ("2022年9月18日", "2022-09-18"),
        ("2022-02-30", None),
        ("昨天", None),
    ],
)
def test_record_dates_are_iso(tmp_path: Path, value: str, iso: str | None) -> None:
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps({"content": "同志们：", "date": value}, ensure_ascii=False), encoding="utf-8")
    document = read_one(path)
    assert isinstance(document, RawDocument)
    assert document.date == iso


# --- broken input ------------------------------------------------------------------------------


def test_folder_of_broken_and_good_files(tmp_path: Path) -> None:
    good = {
        "good.txt": SIMPLIFIED.encode("utf-8"),
        "good_big5.txt": TRADITIONAL.encode("big5"),
        "good.pdf": make_pdf(b"BT /F1 12 Tf 72 720 Td (Opening remarks) Tj ET"),
    }
    bad = {
        "empty.txt": (b"", "empty file"),
        "binary.txt": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00" * 20, "binary"),
        "garbage.txt": (bytes(range(0x80, 0x100)) * 8, "encoding"),
        "big.txt": (SIMPLIFIED.encode("utf-8") * 1000, "over the"),
        "corrupt.docx": (b"PK\x03\x04 this is not a zip archive", "not a readable .docx"),
        "corrupt.pdf": (b"%PDF-1.4\n1 0 obj << /Type /Catalog", "not a readable PDF"),
        "scanned.pdf": (make_pdf(b"0 0 m 200 200 l S"), "no text layer"),
        "notes.xyz": (b"hello", "unsupported file type ('.xyz')"),
    }
    for name, data in good.items():
        (tmp_path / name).write_bytes(data)
    make_docx(tmp_path / "good.docx", ["同志们："])
    for name, (data, _) in bad.items():
        (tmp_path / name).write_bytes(data)
    lines = [json.dumps(TW_RECORD, ensure_ascii=False), '{"title": "cut off', json.dumps({"title": "无正文"}), "[1, 2]"]
    (tmp_path / "records.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")

    results = [item for path in discover_files([tmp_path]) for item in read_path(path, max_bytes=64 * 1024)]
    documents = {
        Path(d.source).name if not d.source.startswith("http") else d.source
        for d in results
        if isinstance(d, RawDocument)
    }
    rejections = {Path(r.source).name: r.reason for r in results if isinstance(r, Rejection)}

    assert documents == {"good.txt", "good_big5.txt", "good.pdf", "good.docx", TW_RECORD["url"]}
    for name, (_, reason) in bad.items():
        assert reason in rejections[name], (name, rejections[name])
    assert rejections["records.jsonl#L2"] == (
        "line 2 is not valid JSON (Unterminated string starting at character 11); fix or remove the line"
    )
    assert (
        "record has no text; put it in one of the fields content, content_html, text, body"
        in rejections["records.jsonl#L3"]
    )
    assert "not an object" in rejections["records.jsonl#L4"]
    assert len(results) == len(good) + 1 + len(bad) + 4


def test_rejection_reasons_say_what_to_change(tmp_path: Path) -> None:
    path = tmp_path / "old.doc"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    rejection = read_one(path)
    assert isinstance(rejection, Rejection)
    assert rejection.reason == (
        "unsupported file type ('.doc'); supported: "
        + ", ".join(SUPPORTED_SUFFIXES)
        + ". Convert the file to one of these or rename it if the extension is wrong"
    )
    missing = read_one(tmp_path / "missing.txt")
    assert missing == Rejection(str(tmp_path / "missing.txt"), "file not found; check the path")
    big = tmp_path / "big.txt"
    big.write_bytes(b"a" * 2048)
    assert read_one(big, max_bytes=1024) == Rejection(
        str(big), "file is 2,048 bytes, over the 1,024 bytes limit; split it into smaller files or raise max_bytes"
    )


def test_oversized_record_is_rejected_alone(tmp_path: Path) -> None:
    path = tmp_path / "stories.jsonl"
    big = json.dumps({"content": "长" * 5000}, ensure_ascii=False)
    path.write_text(big + "\n" + json.dumps({"content": "短"}, ensure_ascii=False) + "\n", encoding="utf-8")
    first, second = list(read_path(path, max_bytes=1000))
    assert isinstance(first, Rejection) and first.source == f"{path}#L1" and "over the" in first.reason
    assert isinstance(second, RawDocument) and second.text == "短"


def test_truncated_gzip_keeps_what_came_before(tmp_path: Path) -> None:
    path = tmp_path / "news.jsonl.gz"
    data = gzip.compress(("\n".join(json.dumps({**TW_RECORD, "url": f"u{i}"}) for i in range(200)) + "\n").encode())
    path.write_bytes(data[: len(data) // 2])
    results = list(read_path(path))
    assert isinstance(results[0], RawDocument)
    assert isinstance(results[-1], Rejection) and "gzip" in results[-1].reason


# --- one bad file or record fails alone (issue 11) ---------------------------------------------


def test_a_record_nested_too_deeply_is_rejected_alone(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    good = json.dumps({"content": SIMPLIFIED}, ensure_ascii=False)
    path.write_text(good + "\n" + "[" * 200_000 + "]" * 200_000 + "\n" + good + "\n", encoding="utf-8")
    first, deep, third = list(read_path(path))
    assert isinstance(first, RawDocument) and isinstance(third, RawDocument)
    assert isinstance(deep, Rejection) and deep.source == f"{path}#L2"
    assert deep.reason.startswith("line 2: nested too deeply (arrays or objects inside each other more than about ")
    assert deep.reason.endswith("levels); a record is one flat object, fix or remove the line")


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (bytes(range(256)) * 64, "looks like a binary file (NUL bytes in its first 8 KB), not JSON Lines"),
        (bytes(range(0x80, 0x100)) * 64, "its first 8 KB are mostly not UTF-8 text: a binary file, or text in another "
                                         "encoding, not JSON Lines"),
    ],
)
def test_a_binary_file_named_jsonl_is_one_rejection(tmp_path: Path, data: bytes, says: str) -> None:
    for name, content in (("blob.jsonl", data), ("blob.jsonl.gz", gzip.compress(data))):
        path = tmp_path / name
        path.write_bytes(content)
        assert list(read_path(path)) == [
            Rejection(str(path), f"{says}; JSON Lines must be UTF-8 text, one JSON object a line")
        ]


def test_every_skipped_entry_of_a_folder_has_a_reason(tmp_path: Path) -> None:
    import os

    from qa.ingest.readers import find_inputs

    folder = tmp_path / "in"
    (folder / ".git").mkdir(parents=True)
    (folder / ".git" / "config.txt").write_text("x", encoding="utf-8")
    for name in ("a.txt", "..dots.txt", ".hidden.txt"):
        (folder / name).write_text(SIMPLIFIED, encoding="utf-8")
    (folder / "dangling.txt").symlink_to("nowhere.txt")
    (folder / "loop.txt").symlink_to("loop.txt")
    (folder / "self").symlink_to(".")
    (folder / "linked.txt").symlink_to(folder / "a.txt")
    os.mkfifo(folder / "pipe.txt")
    odd = os.fsdecode(os.fsencode(folder) + b"/b\xff.txt")
    Path(odd).write_text(SIMPLIFIED, encoding="utf-8")

    found = list(find_inputs([folder]))
    assert [f for f in found if isinstance(f, Path)] == [folder / "a.txt", Path(odd), folder / "linked.txt"]
    reasons = {Path(r.source).name: r.reason for r in found if isinstance(r, Rejection)}
    hidden = "(its name starts with '.'): skipped; rename it, or name it on the command line, to ingest it"
    assert reasons == {
        ".git": f"hidden folder {hidden}",
        "..dots.txt": f"hidden file {hidden}",
        ".hidden.txt": f"hidden file {hidden}",
        "dangling.txt": "a dangling symlink (its target nowhere.txt does not exist): skipped",
        "loop.txt": "a symlink loop (the link leads back to itself): skipped; remove or fix the link",
        "self": "a symlink to a folder: skipped (links to folders are not followed, so that a loop cannot recur); "
                "name the folder itself to ingest it",
        "pipe.txt": "a named pipe (fifo), not a regular file: skipped; copy the document into a file to ingest it",
    }
    # a name that is not UTF-8 is read, and shown with U+FFFD for its odd bytes
    (document,) = list(read_path(Path(odd)))
    assert isinstance(document, RawDocument) and document.source == str(folder / "b\ufffd.txt")
    document.source.encode("utf-8")  # storable and printable
    # the same entries named explicitly are reported too, never read
    assert read_one(folder / "pipe.txt") == Rejection(str(folder / "pipe.txt"), reasons["pipe.txt"])
    assert read_one(folder / "loop.txt") == Rejection(str(folder / "loop.txt"), reasons["loop.txt"])


def test_the_ingest_command_takes_the_good_files_and_names_each_bad_one(tmp_path: Path, model_cache_dir: Path) -> None:
    """Through `speechqa ingest` in a real process (with the n-gram encoder): a deep record and an odd file name no
    longer abort the batch."""
    import os
    import subprocess

    from tests.conftest import speechqa_command
    from tests.fakes import char_ngrams_env

    folder = tmp_path / "in"
    folder.mkdir()
    speech = ("在全县蓝莓产业发展推进会上的讲话\n同志们：蓝莓产业园建设是今年农业农村工作的重中之重。"
              "一要抓好基地建设，新增连片种植面积三千亩；二要抓好品牌营销，拓展线上销售渠道。\n")
    (folder / "a.txt").write_text(speech, encoding="utf-8")
    (folder / "b.jsonl").write_text("[" * 200_000 + "]" * 200_000 + "\n", encoding="utf-8")
    (folder / "c.jsonl").write_bytes(bytes(range(256)) * 64)
    Path(os.fsdecode(os.fsencode(folder) + b"/d\xff.txt")).write_text(speech.replace("蓝莓", "茶叶"), encoding="utf-8")
    os.mkfifo(folder / "e.txt")
    env = char_ngrams_env({**os.environ, "SPEECHQA_DATA": str(tmp_path / "collection"), "SPEECHQA_CACHE": str(model_cache_dir)})
    result = subprocess.run([*speechqa_command(fake=True), "ingest", str(folder), "--json"], env=env,
                            capture_output=True, text=True, timeout=300, cwd=Path(__file__).parents[1])
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    rejected = {Path(line["rejected"]).name: line["reason"] for line in lines if "rejected" in line}
    assert set(rejected) == {"b.jsonl#L1", "c.jsonl", "e.txt"}
    assert rejected["b.jsonl#L1"].startswith("line 1: nested too deeply")
    assert lines[-1] == {"summary": {"added": 2, "updated": 0, "duplicates": 0, "rejected": 3}, "documents": 2}
    listed = subprocess.run([*speechqa_command(fake=True), "docs", "list", "--json"], env=env, capture_output=True,
                            text=True, timeout=120, cwd=Path(__file__).parents[1])
    assert sorted(json.loads(line)["source"] for line in listed.stdout.splitlines()) == ["a.txt", "d\ufffd.txt"]


def test_a_file_given_by_name_and_bytes_reads_as_it_would_on_disk(tmp_path: Path) -> None:
    """read_named (uploads) reads every kind from memory as read_path reads it from disk, cited by the name given."""
    from dataclasses import replace

    from qa.ingest.readers import read_named

    records = [json.dumps({"title": "标题", "content": SIMPLIFIED}, ensure_ascii=False), "[1, 2]", json.dumps({"title": "无正文"})]
    files = {
        "speech.txt": SIMPLIFIED.encode("gb18030"),
        "speech.md": ("# 縣工業會議\n" + TRADITIONAL).encode("utf-8"),
        "page.html": f"<html><head><title>标题</title></head><body><p>{SIMPLIFIED}</p></body></html>".encode(),
        "remarks.pdf": make_pdf(b"BT /F1 12 Tf 72 720 Td (Opening remarks) Tj ET"),
        "records.jsonl": "\n".join(records).encode(),
        "records.jsonl.gz": gzip.compress("\n".join(records).encode()),
        "table.csv": f"title,content\n标题,{SIMPLIFIED}\n无正文,\n".encode("gbk"),
        "empty.txt": b"",
        "big.txt": SIMPLIFIED.encode() * 1000,
        "notes.xyz": b"hello",
    }
    make_docx(tmp_path / "speech.docx", ["在全镇工业经济推进会上的讲话", "同志们："])
    files["speech.docx"] = (tmp_path / "speech.docx").read_bytes()
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    for name, data in files.items():
        on_disk = [replace(item, source=Path(item.source).name) for item in read_path(tmp_path / name, max_bytes=64 * 1024)]
        in_memory = list(read_named(f"../../elsewhere/{name}", data, max_bytes=64 * 1024))
        assert in_memory == on_disk, name
        assert any(isinstance(item, RawDocument) for item in in_memory) == (name not in {"empty.txt", "big.txt", "notes.xyz"})
    assert [item.source for item in read_named("我的 讲话?.txt", b"")] == ["我的_讲话_.txt"]  # a name, never a path
    assert [item.source for item in read_named("..", SIMPLIFIED.encode())] == ["upload"]
