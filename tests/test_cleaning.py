"""Each cleaning rule against real lines of the sample corpus, then all five seeds end to end."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qa.ingest.cleaning import (
    clean_text,
    drop_control_chars,
    normalize_whitespace,
    remove_broadcast_boilerplate,
    remove_download_chrome,
    remove_glued_page_numbers,
    remove_keyword_tag_lines,
    remove_page_footers,
    remove_pinyin_annotations,
    remove_related_articles,
    remove_site_chrome_lines,
    remove_stray_marks,
    repair_lost_byte_runs,
    repair_wrong_codec_runs,
)

SEEDS = Path(__file__).parents[1] / "qa" / "sample_speeches"  # the five sample speeches


# --- one test (or more) per rule ------------------------------------------------------------


def test_drop_control_chars_unifies_line_ends_and_odd_spaces() -> None:
    # xwlb paragraphs end in "\r\n" and credits are indented with no-break spaces.
    raw = "全国人大常委会副委员长兼秘书长王晨参加会谈。\r\n\xa0\xa0\xa0\xa0（文字编辑：易佳）\x08\u200b"
    assert drop_control_chars(raw) == "全国人大常委会副委员长兼秘书长王晨参加会谈。\n    （文字编辑：易佳）"


def test_repair_wrong_codec_runs_fixes_utf8_read_as_gbk() -> None:
    # "在全镇工业经济推进会上的讲话" (seed 001) saved as UTF-8 and opened as GBK.
    assert repair_wrong_codec_runs("鍦ㄥ叏闀囧伐涓氱粡娴庢帹杩涗細涓婄殑璁茶瘽") == "在全镇工业经济推进会上的讲话"


def test_repair_wrong_codec_runs_fixes_utf8_read_as_cp1252() -> None:
    mojibake = "ä¸\xadå›½å·¥ä¼šç¬¬å\x8d\x81å…\xadæ¬¡å…¨å›½ä»£è¡¨å¤§ä¼š"
    assert repair_wrong_codec_runs(mojibake) == "中国工会第十六次全国代表大会"


@pytest.mark.parametrize(
    "line",
    [
        "趙勇、賴建彬、丁笙洺、劉曉云、李學義、韓海燕、王啟海、楊志奇、曾郴等縣領導出席。",  # rare names
        "是扩张的“助推器〞、是富民强县的“发动机〞。",
        "宏都拉斯共和國副總統艾蕾拉(Lorena Enriqueta Herrera Estévez de Enamorado)",
    ],
)
def test_repair_wrong_codec_runs_leaves_real_text_alone(line: str) -> None:
    assert repair_wrong_codec_runs(line) == line


@pytest.mark.parametrize(
    ("garbled", "repaired"),
    [
        # seed 003: the character between the quotes lost its lead byte (its trail A3 makes no word
        # between quotes: dropped), 施 its trail byte (its lead CA after 措 makes 措施: kept).
        ("在“包”上有方案、有重點,在“?!鄙嫌写胧?、有成效。", "在“包”上有方案、有重點,在“”上有措施、有成效。"),
        # 快 kept its trail byte EC, but 天干 is as much a word as 快干: dropped.
        ("要強化時間意識??旄梢粋€樣,慢干又一個樣;", "要強化時間意識干一個樣,慢干又一個樣;"),
        # 縣 kept its trail byte 68 ('h'), and no everyday character with it makes a word with 駐.
        ("做到心中有數??h駐企辦要擬好調研提綱,", "做到心中有數駐企辦要擬好調研提綱,"),
        # ... but with 級 it does: 縣級.
        ("大服務”格局的出現,率先垂范,轉變作風??h級領導、各部門主要領導", "大服務”格局的出現,率先垂范,轉變作風縣級領導、各部門主要領導"),
        # 保 kept its trail byte A3 (in the '!' of A3 A1), and 確 before it makes 確保.
        ("三、要確?!邦I導包項、干部駐企”工作切實落到實處", "三、要確保“領導包項、干部駐企”工作切實落到實處"),
        ("是扩张的“助推器\ufffd\ufffd、是富民强县的", "是扩张的“助推器、是富民强县的"),
    ],
)
def test_repair_lost_byte_runs(garbled: str, repaired: str) -> None:
    assert repair_lost_byte_runs(garbled) == repaired


@pytest.mark.parametrize(
    "line",
    ["这是怎样得逞的?详细内容请看", "环卫工：家里?看不到人啊?", "中央电视台3?15晚会今晚", "China Lead?：Reaching"],
)
def test_repair_lost_byte_runs_keeps_question_marks(line: str) -> None:
    # xwlb writes some question marks half-width; they are not lost bytes.
    assert repair_lost_byte_runs(line) == line


def test_remove_pinyin_annotations() -> None:
    assert remove_pinyin_annotations("在縣委工作會(huì)上的發(fā)言稿") == "在縣委工作會上的發言稿"
    assert remove_pinyin_annotations("不代表本站觀點,若需要原創(chuàng)文章") == "不代表本站觀點,若需要原創文章"


def test_remove_pinyin_annotations_drops_orphaned_glosses() -> None:
    # seed 002: the annotated character and "(" were lost together.
    assert remove_pinyin_annotations("責任再落實,措施再?gòu)?qiáng)化。") == "責任再落實,措施再化。"
    assert remove_pinyin_annotations("1-4月入庫統計項目?jī)H有47個") == "1-4月入庫統計項目有47個"


@pytest.mark.parametrize(
    "line",
    [
        "(一)認真分析,強化工作措施",
        "陈章平 (2023年5月11日在腊口镇四楼会议室)",
        "從上半年全市十縣(市)主要經濟指標完成情況排行榜看",
        "本信電子科技(重慶)有限公司",
    ],
)
def test_remove_pinyin_annotations_keeps_real_parentheses(line: str) -> None:
    assert remove_pinyin_annotations(line) == line


def test_remove_stray_marks() -> None:
    assert remove_stray_marks("共同解決企業生產經營中遇到的`困難和問題") == "共同解決企業生產經營中遇到的困難和問題"


def test_remove_broadcast_boilerplate_opening() -> None:
    assert (
        remove_broadcast_boilerplate(
            "    央视网消息（新闻联播）：国家副主席王岐山今天在中南海会见蒙古国外长朝格特巴特尔。"
        )
        == "国家副主席王岐山今天在中南海会见蒙古国外长朝格特巴特尔。"
    )
    assert (
        remove_broadcast_boilerplate("中国网络电视台消息(新闻联播)：本台消息，应国家主席胡锦涛邀请")
        == "本台消息，应国家主席胡锦涛邀请"
    )


def test_remove_broadcast_boilerplate_credits() -> None:
    text = (
        "单行本，已由人民出版社出版，即日起在全国新华书店发行。\n"
        "    (视频编辑：张贝龙 文字编辑：温凤浩)\n"
        "    （文字编辑：易佳）"
    )
    assert remove_broadcast_boilerplate(text).rstrip() == "单行本，已由人民出版社出版，即日起在全国新华书店发行。"


def test_remove_site_chrome_lines() -> None:
    text = (
        "縣工業領導組擴大會上的講話\n"
        "時間:2022-09-18 09:36:00\n"
        "導語:縣工業領導組擴大會上的講話一文來源于網友上傳,不代表本站觀點,若需要原創文章可咨詢客服老師,歡迎參考。\n"
        "今天縣上專門召開工業領導組擴大會議,\n"
        "- 上一篇:高校網絡德育工作論文\n"
        "- 下一篇:小城鎮建設座談會匯報講話"
    )
    assert (
        normalize_whitespace(remove_site_chrome_lines(text))
        == "縣工業領導組擴大會上的講話\n\n今天縣上專門召開工業領導組擴大會議,"
    )


DOWNLOAD_HEADER = """分享
2023年在全镇工业经济推进会上的致辞.docx
下载文档

