"""Sentence splitting, heading detection and chunking, on lines from the sample speeches."""

from __future__ import annotations

import re
import statistics
import time
from pathlib import Path

import pytest

from qa.errors import BadInputError
from qa.ingest.chunking import chunk_text, is_heading
from qa.text.sentences import split_sentences
from qa.types import Chunk


def _seed_dir() -> Path:
    bundled = Path(__file__).parents[1] / "qa" / "sample_speeches"
    return bundled if bundled.is_dir() else Path("/work/shared/corpus/seeds")


SEEDS = sorted(_seed_dir().glob("*.txt"))
needs_seeds = pytest.mark.skipif(not SEEDS, reason="sample speeches not found")


def _sentences(text: str) -> list[str]:
    return [text[start:end] for start, end in split_sentences(text)]


def _span_of(document: str, part: str) -> tuple[int, int]:
    start = document.index(part)
    return start, start + len(part)


# --------------------------------------------------------------------------- split_sentences

# 000: ASCII ";" between Chinese clauses ends a sentence, as 。 does.
OPENING_REMARKS = (
    "剛才,克剛副縣長通報了今年前期工業經濟運行情況,分析了存在的問題,安排部署了下一階段的工業工作;"
    "三戶企業就今后一個時期的發展規劃以及如何加快自身發展步伐作了很好的發言;最后,趙書記還將作重要講話。"
    "下面,我講三點具體意見:"
)


def test_split_sentences_on_full_stops_and_semicolons() -> None:
    assert _sentences(OPENING_REMARKS) == [
        "剛才,克剛副縣長通報了今年前期工業經濟運行情況,分析了存在的問題,安排部署了下一階段的工業工作;",
        "三戶企業就今后一個時期的發展規劃以及如何加快自身發展步伐作了很好的發言;",
        "最后,趙書記還將作重要講話。",
        "下面,我講三點具體意見:",
    ]


def test_split_sentences_returns_offsets_into_the_text() -> None:
    assert split_sentences(OPENING_REMARKS)[2] == _span_of(OPENING_REMARKS, "最后,趙書記還將作重要講話。")


def test_ascii_question_mark_inside_pinyin_mojibake_does_not_end_a_sentence() -> None:
    # 002 carries pinyin mojibake such as "再?gòu)"; the "?" there is glued to Latin letters.
    line = "做到責(zé)任再落實(shí),措施再?gòu)?qiáng)化。目前,距離上半年結(jié)束僅剩二十天。"
    assert _sentences(line) == [
        "做到責(zé)任再落實(shí),措施再?gòu)?qiáng)化。",
        "目前,距離上半年結(jié)束僅剩二十天。",
    ]


def test_ascii_question_mark_before_chinese_ends_a_sentence() -> None:
    assert _sentences("我們靠什么發展?靠工業。") == ["我們靠什么發展?", "靠工業。"]


def test_closing_quote_and_ellipsis_stay_with_their_sentence() -> None:
    # The seeds have no "。”" or "……"; this is 004's line with the slogan quoted as speech.
    line = "張學鋒強調:“大道至簡、實干為要。”打造千億工業,戰鼓已經擂響、戰場已經鋪開……只能進、只能緊、只能勝!"
    assert _sentences(line) == [
        "張學鋒強調:“大道至簡、實干為要。”",
        "打造千億工業,戰鼓已經擂響、戰場已經鋪開……",
        "只能進、只能緊、只能勝!",
    ]


def test_line_breaks_end_sentences_and_whitespace_is_left_out() -> None:
    # 003's opening lines: a title, a blank line, a salutation.
    text = "縣“領導包項、干部駐企”工作動員會講話\n\n  同志們:  \r\n開展此項活動主要是基于以下幾點考慮:"
    assert _sentences(text) == [
        "縣“領導包項、干部駐企”工作動員會講話",
        "同志們:",
        "開展此項活動主要是基于以下幾點考慮:",
    ]


def test_spaces_inside_a_sentence_are_kept() -> None:
    line = "在全镇工业经济推进会上的讲话 陈章平 (2023年5月11日在腊口镇四楼会议室) 同志们: 近段时间,我们专门组织有关人员到企业就生产、就业情况进行了调研。"
    assert _sentences(line) == [line]


def test_split_sentences_of_blank_text_is_empty() -> None:
    assert split_sentences("") == []
    assert split_sentences(" \n\u3000\n") == []


# --------------------------------------------------------------------------- is_heading


