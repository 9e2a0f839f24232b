"""Person names in Chinese text: a common surname (simplified or traditional) and one to three more
ideographs, and where a name ends when the sentence goes straight on."""

from __future__ import annotations

import functools
import re

from qa.text.normalize import HAN_BASIC, to_traditional

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
    "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔"
    "向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕"
    "单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚"
    "娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池"
    "查麻苑迟邝栗蔺习赖萧洪"
)
_COMPOUND_SURNAMES = (
    "欧阳",
    "司马",
    "诸葛",
    "上官",
    "东方",
    "夏侯",
    "令狐",
    "皇甫",
    "公孙",
    "慕容",
    "长孙",
    "宇文",
    "司徒",
    "端木",
)


@functools.lru_cache(maxsize=1)
def surnames() -> tuple[frozenset[str], tuple[str, ...]]:
    """(single surnames, compound surnames), each in both scripts."""
    single = set(_SURNAMES) | set(to_traditional(_SURNAMES))
    compound = set(_COMPOUND_SURNAMES) | {to_traditional(s) for s in _COMPOUND_SURNAMES}
    return frozenset(single), tuple(sorted(compound))


_ALL_HAN = re.compile(f"[{HAN_BASIC}]+")
_NOT_IN_NAMES = frozenset("总總统統席")


def is_person_name(name: str) -> bool:
    """2-4 ideographs starting with a common surname (simplified or traditional)."""
    single, compound = surnames()
    if name.startswith(compound):
        if not 3 <= len(name) <= 4:
            return False
    elif not (2 <= len(name) <= 3 and name[0] in single):
        return False
    return bool(_ALL_HAN.fullmatch(name)) and _NOT_IN_NAMES.isdisjoint(name)  # "蔡總統": a surname and a title


# The name ends where the sentence goes on: a date, a place, the verb, the person met.
_AFTER_NAME = re.compile(
    r"(?:同志)?(?:\d|[（(]|今|昨|当天|當天|近日|日前|在|于|於|同|与|與|和|主持|出席|会见|會見|会谈|會談|发表|發表"
    r"|致|向|对|對|应|應|代表|表示|指出|强调|強調|说|說|以|就|给|給|、|，|看望|考察|调研|調研|参加|參加|来|赴|抵达|抵達"
    r"|乘|先后|先後|分别|分別|签署|簽署|宣布|接见|接見|亲切|親切|集体|集體|作|率|视察|視察|听取|聽取|慰问|慰問|也|还|還|并|並"
    r"|为|為|将|將|的)"
)
# Words that can follow a name directly ("王毅在…", "李强将…"), so they do not end a three-character one.
NAME_TAIL_NOT = set("在于於同与與和对對向以就给給将將也还還并並为為作率的今昨明")


def name_at(text: str, start: int) -> str | None:
    """The person name that begins at ``start`` and ends where the sentence goes on."""
    single, compound = surnames()
    if text[start : start + 1] not in single and not text.startswith(compound, start):
        return None
    for length in (4, 3, 2) if text.startswith(compound, start) else (3, 2):
        name = text[start : start + length]
        if len(name) < length or not is_person_name(name) or not _AFTER_NAME.match(text, start + length):
            continue
        if length == 3 and name[-1] in NAME_TAIL_NOT and _AFTER_NAME.match(text, start + 2):
            continue  # "王毅在同…": the name is 王毅
        return name
    return None
