"""Title, date, speaker and place from record fields and raw text; the content hash."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.cleaning import clean_text
from qa.metadata import content_hash, extract_metadata, normalize_date
from qa.readers import read_path
from qa.types import Metadata, RawDocument

SEEDS = Path(__file__).parents[1] / "qa" / "sample_speeches"  # the five sample speeches


def metadata_of(text: str, **fields: str) -> Metadata:
    raw = RawDocument(text=text, source="test.txt", **fields)
    return extract_metadata(raw, clean_text(raw.text))


@pytest.mark.parametrize(
    ("value", "iso"),
    [
        ("2022-09-18 09:36:00", "2022-09-18"),
        ("2022/9/18", "2022-09-18"),
        ("2022.9.18", "2022-09-18"),
        ("20220918", "2022-09-18"),
        ("2022年9月18日", "2022-09-18"),
        ("２０２２年９月１８日", "2022-09-18"),
        ("二〇二三年五月十一日", "2023-05-11"),
        ("2016-05-20T10:00:00+08:00", "2016-05-20"),
        ("2022-02-30", None),
        ("20221399", None),
        ("0000-01-01", None),
        ("8月14日", None),
        ("", None),
    ],
)
def test_normalize_date(value: str, iso: str | None) -> None:
    assert normalize_date(value) == iso


# --- the five seeds --------------------------------------------------------------------------

SEED_METADATA = {
    "000": Metadata(title="縣工業領導組擴大會上的講話", date="2022-09-18", date_kind="published"),
    # The speech's own heading, not the uploader's file name "2023年在全镇工业经济推进会上的致辞.docx".
    "001": Metadata(
        title="在全镇工业经济推进会上的讲话",
        date="2023-05-11",
        date_kind="speech",
        speaker="陈章平",
        place="腊口镇四楼会议室",
    ),
    "002": Metadata(title="在縣委工作會上的發言稿"),
    "003": Metadata(title="縣“領導包項、干部駐企”工作動員會講話", date="2022-01-27", date_kind="published"),
    # A news report: "8月14日" has no year, so no date; the mobilisation speech is 張學鋒's.
    "004": Metadata(title="云陽召開“千億工業”高質量發展動員大會", speaker="張學鋒"),
}


@pytest.mark.parametrize("prefix", sorted(SEED_METADATA))
def test_seed_metadata(prefix: str) -> None:
    if not SEEDS.is_dir():
        pytest.skip(f"sample corpus not found at {SEEDS}")
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    (raw,) = list(read_path(path))
    assert isinstance(raw, RawDocument)
    assert extract_metadata(raw, clean_text(raw.text)) == SEED_METADATA[prefix]


# --- rules on real lines ---------------------------------------------------------------------

BYLINE = (
    "在全镇工业经济推进会上的讲话 陈章平 (2023年5月11日在腊口镇四楼会议室) 同志们: 近段时间,我们专门组织有关人员到企业"
)


def test_byline_gives_title_speaker_speech_date_and_place() -> None:
    assert metadata_of(BYLINE) == Metadata(
        title="在全镇工业经济推进会上的讲话",
        date="2023-05-11",
        date_kind="speech",
        speaker="陈章平",
        place="腊口镇四楼会议室",
    )


def test_byline_on_separate_lines_with_chinese_numerals() -> None:
    text = "在全县经济工作会议上的讲话\n张学锋\n（二〇二三年五月十一日）\n同志们：\n今天我们召开全县经济工作会议。"
    assert metadata_of(text) == Metadata(
        title="在全县经济工作会议上的讲话", date="2023-05-11", date_kind="speech", speaker="张学锋"
    )


def test_speech_date_beats_publication_date() -> None:
    text = "时间:2023-04-20\n" + BYLINE
    assert metadata_of(text, date="2023-06-01").date == "2023-05-11"


def test_publication_date_from_download_chrome() -> None:
    text = "分享\n下载文档\n时间:2023-04-20\n收藏 分享赚钱\n在全镇工业经济推进会上的讲话\n同志们:"
    meta = metadata_of(text)
    assert (meta.date, meta.date_kind, meta.title) == ("2023-04-20", "published", "在全镇工业经济推进会上的讲话")


def test_record_date_is_the_publication_date_when_the_text_states_none() -> None:
    meta = metadata_of("国家副主席王岐山今天在中南海会见蒙古国外长朝格特巴特尔。", date="2019-04-01")
    assert (meta.date, meta.date_kind) == ("2019-04-01", "published")


def test_invalid_speech_date_is_not_invented() -> None:
    meta = metadata_of("在全镇工业经济推进会上的讲话 陈章平 (2023年2月30日在腊口镇四楼会议室) 同志们:")
    assert (meta.date, meta.date_kind) == (None, None)


def test_record_title_wins_and_loses_its_video_tag() -> None:
    meta = metadata_of("王岐山表示，蒙古国是最早同新中国建交的国家之一。", title="[视频]王岐山会见蒙古国外长")
    assert meta.title == "王岐山会见蒙古国外长"
    column = metadata_of("今天刊播国际锐评。", title="[视频]【国际锐评】止暴制乱是当前民意迫切诉求")
    assert column.title == "【国际锐评】止暴制乱是当前民意迫切诉求"


def test_record_speaker_and_place_win() -> None:
    meta = metadata_of(BYLINE, speaker="陳章平", place="腊口镇")
    assert (meta.speaker, meta.place) == ("陳章平", "腊口镇")


def test_title_falls_back_to_the_download_file_name() -> None:
    text = (
        "分享\n2023年在全镇工业经济推进会上的致辞.docx\n下载文档\n"
        "同志们:\n近段时间,我们专门组织有关人员到企业就生产、就业情况进行了调研。"
    )
    assert metadata_of(text).title == "2023年在全镇工业经济推进会上的致辞"


def test_no_title_when_the_text_opens_with_prose() -> None:
    text = "李總統登輝先生今天表示，中國的統一不應經由使用武力，海峽兩岸之間，當務之急是要建立互信的基礎。"
    assert metadata_of(text) == Metadata()


def test_speaker_from_role_and_name() -> None:
    text = "云陽召開動員大會\n縣委書記張學鋒作動員講話，縣委副書記、縣長覃昌德安排部署工作。"
    assert metadata_of(text).speaker == "張學鋒"
    # "趙書記還將作重要講話" names someone who speaks later, without a full name: no speaker.
    assert metadata_of("最后,趙書記還將作重要講話。下面,我講三點具體意見:").speaker is None


def test_speaker_from_title() -> None:
    assert metadata_of("同志们：", title="习近平在中央经济工作会议上的讲话").speaker == "习近平"
    assert metadata_of("同志们：", title="在全镇工业经济推进会上的讲话").speaker is None


def test_place_is_not_an_event() -> None:
    meta = metadata_of("张学锋\n（2023年5月11日在全县经济工作会议上的讲话）\n同志们：")
    assert (meta.speaker, meta.date, meta.place) == ("张学锋", "2023-05-11", None)


# --- content hash ------------------------------------------------------------------------------


def test_content_hash_is_the_same_across_scripts_and_widths() -> None:
    simplified = (
        "县工业领导组扩大会上的讲话\n今天县上专门召开工业领导组扩大会议，目的是贯彻落实泸州市工业领导组扩大会议精神。"
    )
    traditional = (
        "縣工業領導組擴大會上的講話\n今天縣上專門召開工業領導組擴大會議,目的是貫徹落實瀘州市工業領導組擴大會議精神。"
    )
    assert content_hash(simplified) == content_hash(traditional)
    assert len(content_hash(simplified)) == 64
    assert content_hash(simplified) != content_hash(simplified.replace("泸州市", "重庆市"))
