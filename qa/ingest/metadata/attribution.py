"""Who speaks in a document, where, and at what occasion: read from its title and opening lines.

A Presidential Office release names its principal in the opening sentence (賴清德總統今（16）日…);
a 新闻联播 story names the leader as the subject of its first sentence (国务院总理李强…主持召开…).
Only these positions count: people named further on are guests, hosts or the subject of the news.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.ingest.metadata.names import NAME_TAIL_NOT, is_person_name, name_at, surnames
from qa.ingest.metadata.offices import OFFICE, office_holder
from qa.text.normalize import HAN_BASIC

LEAD_CHARS = 800  # title lines and the opening paragraph

# The people's speech verbs that make the lead's subject the document's speaker.
_SPEECH_VERB = re.compile(
    r"讲话|講話|致辞|致詞|指出|强调|強調|表示|主持|会见|會見|会谈|會談|发表|發表|宣布|致信|致电|致電|致函|贺信|賀信"
    r"|回信|复信|覆信|答问|答問|专访|專訪|接见|接見|说，|說，|说：|說："
)
# A clause before the subject that only says when: "当地时间11月1日上午，", "春節將屆，", "今（24）日是農曆除夕，".
_WHEN_CLAUSE = re.compile(
    r"^[^，。]{0,60}?(?:\d|[〇一二三四五六七八九十]月|日|时|時|午|晚|将至|將至|将届|將屆|之际|之際|前夕|期间|期間|後|后)"
    r"[^，。]{0,20}，"
)
_ROLE_WORD = (
    r"(?:总书记|總書記|国家主席|國家主席|副主席|主席|副总理|副總理|总理|總理|委员长|委員長|国务委员|國務委員|常委"
    r"|书记|書記|部长|部長|外长|外長|发言人|發言人|秘书长|秘書長|主任|院长|院長|省长|省長|市长|市長|大使|总统|總統)"
)

# "由召集人陳建仁副總統主持" — a meeting chaired by an office holder named in the release.
_CHAIRED_BY = re.compile(
    rf"由[^，。]{{0,12}}?(?:(?P<name>[{HAN_BASIC}]{{3}}){OFFICE}|(?:副總統|總統|副总统|总统)(?P<name_after>[{HAN_BASIC}]{{3}}))"
    r"(?:親自|亲自)?主持"
)
_SPOKESPERSON = re.compile(r"(?:發言人|发言人)")
_ARTICLE_BY = re.compile(rf"发表[^。]{{0,30}}?{_ROLE_WORD}(?P<name>[{HAN_BASIC}]{{2,3}})的(?:重要)?(?:文章|讲话|講話)")

_PLACE = re.compile(
    rf"(?:在|於|于|前往|赴)(?P<place>京|[{HAN_BASIC}、·]{{2,22}}?)(?:隆重|亲切|親切|共同|分别|分別|一同|先后|先後)?"
    r"(?:出席|主持|会见|會見|会晤|會晤|会谈|會談|发表|發表|参加|參加|视导|視導|视察|視察|考察|调研|調研|参访|參訪|参观|參觀"
    r"|访视|訪視|接见|接見|接受|看望|慰问|慰問|勗勉|慰勉|举行|舉行|召开|召開|参拜|參拜|祈福|探视|探視|致辞|致詞|出访|出訪|(?<![共不一相协協])同)"
)
_NOT_A_PLACE_PART = re.compile(rf"{_ROLE_WORD}|在|於|于|以|並|并|為|为|方式|上午|下午|中午|晚間|晚间|繼續|继续|[後后]$|会见|會見|会谈|會談|出席|主持|举行|舉行|召开|召開|来华|同|与|與|的|时|時|期间|期間|会上|會上|之际|之際|以来|以來|同志|当地|當地|今天|此|这|這|其|各|該|该")
_GUEST = ("来华", "來臺", "来京", "訪臺")  # "会见来华出席…峰会的…总统": the guest's occasion
_OCCASION = re.compile(r"(?:出席|主持|參加|参加|發表|发表|舉行|举行|召開|召开)(?:召开|召開)?「(?P<occasion>[^」\n]{2,60})」")
_OCCASION_VERBS = ("出席", "主持", "参加", "參加")
_OCCASION_PLAIN = re.compile(
    rf"(?:出席|主持召开|主持召開|主持|参加|參加)(?P<occasion>[{HAN_BASIC}\d“”《》]{{4,40}}?"
    r"(?:开幕式|開幕式|闭幕式|閉幕式|仪式|儀式|大会|大會|会议|會議|峰会|峰會|论坛|論壇|典礼|典禮|晚会|晚會|招待会|招待會"
    r"|座谈会|座談會|宴会|宴會|纪念活动|紀念活動|茶会|茶會|年会|年會))"
)
_HAN_CHAR = re.compile(f"[{HAN_BASIC}]")


@dataclass(frozen=True)
class Attribution:
    """Who speaks in a document, where, and at what occasion, as its opening lines state them."""

    speaker: str | None = None
    place: str | None = None
    occasion: str | None = None


def _lead(cleaned_head: str) -> tuple[list[str], str, list[str]]:
    """(heading lines, opening paragraph, the raw lines after it): the first line with a full stop opens the text."""
    headings: list[str] = []
    lines = cleaned_head.split("\n")
    for i, line in enumerate(lines):
        line = line.strip()
        # A long paragraph may end in "：" (專訪問答內容如下：); a long heading lists without commas.
        if "。" in line or (len(line) > 80 and "，" in line):
            return headings, line, lines[i + 1 :]
        if line:
            headings.append(line)
    return headings, "", []


def _is_headline(line: str) -> bool:
    return 6 <= len(line) <= 40 and not _SENTENCE_MARK.search(line) and len(_HAN_CHAR.findall(line)) >= 4


def _sentences(paragraph: str, n: int) -> list[str]:
    return [s + "。" for s in paragraph.split("。", n)[:n] if s]


def _office_first(body: str, date: str | None) -> str | None:
    """"賴清德副總統今（7）日…": a name, then the office, opening the sentence (Taiwan usage). With a dated
    document the name must be the office's holder that day, which "韓國總統尹錫悅" never is."""
    if "統" not in body[:9] and "统" not in body[:9]:
        return None  # the office comes within a name's length of the start
    match = _NAME_THEN_OFFICE.match(body)
    if not match or not is_person_name(match["name"]) or body[match.end() : match.end() + 1] in ("將", "将"):
        return None  # "賴清德總統將於11月30日…率團訪問": an announcement, made by others
    holder = office_holder(match["office"], date)
    if holder is not None:
        return match["name"] if match["name"] == holder else None
    following = name_at(body, match.end())
    return None if following or match["name"][-1] in "国國" else match["name"]