@pytest.mark.parametrize(
    "line",
    [
        "一、認清形勢,找準差距,堅定不移地發展工業經濟",
        "(一)認(rèn)真分析,強(qiáng)化工作措施",
        "（二）關于駐企工作",
        "1、深刻領會精神。三月下旬,省委、省政府在經過認真、周密的籌備后,召開了全省工業強省工作會議。",
        "1. 部分包含数学公式或PPT动画的文件,查看预览时可能会显示错乱或异常,文件下载后无此问题,请放心下载。",
        "第一,開展“領導包項、干部駐企”活動是加快發(fā)展的需要。",
        "縣工業領導組擴大會上的講話",
        "重整行裝振奮精神 擔當使命砥礪作為",
    ],
)
def test_is_heading(line: str) -> None:
    assert is_heading(line)


@pytest.mark.parametrize(
    "line",
    [
        "同志們:",
        "覃昌德部署下步工作。",
        "1-4月我縣規(guī)模以上工業(yè)增加值完成20.5億元,同比增長(zhǎng)23.8%。",
        "1.4亿元",
        "第一季度工业总产值到达了1.4亿元,转型升级的步伐不断加快。",
        "一是要當好“調研員”,掌握企業(yè)情況。",
        "",
        "3",
    ],
)
def test_is_not_heading(line: str) -> None:
    assert not is_heading(line)


# --------------------------------------------------------------------------- chunk_text on a small document

# Real lines of 000, cut to their first sentences.
OPENING = (
    "今天縣上專門召開工業領導組擴大會議,目的是貫徹落實瀘州市工業領導組擴大會議精神,"
    "分析我縣前期工業經濟運行情況,研究今后進一步加快全縣工業發展的措施和辦法。"
)
TOP_ONE = "一、認清形勢,找準差距,堅定不移地發展工業經濟"
POINT_TWO_HEAD = "2、找準發展差距。"
POINT_TWO_FIRST = "縱向看,我縣工業經濟發展取得了一定成績,橫向比,我們與周邊縣區尤其是發達地區相比還存在巨大差距。"
POINT_TWO_SECOND = (
    "客觀上我縣地處偏遠,路、水、電等基礎設施落后,工業結構單一,總量不大,規模以上工業企業過少等問題較為突出;"
)
POINT_TWO_THIRD = (
    "主觀上發展意識不強,思想解放不夠,工作主動性、積極性差,攻堅克難、破解難題的辦法不多不新,"
    "措施落實不到位,指導、服務不夠,企業自身發展意識不強、安于現狀等問題表現十分明顯。"
)
POINT_TWO = POINT_TWO_HEAD + POINT_TWO_FIRST + POINT_TWO_SECOND
POINT_THREE = (
    "3、堅定發展的信心和決心。工業是我縣縣域經濟發展的突破口,是工業持續增長的主要動力和希望所在。"
    "縣委、縣政府審時度勢,制定了實施工業強縣的戰略。全縣上下必須高度統一思想認識,堅定發展工業的信心和決心。"
)
POINT_THREE_SHORT = "3、堅定發展的信心和決心。工業是我縣縣域經濟發展的突破口,是工業持續增長的主要動力和希望所在。"
TOP_TWO = "二、更新理念,突出重點,全力推進工業強縣戰略的實施"
POINT_ONE = "1、更新發展理念。首先要牢固樹立發展理念。要始終抓住第一要務,適應新的要求。"
SECTION_ONE_TWO = "一、認清形勢,找準差距,堅定不移地發展工業經濟 / 2、找準發展差距。"
SECTION_ONE_THREE = "一、認清形勢,找準差距,堅定不移地發展工業經濟 / 3、堅定發展的信心和決心。"
SECTION_TWO_ONE = "二、更新理念,突出重點,全力推進工業強縣戰略的實施 / 1、更新發展理念。"

SMALL_LIMITS = {"min_chars": 40, "target_chars": 120, "max_chars": 160}


