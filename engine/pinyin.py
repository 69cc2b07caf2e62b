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
"""

from __future__ import annotations

import re
import unicodedata

PINYIN_MAX = 128
INITIALS_MAX = 32

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


def phone_last4(phone: str | None) -> str | None:
    digits = re.sub(r"\D", "", phone or "")
    return digits[-4:] if len(digits) >= 4 else None


def letters_of(text: str) -> str:
    """A typed query in the stored pinyin alphabet: "Wang Fang" → "wangfang", "lü" → "lv"."""
    return "".join(_PIECES.findall(_ascii_lower(text)))


def has_han(text: str) -> bool:
    return HAN.search(text) is not None