def _subject_speaker(sentence: str, head: str, date: str | None) -> str | None:
    """The person the sentence is about, when it opens with them: "国务院总理李强2日…", "賴清德副總統今…"."""
    when = _WHEN_CLAUSE.match(sentence)
    for body in (sentence, sentence[when.end() :]) if when else (sentence,):
        name = _office_first(body, date)
        if name:
            return name
        # Chinese order, titles then the name: "中共中央政治局常委、国务院副总理丁薛祥23日在北京…". The name
        # must come back in the story ("丁薛祥表示"), which a word after a title ("恭賀蔡總統連任") does not.
        name = _name_after_titles(body)
        if name and head.count(name) >= 2:
            return name
        name = name_at(body, 0)
        if name and head.count(name) >= 2:
            return name
    return None


_TITLES_AFTER_NAMES = ("总书记", "總書記", "主席")  # "习近平总书记", "习近平主席"
_CLAUSE_SPEECH = re.compile(r"讲话|講話|致辞|致詞|贺词|賀詞|主持|指出|强调|強調|表示")
_NOT_TITLES = r"致电|致電|致函|致信|向|给|給|宣读|宣讀|转达|轉達|欢迎|歡迎|会见|會見|陪同|接见|接見|恭贺|恭賀|祝贺|祝賀|感谢|感謝|邀请|邀請|评价|評價|学习|學習"
_ROLE_RE = re.compile(_ROLE_WORD)
_NOT_A_TITLE_CHAIN = re.compile(rf"[^{HAN_BASIC}、]|{_NOT_TITLES}")
_NAME_THEN_OFFICE = re.compile(rf"(?P<name>[{HAN_BASIC}]{{2,4}}?){OFFICE}")
_OFFICE_HEADING = re.compile(rf"(?P<surname>[{HAN_BASIC}])?{OFFICE}(?![府創创將将])")  # "總統將出訪": an announcement
_SENTENCE_MARK = re.compile(r"[。！？：:；;]")
_SAYS = re.compile(r"表示|指出|强调|強調|說|说")
_HELD = re.compile(r"举行|舉行|召开|召開|开幕|開幕")
_FUTURE = re.compile(r"即将|即將|将于|將於")
_CLAUSE_END = re.compile(r"(?<=[，。])")
_ACTS = re.compile(r"出席|主持|发表|發表|致")
_ROLE_BEFORE = re.compile(rf"{_ROLE_WORD}$")
_PERSON_ACTS = re.compile(rf"(?:同志|{_ROLE_WORD})?(?:表示|指出|强调|強調|主持|会见|會見|出席|致|发表|發表)")
_SPEAKS_IN_TITLE = re.compile(r"讲话|講話|致辞|致詞|发表|發表|强调|強調|指出|表示|报告|報告")
_REACTIONS = re.compile(r"评价|評價|反响|反響|热议|熱議|点赞|點讚")
_TITLE_TAGS = re.compile(r"^\s*(?:\[[^\]]{1,6}\]|【[^】]{1,30}】)\s*")
_TITLE_SUBJECT = re.compile(
    rf"(?P<name>[{HAN_BASIC}]{{2,3}}?)(?:会见|會見|会谈|會談|会晤|會晤|举行|舉行|出席|主持|在|同(?!志)|与|與|致|发表|發表|考察|调研"
    r"|調研|看望|接见|接見|回信|复信|签署|簽署|宣布|强调|強調|指出|表示|视察|視察|参加|參加|访问|訪問|出访|出訪"
    r"|向|作(?=\S{0,12}(?:报告|報告|讲话|講話))|对(?=\S{1,20}访问)|對(?=\S{1,20}訪問)|就(?=\S{1,40}(?:致|表示)))"
)
# "新华社播发李希同志在…全体会议上的工作报告": the report is the named person's words.
_REPORT_OF = re.compile(
    rf"(?:^|播发|播發|发表|發表|刊发|刊發)(?P<name>[{HAN_BASIC}]{{2,3}}?)同志在\S{{2,60}}?上的"
    r"(?:讲话|講話|工作报告|工作報告|报告|報告|致辞|致詞|发言|發言)"
)


