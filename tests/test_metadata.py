"""Title, date, speaker and place from record fields and raw text; the content hash."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from qa.ingest.cleaning import clean_text
from qa.ingest.metadata import Attribution, attribute, content_hash, extract_metadata, office_holder, refresh_metadata
from qa.ingest.pipeline import build_document
from qa.ingest.readers import read_path
from qa.types import Document, Metadata, RawDocument

SEEDS = Path(__file__).parents[1] / "qa" / "sample_speeches"  # the five sample speeches


def metadata_of(text: str, **fields: str) -> Metadata:
    raw = RawDocument(text=text, source="test.txt", **fields)
    return extract_metadata(raw, clean_text(raw.text))


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


# --- who speaks, where, at what: real opening lines of the archive -------------------------------


def attribution_of(title: str, text: str, date: str | None = None) -> Attribution:
    raw = RawDocument(text=text, source="test", title=title, date=date)
    meta = extract_metadata(raw, clean_text(raw.text))
    return Attribution(meta.speaker, meta.place, attribute(meta.title, clean_text(text), meta.date).occasion)


def test_release_opens_with_name_and_office() -> None:
    text = (
        "副總統出席「『劍氣詩情』陳吉山作品集新書發表及創作個展」開幕茶會\n"
        "賴清德副總統今（7）日下午前往臺南出席「『劍氣詩情』陳吉山作品集新書發表及創作個展」開幕茶會，"
        "以實際行動表達對陳老師畫作及新書的支持。\n副總統致詞時表示，今天是武漢肺炎解封的首日。"
    )
    assert attribution_of("副總統：盼更多人了解書畫大師陳吉山的劍氣與詩情", text, "2020-06-07") == Attribution(
        "賴清德", "臺南", "『劍氣詩情』陳吉山作品集新書發表及創作個展"
    )


def test_name_and_office_after_a_when_clause() -> None:
    text = (
        "總統春節視導暨勗勉陸軍機步269旅\n春節將屆，蔡英文總統今（16）日上午前往桃園視導暨勗勉陸軍機步269旅，"
        "感謝國軍堅守崗位，戮力戰訓本務，讓國人安心過年。"
    )
    assert attribution_of("視導暨勗勉陸軍機步269旅 總統肯定國軍堅守崗位", text, "2020-01-16").speaker == "蔡英文"


def test_the_name_must_hold_the_office_on_the_date() -> None:
    # "韩国总统李在明": a country and an office, not a name and an office.
    text = "当地时间11月1日下午，韩国总统李在明同中国国家主席习近平在庆州博物馆举行会谈。"
    assert attribution_of("", text, "2025-11-01").speaker is None
    assert attribution_of("[视频]习近平出席韩国总统举行的欢迎仪式", text, "2025-11-01").speaker == "习近平"


def test_office_holders_by_date() -> None:
    assert office_holder("總統", "2024-05-19") == "蔡英文"
    assert office_holder("總統", "2024-05-20") == "賴清德"
    assert office_holder("副总统", "2022-01-09") == "賴清德"
    assert office_holder("副總統", "2020-05-19") == "陳建仁"
    assert office_holder("總統", "2015-01-01") is None
    assert office_holder("總統", None) is None


def test_office_in_the_heading_resolved_by_the_name_in_the_text() -> None:
    text = (
        "「109年向先祖暨忠烈殉職人員致祭」於今（29）日上午9時在臺北市圓山國民革命忠烈祠隆重舉行，"
        "蔡英文總統親臨主祭，行政院長蘇貞昌、立法院長游錫堃陪祭。"
    )
    assert attribution_of("總統主持「109年向先祖暨忠烈殉職人員致祭」", text, "2020-03-29").speaker == "蔡英文"
    # The holder that day is 蔡英文, so a release naming someone else with the office gives no speaker.
    assert attribution_of("總統主持「109年向先祖暨忠烈殉職人員致祭」", text, "2024-06-01").speaker is None


def test_meeting_chaired_by_the_office_holder() -> None:
    text = (
        "副總統主持「總統府人權諮詢委員會第39次委員會議」\n總統府今（6）日下午召開「總統府人權諮詢委員會第39次委員會議」，"
        "由召集人陳建仁副總統主持。副總統表示，「總統府人權諮詢委員會」成立10周年。"
    )
    assert attribution_of("「總統府人權諮詢委員會」完成階段性任務", text, "2020-05-06").speaker == "陳建仁"
    text = "總統府今(19)日下午召開李前總統登輝先生治喪大員會議，由副總統賴清德主持。會後，總統府召開記者會說明。"
    assert attribution_of("總統府召開李前總統登輝先生治喪大員會議", text, "2020-08-19").speaker == "賴清德"
    text = (
        "總統府原住民族歷史正義與轉型正義委員會（以下簡稱原轉會）今（27）日召開第12次委員會議，"
        "由召集人蔡英文總統親自主持，會議歷時約2個半小時。"
    )
    assert attribution_of("「原轉會第12次委員會議」會後新聞稿", text, "2021-01-27").speaker == "蔡英文"


def test_a_long_heading_without_commas_is_not_the_lead() -> None:
    text = (
        "總統接見第19屆「國家卓越成就奬」、第10屆「國家傑出執行長奬」、第4屆「國家非營利組織總經理奬」、"
        "2025「國家傑出總經理奬」、2025「國家傑出台商總經理奬」暨第43屆「國家傑出經理奬」得獎人\n"
        "賴清德總統今（9）日上午接見得獎人時表示，感謝各專業經理人的努力。"
    )
    assert attribution_of("總統肯定與感謝各專業經理得獎人", text, "2025-12-09").speaker == "賴清德"


def test_spokesperson_speaks_for_the_office() -> None:
    text = (
        "關於日本安倍晉三首相今（28）日因健康因素宣布辭去首相職務，總統府發言人張惇涵表示，"
        "蔡總統誠摯感謝安倍首相長年來對於我國的堅定支持，以及對於推進臺日關係的貢獻。"
    )
    title = "針對日本安倍首相因健康因素宣布辭去首相職務 總統誠摯感謝長年對我國堅定支持，並盼望早日恢復健康"
    assert attribution_of(title, text, "2020-08-28").speaker == "張惇涵"
    # A spokesperson whose name is not in Han characters: unknown, not the president named in the title.
    text = (
        "我國拉丁美洲及加勒比海友邦巴拉圭共和國總統阿布鐸伉儷應我國政府邀請，率團來臺進行為期5天的國是訪問行程，"
        "總統府發言人Kolas Yotaka今（15）日表示，蔡總統代表我國政府及人民，誠摯歡迎阿布鐸總統率團訪問臺灣。"
    )
    assert attribution_of("蔡總統誠摯歡迎我國友邦巴拉圭共和國總統阿布鐸伉儷率團訪問臺灣", text, "2023-02-15").speaker is None


def test_leader_after_titles_in_a_story() -> None:
    text = (
        "中共中央政治局常委、国务院副总理丁薛祥23日在北京会见伊朗外交部长阿拉格齐。\n"
        "丁薛祥表示，中伊两国传统友好，各领域合作取得丰硕成果。"
    )
    assert attribution_of("", text) == Attribution("丁薛祥", "北京", None)
    meeting = "国务院总理李强5月9日主持召开国务院常务会议，学习贯彻习近平总书记在部分省区市座谈会上的重要讲话精神。"
    assert attribution_of("[视频]李强主持召开国务院常务会议", meeting) == Attribution("李强", None, "国务院常务会议")


def test_title_subject_introduced_with_title_after_the_name() -> None:
    title = "[视频]赵乐际主持召开十四届全国人大常委会第六十五次委员长会议 决定十四届全国人大常委会第二十二次会议4月27日至30日在京举行"
    text = "十四届全国人大常委会第六十五次委员长会议20日下午在北京人民大会堂举行。赵乐际委员长主持会议。"
    assert attribution_of(title, text) == Attribution("赵乐际", "北京人民大会堂", None)
    text = "国家主席习近平13日下午在人民大会堂东门外广场举行仪式，欢迎巴西联邦共和国总统卢拉对我国进行国事访问。"
    assert attribution_of("[视频]习近平举行仪式欢迎巴西总统访华", text) == Attribution("习近平", "人民大会堂东门外广场", None)


def test_place_is_where_the_speaker_acts_not_what_they_said() -> None:
    text = (
        "副總統出席「淨零城市國際峰會」\n賴清德副總統今（28）日下午出席「淨零城市國際峰會」時表示，每個城市都是對抗氣候變遷的第一線，"
        "有責任集思廣益，站在一起共同對抗。"
    )
    assert attribution_of("出席淨零城市國際峰會 副總統盼全球城市一起共同對抗氣候變遷", text, "2022-11-28") == Attribution(
        "賴清德", None, "淨零城市國際峰會"
    )
    text = (
        "教宗方濟各（Pope Francis）將在9月4日於梵蒂岡，主持先教宗若望保祿一世榮列真福品大典，總統府發言人張惇涵今（2）日晚間表示，"
        "蔡總統特派前副總統陳建仁擔任特使，偕夫人赴教廷出席大典，彰顯兩國友好緊密邦誼。"
    )
    assert attribution_of("總統特派前副總統陳建仁為特使", text, "2022-09-02") == Attribution("張惇涵", None, None)
    text = (
        "賴清德總統今（10）日下午根據中華民國憲法賦予的權責，召集五院會商國政，總統府於會後舉行記者會，由潘孟安秘書長宣讀會商結論。"
    )
    assert attribution_of("「總統與五院國政會商」會後記者會", text, "2025-03-10").place is None


def test_in_jing_is_beijing() -> None:
    text = "全国政协主席王沪宁2日在京会见来华出席2025年上海合作组织峰会的伊朗总统佩泽希齐扬。\n王沪宁表示，中伊两国传统友谊深厚。"
    assert attribution_of("[视频]王沪宁会见伊朗总统", text) == Attribution("王沪宁", "北京", None)


def test_official_speaks_in_a_later_clause() -> None:
    text = (
        "庆祝中国民主促进会成立80周年大会9日在京举行，中共中央政治局委员、中央统战部部长李干杰出席大会并代表中共中央致贺词。"
        "贺词表示，民进不愧为一支重要力量。"
    )
    assert attribution_of("[视频]庆祝中国民主促进会成立80周年大会在京举行", text).speaker == "李干杰"


def test_article_by_a_leader() -> None:
    text = (
        "2025年1月1日出版的第1期《求是》杂志发表中共中央总书记、国家主席、中央军委主席习近平的重要文章"
        "《以中国式现代化全面推进强国建设、民族复兴伟业》。\n文章强调，概括提出并深入阐述中国式现代化理论。"
    )
    assert attribution_of("[视频]《求是》杂志发表习近平总书记重要文章", text).speaker == "习近平"


def test_report_named_in_the_title() -> None:
    title = "[视频]新华社播发李希同志在中国共产党第二十届中央纪律检查委员会第四次全体会议上的工作报告"
    text = "新华社今天（2月27日）播发李希同志在中国共产党第二十届中央纪律检查委员会第四次全体会议上的工作报告。"
    assert attribution_of(title, text).speaker == "李希"


@pytest.mark.parametrize(
    ("title", "text"),
    [
        # Others praise the leader's speech: their words, not his.
        (
            "[视频]共同书写促进全球妇女合作的崭新篇章——国际人士积极评价习近平主席在全球妇女峰会开幕式的主旨讲话",
            "国际人士表示，习近平主席在全球妇女峰会开幕式的主旨讲话为全球妇女事业发展提供指引。",
        ),
        # Letters to the leader.
        (
            "[视频]外国领导人和国际组织负责人祝贺马年新春",
            "近日，许多国家领导人和国际组织负责人致电或致函中共中央总书记、国家主席习近平，祝贺中国人民喜迎马年新春。",
        ),
        # A word after a name and its title is not a name.
        (
            "[视频]【新思想引领新征程】长江经济带共绘高质量发展新图景",
            "今年是“十五五”开局之年。习近平总书记明确指出，要“使长江经济带成为我国生态优先绿色发展主战场”。",
        ),
        # An announcement: nobody has spoken yet.
        (
            "[视频]李强将出席上海合作组织成员国政府首脑（总理）理事会第二十四次会议",
            "应俄罗斯联邦总理米舒斯京邀请，国务院总理李强将于11月17日至18日出席在俄罗斯莫斯科举行的上海合作组织成员国"
            "政府首脑（总理）理事会第二十四次会议。",
        ),
        # A digest: the first item's speaker is not the document's.
        (
            "[视频]国际联播快讯",
            "匈牙利总理称欧盟当前战略注定失败\n匈牙利总理欧尔班11日在社交媒体上表示，欧盟当前的战略注定失败。"
            "欧尔班认为，欧盟不应寻求美国的支持。\n委内瑞拉总统称启动全面防御计划\n委内瑞拉总统马杜罗11日表示，启动全面防御计划。",
        ),
        # An obituary names its subject, who says nothing.
        ("[视频]宋平同志逝世", "中国共产党的优秀党员，原国务委员宋平同志，因病医治无效，于2026年3月4日15时36分在北京逝世。"),
        # A sentence with a date in brackets is not a byline ("明天" is no name).
        ("[视频]人民日报社论：满怀信心 砥砺奋进 开创新局——元旦献词", "明天（2026年1月1日）出版的《人民日报》将发表社论。"),
    ],
)
def test_no_speaker_where_nobody_in_the_lead_speaks(title: str, text: str) -> None:
    assert attribution_of(title, text, "2025-06-01").speaker is None


def test_refresh_fills_speaker_and_place_of_a_stored_document_and_keeps_known_fields() -> None:
    text = "国家副主席韩正21日在北京会见美国俄勒冈州参议长瓦格纳。\n韩正表示，中美两国间拥有广泛共同利益。"
    built = build_document(RawDocument(text=text, source="x", title="[视频]韩正会见美国俄勒冈州参议长"))
    assert isinstance(built, Document)
    assert (built.metadata.speaker, built.metadata.place) == ("韩正", "北京")
    stale = dataclasses.replace(built, metadata=dataclasses.replace(built.metadata, speaker=None, place=None))
    assert refresh_metadata(stale) == built.metadata
    given = dataclasses.replace(built, metadata=dataclasses.replace(built.metadata, speaker="韓正", place="北京市"))
    assert (refresh_metadata(given).speaker, refresh_metadata(given).place) == ("韓正", "北京市")


# --- the hand check: 100 archive documents drawn at random (docs/speaker_check.md) --------------------

CHECKED = [json.loads(line) for line in (Path(__file__).parent / "data" / "speaker_check.jsonl").open(encoding="utf-8")]


def test_hand_checked_documents_get_the_checked_metadata() -> None:
    got, expected = [], []
    for row in CHECKED:
        raw = RawDocument(text=row["text"], source=row["doc"], title=row["title"], date=row["date"])
        cleaned = clean_text(raw.text)
        meta = extract_metadata(raw, cleaned)
        got.append((row["n"], meta.speaker, meta.place, attribute(meta.title, cleaned, meta.date).occasion))
        expected.append((row["n"], row["speaker"], row["place"], row["occasion"]))
    assert got == expected  # a change here needs the changed documents checked by hand again


def test_hand_check_precision() -> None:
    assert len(CHECKED) == 100
    for row in CHECKED:  # a verdict says whether the stored speaker is right, so it must match its presence
        assert (row["speaker"] is not None) == (row["verdict"] in ("correct", "wrong")), row["n"]
    named = [row for row in CHECKED if row["speaker"]]
    precision = sum(row["verdict"] == "correct" for row in named) / len(named)
    assert precision >= 0.95


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


def test_a_line_of_office_then_name_under_the_title_names_the_speaker():
    from qa.ingest.metadata.heading import speaker_from_text

    assert speaker_from_text("在全县招商引资工作推进会上的讲话\n县长 王明远\n同志们：", None) == "王明远"
    assert speaker_from_text("在全县经济工作会议上的讲话\n中共某县委书记\u3000李 华\n", None) == "李华"
    # A sentence that mentions an office holder, or a line of two offices, names no speaker.
    assert speaker_from_text("在会上的讲话\n今天县长 王明远来了\n", None) is None
    assert speaker_from_text("在会上的讲话\n主任 委员\n", None) is None