ID:1399068

大小:20.49KB

页数:7页

格式:DOCX

时间:2023-04-20

收藏 分享赚钱
温馨提示:
1. 部分包含数学公式或PPT动画的文件,查看预览时可能会显示错乱或异常,文件下载后无此问题,请放心下载。
2. 本文档由用户上传,版权归属用户,汇文网负责整理代发布。如果您对本文档版权有争议请及时联系客服。
3. 下载前请仔细阅读文档内容,确认文档内容符合您的需求后进行下载,若出现内容与标题不符可向本站投诉处理。
4. 下载文档时可能由于网络波动等原因无法下载或下载错误,付费完成后未能成功下载的用户请联系客服处理。
网站客服:3074922707
"""
DOWNLOAD_FOOTER = """
此文档下载收益归作者所有

下载文档
你可能关注的文档
收起
展开"""


def test_remove_download_chrome() -> None:
    body = "1、深刻領會精神。三月下旬,省委、省政府在經過認真、周密的籌備后,\n同志们,今年的目标已经明确,任务十分艰巨。"
    cleaned = remove_site_chrome_lines(remove_download_chrome(DOWNLOAD_HEADER + body + DOWNLOAD_FOOTER))
    assert normalize_whitespace(cleaned) == body


def test_remove_related_articles() -> None:
    text = (
        "增強全縣經濟發展的后勁和活力。\n"
        "【在縣委工作會上的發言稿】相關文章:\n"
        "縣委書記在教師節座談會上發言稿201707-11\n"
        "縣委代表在建校一百周年慶典大會上的發言稿02-17\n"
        "縣委工作總結11-12\n"
        "縣委的工作總結04-07"
    )
    assert remove_related_articles(text).rstrip() == "增強全縣經濟發展的后勁和活力。"


def test_remove_keyword_tag_lines() -> None:
    text = (
        "2023年在全镇工业经济推进会上的致辞.docx\n网站客服:3074922707\n"
        "2023 工业经济 推进 会上 致辞\n在全镇工业经济推进会上的讲话"
    )
    assert remove_keyword_tag_lines(text) == (
        "2023年在全镇工业经济推进会上的致辞.docx\n网站客服:3074922707\n\n在全镇工业经济推进会上的讲话"
    )


def test_remove_keyword_tag_lines_keeps_lists_of_names() -> None:
    text = "二、中央政治局常务委员会委员\n习近平 李克强 栗战书 汪洋 王沪宁 赵乐际 韩正\n三、中央委员会总书记\n习近平"
    assert remove_keyword_tag_lines(text) == text


def test_remove_page_footers() -> None:
    line = "为十二五时期再创腊口工业新辉煌作出更大奉献。 第7页 共7页"
    assert remove_page_footers(line).rstrip() == "为十二五时期再创腊口工业新辉煌作出更大奉献。"


# Two real lines of seed 001 that page numbers 2 and 3 were glued into, a page apart.
PAGE_2 = "二是难点增多。一方面,市场宏 2观环境还不是非常乐观,今年指标任务分解到每个企业压力会增大;"
PAGE_3 = "(一)科学规划与构建工业大平台相结合。市委卢书记 3年初专题来我们这调研腊口区块的开展,"
ONE_PAGE = "对剧烈竞争的态势、面临的差距和压力缺乏紧迫感、责任感、使命感。" * 8


def test_remove_glued_page_numbers() -> None:
    cleaned = remove_glued_page_numbers(PAGE_2 + ONE_PAGE + PAGE_3)
    assert "市场宏观环境" in cleaned
    assert "市委卢书记年初专题" in cleaned


def test_remove_glued_page_numbers_keeps_a_paragraph_break_after_a_full_stop() -> None:
    text = "能够尽快改之。 1结合今年的工作任务,我再强调三点意见:" + ONE_PAGE + PAGE_2
    assert "改之。 结合今年" in remove_glued_page_numbers(text)


@pytest.mark.parametrize(
    "text",
    [
        PAGE_3,  # a lone candidate: "3年" may be a figure
        # Taiwanese releases set numbers off with spaces; nothing there is a page number.
        "臺灣的景氣對策信號已連續 8 個月呈現綠燈,"
        + ONE_PAGE
        + "較去年進步 2名,在亞太地區"
        + ONE_PAGE
        + "較去年進步 3名;",
        "獲得第 1名" + ONE_PAGE + "獲得第 2名",
    ],
)
def test_remove_glued_page_numbers_keeps_figures(text: str) -> None:
    assert remove_glued_page_numbers(text) == text


FLATTENED = (
    "在全镇工业经济推进会上的讲话 陈章平 (2023年5月11日在腊口镇四楼会议室) 同志们: 近段时间,我们专门组织有关人员"
    "到企业就生产、就业情况进行了调研。"
    + "今天我们在这里举行腊口镇工业经济推进会。"
    * 40
    + " 结合今年的工作任务,我再强调三点意见: 一、认清形势,增强开展工业经济的紧迫感和使命感 今年以来,县委、县政府"
    "把工业强县战略摆在了更加突出的位置。 但我们也要清晰的认识到我们存在的问题和缺乏。 通过今天的会议,我们既要发扬"
    "成绩、再接再厉。 (一)科学规划与构建工业大平台相结合。"
)


def test_normalize_whitespace_splits_a_flattened_docx_into_paragraphs() -> None:
    # seed 001 is a .docx saved as one line, paragraphs joined by spaces.
    assert normalize_whitespace(FLATTENED).split("\n") == [
        "在全镇工业经济推进会上的讲话",
        "陈章平 (2023年5月11日在腊口镇四楼会议室)",
        "同志们:",
        "近段时间,我们专门组织有关人员到企业就生产、就业情况进行了调研。"
        + "今天我们在这里举行腊口镇工业经济推进会。" * 40,
        "结合今年的工作任务,我再强调三点意见:",
        "一、认清形势,增强开展工业经济的紧迫感和使命感",
        "今年以来,县委、县政府把工业强县战略摆在了更加突出的位置。",
        "但我们也要清晰的认识到我们存在的问题和缺乏。",
        "通过今天的会议,我们既要发扬成绩、再接再厉。",
        "(一)科学规划与构建工业大平台相结合。",
    ]


@pytest.mark.parametrize(
    ("spaced", "normalized"),
    [
        ("抢干“二季度〞,大干“ 三、四季度〞,确保圆满完成", "抢干“二季度〞,大干“三、四季度〞,确保圆满完成"),
        ("正是當前兩岸人民的共同願望。 最後，總統請勞委會加強", "正是當前兩岸人民的共同願望。最後，總統請勞委會加強"),
        # Spaces between ideographs are the author's: bylines, honorific spaces, slogans.
        ("云陽網訊(記者 王彬彬 唐斌 鄧磊)加快發展、時不我待", "云陽網訊(記者 王彬彬 唐斌 鄧磊)加快發展、時不我待"),
        ("李總統登輝先生今天主持總統府 國父紀念月會", "李總統登輝先生今天主持總統府 國父紀念月會"),
        ("副總統出席「立穩根基\u3000 共創未來」", "副總統出席「立穩根基 共創未來」"),
        ("  同志們:  \n\n\n\n開展“領導包項、干部駐企”活動  ", "同志們:\n\n開展“領導包項、干部駐企”活動"),
    ],
)
def test_normalize_whitespace_inside_sentences(spaced: str, normalized: str) -> None:
    assert normalize_whitespace(spaced) == normalized


@pytest.mark.parametrize(
    "line",
    [
        "縣委書記張學鋒作動員講話，縣委副書記、縣長覃昌德安排部署工作。",
        "中国工会第十六次全国代表大会18日上午在人民大会堂开幕。",
    ],
)
def test_clean_text_keeps_script_and_full_width_punctuation(line: str) -> None:
    assert clean_text(line) == line


# --- the five seeds end to end ---------------------------------------------------------------

BOILERPLATE = [
    "時間:",
    "时间:",
    "導語",
    "导语",
    "上一篇",
    "下一篇",
    "相關文章",
    "分享",
    "下载文档",
    ".docx",
    "ID:",
    "大小:",
    "页数",
    "格式:",
    "收藏",
    "温馨提示",
    "网站客服",
    "此文档下载收益归作者所有",
    "你可能关注的文档",
    "收起",
    "展开",
    "第7页",
    "共7页",
    "2023 工业经济 推进 会上 致辞",
    "(huì)",
    "`",
    "?",
    "\ufffd",
    "€",
    "鄙嫌写胧",
    "旄梢粋",
    "邦I",
]
KEPT = {
    "000": [
        "縣工業領導組擴大會上的講話",
        "一、認清形勢,找準差距",
        "1、深刻領會精神",
        "3、堅定發展的信心和決心",
        "三、強化措施,統籌協調",
        "于4月13日召開",
        "22個重點建設項目和76個上爭外引項目",
        "新局面。",
    ],
    "001": [
        "在全镇工业经济推进会上的讲话",
        "一、认清形势",
        "二、重点突破",
        "三、转变作风",
        "(一)科学规划",
        "(二)企业扩量提质",
        "(三)优化环境",
        "1.4亿元",
        "202223年",
        "6-7月份",
        "314亩",
        "2.2亿元",
        "4.95亿元",
        "33%",
        "市场宏观环境",
        "市委卢书记年初专题",
        "要培育新兴企业",
        "层层签订责任状",
        "上下功夫;学校",
        "\n结合今年的工作任务",
    ],
    "002": [
        "在縣委工作會上的發言稿",
        "一、準確研判形勢",
        "(一)認真分析",
        "(二)提速增效",
        "(三)強化服務",
        "20.5億元",
        "23.8%",
        "3.5個百分點",
        "9.7億元",
        "60.5%",
        "1-4月",
        "遇到的困難和問題",
        "后勁和活力。",
    ],
    "003": [
        "同志們:",
        "第一,開展",
        "第二,開展",
        "第三,開展",
        "二、要明確",
        "(一)關于“領導包項”工作",
        "(二)關于駐企工作",
        "10億元以上",
        "17%",
        "11項重點優勢產業",
        "一是要當好“調研員”",
        "三、要確保“領導包項", "在“”上有措施、有成效",
        "做出應有的貢獻。",
    ],
    "004": [
        "云陽召開“千億工業”高質量發展動員大會",
        "8月14日",
        "1個市級特色工業園區",
        "“1+5+42”",
        "42個樓宇工業園",
        "記者 王彬彬 唐斌 鄧磊",
        "一是既要有心動",
        "在分會場參加會議。",
    ],
}
_GLUED_DIGIT = re.compile(r" \d[\u4e00-\u9fff]")
_PINYIN_LEFT = re.compile("[(（][a-zü]*[āáǎàēéěèīíǐìōóǒòūúǔù]")


def _seed(prefix: str) -> str:
    if not SEEDS.is_dir():
        pytest.skip(f"sample corpus not found at {SEEDS}")
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("prefix", sorted(KEPT))
def test_seed_cleans_completely(prefix: str) -> None:
    cleaned = clean_text(_seed(prefix))
    left_over = [b for b in BOILERPLATE if b in cleaned]
    assert left_over == []
    assert not _GLUED_DIGIT.search(cleaned)
    assert not _PINYIN_LEFT.search(cleaned)
    missing = [k for k in KEPT[prefix] if k not in cleaned]
    assert missing == []
    assert "\n\n\n" not in cleaned and cleaned == cleaned.strip()


def test_seed_001_paragraphs() -> None:
    lines = clean_text(_seed("001")).split("\n")
    assert lines[:3] == ["在全镇工业经济推进会上的讲话", "陈章平 (2023年5月11日在腊口镇四楼会议室)", "同志们:"]
    assert lines[-1].endswith("作出更大奉献。")


def test_clean_text_is_idempotent_on_seeds() -> None:
    for prefix in KEPT:
        once = clean_text(_seed(prefix))
        assert clean_text(once) == once