def _lines(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def test_chunks_follow_headings_with_sections_and_one_sentence_overlap() -> None:
    document = _lines(OPENING, TOP_ONE, POINT_TWO, POINT_THREE, TOP_TWO, POINT_ONE)
    chunks = chunk_text(document, **SMALL_LIMITS)
    assert [(chunk.text, chunk.section) for chunk in chunks] == [
        (OPENING, None),
        (TOP_ONE + "\n" + POINT_TWO_HEAD + POINT_TWO_FIRST, SECTION_ONE_TWO),
        (POINT_TWO_FIRST + POINT_TWO_SECOND, SECTION_ONE_TWO),  # the first sentence repeats
        (POINT_THREE, SECTION_ONE_THREE),  # a new heading starts a passage, without overlap
        (TOP_TWO + "\n" + POINT_ONE, SECTION_TWO_ONE),
    ]
    assert [(chunk.char_start, chunk.char_end) for chunk in chunks] == [
        _span_of(document, OPENING),
        (document.index(TOP_ONE), document.index(POINT_TWO_SECOND)),
        (document.index(POINT_TWO_FIRST), document.index(POINT_TWO_SECOND) + len(POINT_TWO_SECOND)),
        _span_of(document, POINT_THREE),
        (document.index(TOP_TWO), document.index(POINT_ONE) + len(POINT_ONE)),
    ]


def test_chunk_is_the_exact_slice_of_the_document() -> None:
    document = _lines(OPENING, TOP_ONE, POINT_TWO, POINT_THREE, TOP_TWO, POINT_ONE)
    for chunk in chunk_text(document, **SMALL_LIMITS):
        assert document[chunk.char_start : chunk.char_end] == chunk.text


def test_short_document_is_one_chunk() -> None:
    title = "縣工業領導組擴大會上的講話"
    document = _lines(title, OPENING)
    assert chunk_text(document) == [Chunk(title + "\n" + OPENING, 0, len(document) - 1, None)]


def test_heading_only_block_joins_the_section_after_it() -> None:
    # 一、 + 2、 (134 chars) is under min_chars, so it runs on into 3、 rather than stand alone.
    document = _lines(TOP_ONE, POINT_TWO, POINT_THREE)
    chunks = chunk_text(document)
    assert [(chunk.char_start, chunk.char_end, chunk.section) for chunk in chunks] == [
        (0, len(document) - 1, SECTION_ONE_TWO)
    ]


def test_short_section_at_the_end_joins_the_one_before() -> None:
    document = _lines(TOP_ONE, POINT_TWO + POINT_TWO_THIRD, POINT_THREE_SHORT)
    chunks = chunk_text(document)
    assert [(chunk.char_start, chunk.char_end, chunk.section) for chunk in chunks] == [
        (0, len(document) - 1, SECTION_ONE_TWO)
    ]


def test_top_level_heading_is_never_folded_into_the_passage_before() -> None:
    closing = "三、強化措施,統籌協調,優化工業經濟發展環境"
    document = _lines(TOP_ONE, POINT_TWO + POINT_TWO_THIRD, closing, POINT_THREE_SHORT)
    chunks = chunk_text(document)
    assert [chunk.section for chunk in chunks] == [
        SECTION_ONE_TWO,
        "三、強化措施,統籌協調,優化工業經濟發展環境 / 3、堅定發展的信心和決心。",
    ]
    assert chunks[1].char_start == document.index(closing)


def test_paren_heading_outranks_numbered_points_in_the_section_path() -> None:
    # 003: under (一), the 第一/第二 points start passages but the path keeps (一).
    document = _lines(
        "二、要明確“領導包項、干部駐企”活動的重點內容",
        "(一)關于“領導包項”工作",
        "第一,要著力抓好大項目建設。沒有大項目,就沒有大產業,談不上大發展。",
        "第二,要著力抓好特色產業招商。在考察投資的過程中,客商考慮更多的是一個地區的產業基礎和配套能力。",
    )
    sections = {chunk.section for chunk in chunk_text(document, min_chars=20, target_chars=60, max_chars=100)}
    assert sections == {"二、要明確“領導包項、干部駐企”活動的重點內容 / (一)關于“領導包項”工作"}


def test_numbered_point_without_paren_heading_becomes_the_sub_section() -> None:
    # 003's 第一/第二 points stand before any 一、 heading; the second keeps its pinyin mojibake.
    document = _lines(
        "第一,開展“領導包項、干部駐企”活動是加快發展的需要。項目是經濟工作的核心,大項目是經濟社會發展的火車頭。",
        "第二,開展“領導包項、干部駐企”活動是改善經(jīng)濟發(fā)展環(huán)境的需要。我縣經(jīng)濟發(fā)展環(huán)境總體是好的。",
    )
    chunks = chunk_text(document, min_chars=20, target_chars=60, max_chars=100)
    second = "第二,開展“領導包項、干部駐企”活動是改善經(jīng)濟發(fā)展環(hu…"  # labels stop at 40 characters
    assert [chunk.section for chunk in chunks] == [
        "第一,開展“領導包項、干部駐企”活動是加快發展的需要。",
        second,
        second,
    ]


def test_overlong_sentence_is_cut_at_commas_into_pieces_under_max_chars() -> None:
    sentence = (
        "這次會議被認為是“強力實施‘工業強省’戰略的一次總動員和總部署”,會議向全省發出了做大做強四川工業的總號令,"
        "要求各地要以“高度的責任感、強烈的憂患意識和不懈的進取精神,毫不動搖地走工業強省的道路”,"
        "把工業強省戰略提高到了前所未有的高度,并及時下發了《關于實施工業強省戰略的決定》以及相關部門的配套文件。"
    )
    chunks = chunk_text(sentence, min_chars=20, target_chars=50, max_chars=60, overlap_sentences=0)
    assert all(len(chunk.text) <= 60 for chunk in chunks)
    assert "".join(chunk.text for chunk in chunks) == sentence
    assert all(chunk.text.endswith(",") for chunk in chunks[:-1])


def test_overlong_sentence_without_commas_is_cut_anywhere() -> None:
    line = "重整行裝振奮精神擔當使命砥礪作為奮力譜寫新時代云陽工業高質量發展新篇章"
    chunks = chunk_text(line, min_chars=5, target_chars=10, max_chars=12, overlap_sentences=0)
    assert [chunk.text for chunk in chunks] == [
        "重整行裝振奮精神擔當",
        "使命砥礪作為奮力譜寫",
        "新時代云陽工業高質量",
        "發展新篇章",
    ]


def test_blank_document_has_no_chunks() -> None:
    assert chunk_text("") == []
    assert chunk_text("\n \u3000\n") == []


def test_inconsistent_limits_are_rejected_with_the_rule() -> None:
    with pytest.raises(BadInputError, match="min_chars <= target_chars <= max_chars"):
        chunk_text(OPENING, min_chars=500)
    with pytest.raises(BadInputError, match="overlap_sentences"):
        chunk_text(OPENING, overlap_sentences=-1)


# --------------------------------------------------------------------------- properties over the sample speeches


def _seed_texts() -> list[tuple[str, str]]:
    return [(path.name, path.read_text(encoding="utf-8")) for path in SEEDS]


@needs_seeds
@pytest.mark.parametrize("name,document", _seed_texts())
def test_seed_chunks_are_exact_slices_under_max_chars(name: str, document: str) -> None:
    for chunk in chunk_text(document):
        assert document[chunk.char_start : chunk.char_end] == chunk.text
        assert 0 < len(chunk.text) <= 600
        assert chunk.text == chunk.text.strip()


@needs_seeds
@pytest.mark.parametrize("name,document", _seed_texts())
def test_seed_chunks_cover_every_non_whitespace_character(name: str, document: str) -> None:
    covered = bytearray(len(document))
    for chunk in chunk_text(document):
        covered[chunk.char_start : chunk.char_end] = b"\x01" * len(chunk.text)
    missing = [i for i, ch in enumerate(document) if not ch.isspace() and not covered[i]]
    assert missing == []


@needs_seeds
@pytest.mark.parametrize("name,document", _seed_texts())
def test_seed_chunks_cut_only_between_sentences(name: str, document: str) -> None:
    spans = split_sentences(document)
    starts = {start for start, _ in spans}
    ends = {end for _, end in spans}
    overlong = [(start, end) for start, end in spans if end - start > 600]

    def inside_overlong(offset: int) -> bool:
        return any(start < offset < end for start, end in overlong)

    for chunk in chunk_text(document):
        assert chunk.char_start in starts or inside_overlong(chunk.char_start)
        assert chunk.char_end in ends or inside_overlong(chunk.char_end)


def _top_level(section: str | None) -> str | None:
    return section.split(" / ")[0] if section else None


@needs_seeds
@pytest.mark.parametrize("name,document", _seed_texts())
def test_seed_chunks_overlap_by_at_most_one_sentence(name: str, document: str) -> None:
    spans = set(split_sentences(document))
    chunks = chunk_text(document)
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert before.char_start < after.char_start
        if after.char_start < before.char_end:
            assert (after.char_start, before.char_end) in spans
            # Overlap stays inside a top-level section (a passage that opens with a short
            # section's heading may run on into its first sub-section, so sub-levels can differ).
            assert _top_level(before.section) == _top_level(after.section)


@needs_seeds
@pytest.mark.parametrize("name,document", _seed_texts())
def test_seed_top_level_headings_start_a_passage_and_name_its_section(name: str, document: str) -> None:
    chunks = chunk_text(document)
    starts = {chunk.char_start: chunk for chunk in chunks}
    for line in re.finditer(r"^[一二三四五六七八九十]+、.*$", document, flags=re.MULTILINE):
        assert line.start() in starts
        heading = _sentences(line.group())[0]  # the label is the heading line's first sentence
        label = heading if len(heading) <= 40 else heading[:39] + "…"
        section = starts[line.start()].section
        assert section is not None and section.split(" / ")[0] == label


@needs_seeds
def test_seed_chunk_lengths_average_between_min_and_target() -> None:
    lengths = [len(chunk.text) for _, document in _seed_texts() for chunk in chunk_text(document)]
    assert 150 <= statistics.mean(lengths) <= 400


@needs_seeds
def test_chunking_is_fast() -> None:
    documents = [document for _, document in _seed_texts()]
    began = time.perf_counter()
    for _ in range(20):
        for document in documents:
            chunk_text(document)
    # About 10 ms on a laptop; the bound only catches an accidental quadratic.
    assert time.perf_counter() - began < 2.0