def _introduced(name: str, head: str) -> bool:
    """The text names them as a person: with a title ("国务院总理李强") or doing what people do."""
    at = head.find(name)
    while at >= 0:
        if _ROLE_BEFORE.search(head, max(0, at - 4), at) or _PERSON_ACTS.match(head, at + len(name)):
            return True
        at = head.find(name, at + 1)
    return False


def _title_speaker(title: str | None, headings: list[str], head: str) -> str | None:
    """"李强在甘肃、青海调研", "习近平致电祝贺…": a title or heading line that opens with a name and what
    they did, when the text introduces them too. Where several do, the one who speaks: under "…庆祝大会
    隆重举行 习近平出席大会" the heading "王沪宁出席并讲话" names the speech."""
    title = _TITLE_TAGS.sub("", title) if title else ""
    report = _REPORT_OF.search(title) if "同志在" in title else None
    if report and is_person_name(report["name"]):
        return report["name"]
    found = []
    single, compound = surnames()
    for segment in [*title.split(), *(part for line in headings for part in line.split())]:
        if segment[0] not in single and not segment.startswith(compound):
            continue  # every rule here opens with a name
        match = _TITLE_SUBJECT.match(segment)
        name = match["name"] if match else ""
        if name and name[-1] in NAME_TAIL_NOT:
            return None  # "李强将出席…": an announcement
        if is_person_name(name) and _introduced(name, head):
            if _SPEAKS_IN_TITLE.search(segment):
                return name
            found.append(name)
    return found[0] if found else None


