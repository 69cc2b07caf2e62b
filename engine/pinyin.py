"""The search forms of a customer's name and phone (docs/search.md).

- ``name_keys("王芳") == ("wangfang", "wf")``: the full pinyin without tones
  or spaces, and the initials, one letter per syllable. Latin words are kept
  as they are (lower-cased, accents dropped) and give their first letter:
  ``name_keys("Amy Li") == ("amyli", "al")``. ü is written v (吕 → lv), as
  on a phone keyboard.
- One reading per character: pypinyin's (it reads words in context), except
  that a leading family name takes its surname reading (曾 zeng, not ceng;
  单 shan, not dan), from the table below.
- ``phone_last4("+86 138-0013-8000") == "8000"``: the last four digits,
  whatever the stored format.
- ``name_prefixes("欧阳娜娜") == ("欧阳娜娜", "娜娜")``: the name as searched in
  characters (``fold``: compatibility forms unified, lower case, no spaces),
  and its given name, the name after its family name (a compound one like
  欧阳 counts whole), for names that start with Han characters.
"""

from __future__ import annotations

import re
import unicodedata

PINYIN_MAX = 128
INITIALS_MAX = 32
FOLDED_MAX = 200

# Family names whose surname reading differs from the character's common one
# (pypinyin reads them as ordinary words). Two-character names first.
SURNAME_READINGS = {
    "万俟": ["mo", "qi"], "尉迟": ["yu", "chi"], "单于": ["chan", "yu"],
    "单": ["shan"], "曾": ["zeng"], "解": ["xie"], "仇": ["qiu"], "区": ["ou"], "朴": ["piao"],
    "查": ["zha"], "乐": ["yue"], "盖": ["ge"], "覃": ["qin"], "缪": ["miao"], "召": ["shao"],
    "种": ["chong"], "秘": ["bi"], "黑": ["he"], "翟": ["zhai"], "员": ["yun"], "句": ["gou"],
    "繁": ["po"], "阚": ["kan"], "蕃": ["pi"], "隗": ["wei"], "郇": ["xun"], "都": ["du"],
    "薄": ["bo"], "宓": ["fu"], "角": ["jue"], "折": ["she"], "祭": ["zhai"], "能": ["nai"],
}

# Two-character family names, read as one (欧阳娜娜's given name is 娜娜, not 阳娜娜).
COMPOUND_SURNAMES = frozenset({
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "令狐", "慕容", "司徒", "夏侯", "公孙", "轩辕",
    "长孙", "宇文", "澹台", "端木", "南宫", "西门", "独孤", "呼延", "尉迟", "万俟", "单于", "闻人",
    "东郭", "公羊", "赫连", "太史", "申屠", "钟离", "濮阳", "淳于", "百里", "东门", "仲孙", "叔孙",
    "左丘", "拓跋", "司空", "第五", "羊舌", "微生", "梁丘", "谷梁", "乐正", "公冶", "亓官",
})

HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# Runs of Han characters, or Latin words (letters and digits).
_PIECES = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+|[0-9a-z]+")


def _ascii_lower(text: str) -> str:
    text = text.replace("ü", "v").replace("Ü", "v")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def _syllables(name: str) -> list[str]:
    out: list[str] = []
    for piece in _PIECES.findall(_ascii_lower(name)):
        if not HAN.match(piece):
            out.append(piece)
            continue
        if not out:  # the name starts with Han characters: its first is the family name
            for surname in (piece[:2], piece[:1]):
                if surname in SURNAME_READINGS:
                    out.extend(SURNAME_READINGS[surname])
                    piece = piece[len(surname):]
                    break
        if piece:
            from pypinyin import Style, lazy_pinyin  # here: loading its dictionaries takes 0.3 s

            out.extend(s.replace("ü", "v") for s in lazy_pinyin(piece, style=Style.NORMAL))
    return out


def name_keys(name: str | None) -> tuple[str | None, str | None]:
    """(full pinyin, initials) of a name; (None, None) when it has nothing to search by."""
    syllables = _syllables(name or "")
    if not syllables:
        return None, None
    return "".join(syllables)[:PINYIN_MAX], "".join(s[0] for s in syllables)[:INITIALS_MAX]


def fold(text: str | None) -> str:
    """Text as names are compared in characters: NFKC (full-width letters and
    digits become ASCII), lower case, without spaces."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or "").lower())


def name_prefixes(name: str | None) -> tuple[str | None, str | None]:
    """(folded name, folded given name) of a name: what a search in characters
    finds by prefix. The given name is only known for a name that starts with
    Han characters (the first one or two are its family name)."""
    folded = fold(name)[:FOLDED_MAX]
    if not folded:
        return None, None
    given = None
    if HAN.match(folded):
        surname = 2 if folded[:2] in COMPOUND_SURNAMES else 1
        given = folded[surname:] or None
    return folded, given


def phone_last4(phone: str | None) -> str | None:
    digits = re.sub(r"\D", "", phone or "")
    return digits[-4:] if len(digits) >= 4 else None


def letters_of(text: str) -> str:
    """A typed query in the stored pinyin alphabet: "Wang Fang" → "wangfang", "lü" → "lv"."""
    return "".join(_PIECES.findall(_ascii_lower(text)))


def has_han(text: str) -> bool:
    return HAN.search(text) is not None