def attribute(title: str | None, cleaned: str, date: str | None = None) -> Attribution:
    """Speaker, place and occasion from a document's title and opening lines; None where they do not say.

    Args:
        title: the document's title, as stored.
        cleaned: the cleaned text (only its first lines are read).
        date: the document's ISO date; resolves a release that names only the office ("總統出席…").
    """
    speaker, place = speaker_and_place(title, cleaned, date)
    return Attribution(speaker=speaker, place=place, occasion=stated_occasion(cleaned))


def stated_occasion(cleaned: str) -> str | None:
    """The occasion a document's opening lines name (「世界台灣商會聯合總會第28屆年會…開幕典禮」), or None:
    read from the heading lines and the opening sentence."""
    headings, paragraph, _ = _lead(cleaned[:LEAD_CHARS])
    return _occasion([*headings, *_sentences(paragraph, 3)[:1]])


def speaker_and_place(title: str | None, cleaned: str, date: str | None) -> tuple[str | None, str | None]:
    """(speaker, place) as the title and opening lines state them: what ingest stores."""
    head = cleaned[:LEAD_CHARS]
    headings, paragraph, later = _lead(head)
    sentences = _sentences(paragraph, 3)
    first = sentences[0] if sentences else ""
    speaker = _title_speaker(title, headings, head) or _lead_speaker(sentences, head, date, later, title)
    if speaker is None and not _spokesperson_speaks(first):
        speaker = _office_speaker(title, headings, paragraph, date)
    return speaker, _place(first, speaker)


def _place(first: str, speaker: str | None) -> str | None:
    """Where the speaker acts ("李强…在北京会见…", "前往臺南出席…"), or where the opening clause's event
    is held ("…4日上午在北京人民大会堂举行预备会议")."""
    if speaker and speaker in first:
        start = first.index(speaker) + len(speaker)
        said = _SAYS.search(first, start)  # what follows "表示" is what they said, not where they are
        end = said.start() if said else len(first)
    else:
        start, end = 0, first.find("，") if "，" in first else len(first)
        if not _HELD.search(first, start, end) or _FUTURE.search(first, 0, end):
            return None
    for match in _PLACE.finditer(first, start, end):
        if not _NOT_A_PLACE_PART.search(match["place"]):
            return "北京" if match["place"] == "京" else match["place"]  # "在京会见": 京 is Beijing
    return None


def _occasion(lines: list[str]) -> str | None:
    for line in lines:
        patterns = [_OCCASION] if "「" in line else []
        if any(verb in line for verb in _OCCASION_VERBS):  # a substring test is cheaper than the scan
            patterns.append(_OCCASION_PLAIN)
        for pattern in patterns:
            for match in pattern.finditer(line):
                if line[max(0, match.start() - 2) : match.start()] not in _GUEST:
                    return match["occasion"]
    return None


def _spokesperson_speaks(sentence: str) -> bool:
    """A spokesperson speaks for the office ("總統府發言人Kolas Yotaka今（15）日表示，蔡總統…")."""
    if "發言人" not in sentence and "发言人" not in sentence:
        return False
    spokesperson = _SPOKESPERSON.search(sentence)
    return bool(spokesperson and _SPEECH_VERB.search(sentence, spokesperson.end()))


def _lead_speaker(sentences: list[str], head: str, date: str | None, later: list[str], title: str | None) -> str | None:
    if not sentences or not _ROLE_RE.search("".join(sentences[:2])):
        return None  # every rule below starts from a title or an office ("国务院总理", "副總統", "發言人")
    first = sentences[0]
    when = _WHEN_CLAUSE.match(first)
    office = _office_first(first[when.end() :] if when else first, date) or _office_first(first, date)
    if office:
        return office
    if any(_is_headline(line.strip()) for line in later):
        return None  # a digest of items, each under its headline: the first item's subject is not the document's
    if title and _REACTIONS.search(title):
        return None  # "与会嘉宾积极评价习近平主席…的贺信": the story carries the reactions
    spokesperson = _SPOKESPERSON.search(first)
    if spokesperson:
        name = name_at(first, spokesperson.end())
        if name and _SPEECH_VERB.search(first, spokesperson.end()):
            return name
    chaired = _CHAIRED_BY.search(first)
    if chaired and is_person_name(chaired["name"] or chaired["name_after"]):
        return chaired["name"] or chaired["name_after"]
    article = _ARTICLE_BY.search(first)
    if article and is_person_name(article["name"]):
        return article["name"]
    subject = _subject_speaker(first, head, date)
    # The subject speaks in the opening sentence, or is quoted in the next two ("丁薛祥表示，…").
    quoted = rf"{subject}[^，。]{{0,12}}?(?:表示|指出|强调|強調|说，|說，)"
    if subject and (_SPEECH_VERB.search(first) or re.search(quoted, "".join(sentences[1:]))):
        return subject
    if subject is None:
        return _clause_speaker(sentences[:2], head)
    return None


def _clause_speaker(sentences: list[str], head: str) -> str | None:
    """"…大会9日在京举行，中共中央政治局委员、中央统战部部长李干杰出席大会并代表中共中央致贺词。":
    a clause of the opening sentences that starts with an official's titles and name and has them speak."""
    for sentence in sentences:
        if not _CLAUSE_SPEECH.search(sentence) or not _ROLE_RE.search(sentence):
            continue
        for clause in _CLAUSE_END.split(sentence)[1 if sentence is sentences[0] else 0 :]:
            name = _name_after_titles(clause)
            # A name must come back in the story, or act at once ("…部长李干杰出席大会并…致贺词").
            if name and _CLAUSE_SPEECH.search(clause) and (
                head.count(name) >= 2 or _ACTS.match(clause, clause.index(name) + len(name))
            ):
                return name
    return None


def _name_after_titles(text: str) -> str | None:
    """The name after the titles that open ``text`` ("商务部党组书记、部长王文涛表示"); not a word after a
    name and its title ("习近平总书记明确指出")."""
    for match in _ROLE_RE.finditer(text, 0, 40):
        prefix = text[: match.start()]
        if _NOT_A_TITLE_CHAIN.search(prefix):
            return None
        if match[0] in _TITLES_AFTER_NAMES and any(is_person_name(prefix[-n:]) for n in (2, 3) if len(prefix) >= n):
            continue
        name = name_at(text, match.end())
        if name:
            return name
    return None


def _office_speaker(title: str | None, headings: list[str], paragraph: str, date: str | None) -> str | None:
    """"總統出席…" as heading or title: who held that office on the document's date, when the release
    names them ("蔡英文總統親臨主祭") or a surname the holder bears ("陳副總統：")."""
    if not any("統" in line or "统" in line for line in (title or "", *headings)):
        return None
    for line in [*headings, *(title.split() if title else [])]:
        if "統" not in line[:5] and "统" not in line[:5]:
            continue
        match = _OFFICE_HEADING.match(line)
        if not match:
            continue
        holder = office_holder(match["office"], date)
        if holder is None or (match["surname"] and not holder.startswith(match["surname"])):
            return None
        return holder if holder + match["office"] in paragraph or match["surname"] else None
    return None

