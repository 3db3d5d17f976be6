"""Slot values a booking can use: one value per slot out of a tagger's pieces, and Mandarin
numerals, dates and clock times read as numbers.

A tagger marks characters; a booking needs one origin, one destination, one date and one time.
`choose` joins adjacent pieces of the same slot, keeps the fullest value and refuses what cannot
be that slot (a "city" that reads as a number or holds a digit, a "date" or "time" that does
not read as one). Dates come out in ISO 8601 without a year when none was said (十一月二号 ->
--11-02), times as 24-hour HH:MM with the part of the day said before them (下午三点半 -> 15:30).

Written here rather than taken from cn2an: that package reads numerals only (and pulls in
another dependency); the dates, clock times and the parts of the day are ours either way, and
`number` is checked against its inverse, the demo grammar's cn_number, for 0..9999.
"""

from __future__ import annotations

import calendar
import re
import unicodedata

DIGIT = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
UNIT = {"十": 10, "百": 100, "千": 1000}
NUMERALS = "".join(DIGIT) + "".join(UNIT) + "万0123456789０１２３４５６７８９"
_NUM = f"[{NUMERALS}]+"
_YEAR = "[零〇一二三四五六七八九0-9０-９]{4}"
# A date: [year 年] month 月 [day 日/号], or a day alone (二号), or a year alone (一九八五年).
DATE = re.compile(
    f"(?:(?P<year>{_YEAR})年)?(?:(?P<month>{_NUM})月(?:(?P<day>{_NUM})[日号])?|(?P<dayonly>{_NUM})[日号])|(?P<yearonly>{_YEAR})年"
)
# The part of the day said before a clock time, and the hours it moves (see `clock`).
PERIODS = ("凌晨", "早上", "早晨", "上午", "中午", "下午", "傍晚", "晚上", "夜里")
TIME = re.compile(
    f"(?:(?P<period>{'|'.join(PERIODS)})\\s*)?(?P<hour>{_NUM})(?:点钟?|时)"
    f"(?:(?P<half>半)|(?P<quarter>[一三])刻|(?P<minute>{_NUM})分?)?"
)
PLACE_SLOTS = ("origin", "destination")


def number(text: str) -> int | None:
    """Mandarin or Arabic numerals -> int: 十一 -> 11, 二十 -> 20, 三百零五 -> 305, 一千二 -> 1200,
    两万 -> 20000, 一九八五 -> 1985 (digits read one by one), 12 -> 12; None for anything else."""
    if not text:
        return None
    if re.fullmatch("[0-9０-９]+", text):
        return int(text)
    if all(c in DIGIT for c in text):
        return int("".join(str(DIGIT[c]) for c in text))
    head, sep, tail = text.partition("万")
    if sep:
        high = number(head) if head else None
        low = _below_10000(tail) if tail else 0
        return None if high is None or low is None or high >= 10000 else high * 10000 + low
    return _below_10000(text)


def _below_10000(text: str) -> int | None:
    """十 / 百 / 千 numerals: units must fall (三百二十, not 三十百); 零 marks a skipped place; a
    digit after a unit without 零 is the next place (一千二 -> 1200, 三百五 -> 350)."""
    total, digit, last, zero = 0, None, 10000, False
    for k, ch in enumerate(text):
        if ch in DIGIT:
            if digit is not None and not (digit == 0 and DIGIT[ch]):
                return None
            if DIGIT[ch] == 0:
                zero = True
            digit = DIGIT[ch]
        elif ch in UNIT:
            unit = UNIT[ch]
            if unit >= last or digit == 0:
                return None
            if digit is None and not (k == 0 and unit == 10):
                return None  # 百 or 千 with no digit before it (十 alone begins 十五)
            total += (1 if digit is None else digit) * unit
            digit, last, zero = None, unit, False
        else:
            return None
    if digit:
        total += digit * (last // 10 if last > 10 and not zero else 1)
    return total


def date(text: str) -> str | None:
    """A spoken date -> ISO 8601: 十一月二号 -> --11-02 (no year said), 一九八五年三月五日 ->
    1985-03-05, 十一月 -> --11, 二号 -> ---02, 二零二二年 -> 2022; None when it is not a date
    (no month 13, no 2月30日)."""
    m = DATE.fullmatch(text.replace(" ", ""))
    if m is None:
        return None
    year_text = m["year"] or m["yearonly"]
    year = number(year_text) if year_text else None
    if m["yearonly"]:
        return f"{year:04d}" if year else None
    month = number(m["month"]) if m["month"] else None
    day_text = m["day"] or m["dayonly"]
    day = number(day_text) if day_text else None
    if (m["month"] and month is None) or (day_text and day is None):  # 百月, 十一月百号: said, but no number
        return None
    if month is not None and not 1 <= month <= 12:
        return None
    if day is not None:
        longest = calendar.monthrange(year or 2000, month)[1] if month else 31  # 2000: 2月29日 is a date
        if not 1 <= day <= longest:
            return None
    if year is not None and not year:
        return None
    if month is None:
        return f"---{day:02d}"
    out = f"{year:04d}-{month:02d}" if year else f"--{month:02d}"
    return out + (f"-{day:02d}" if day is not None else "")


def clock(text: str) -> str | None:
    """A spoken clock time -> HH:MM (24 hours): 三点半 -> 03:30, 十二点 -> 12:00, 下午三点半 ->
    15:30, 晚上八点 -> 20:00, 中午一点 -> 13:00, 三点一刻 -> 03:15, 十五点二十分 -> 15:20; None
    when it is not a time (二十五点, 三点七十分). Without a part of the day the hour is as said."""
    m = TIME.fullmatch(text.replace(" ", ""))
    if m is None:
        return None
    hour = number(m["hour"])
    if m["half"]:
        minute: int | None = 30
    elif m["quarter"]:
        minute = 15 if m["quarter"] == "一" else 45
    else:
        minute = number(m["minute"]) if m["minute"] else 0
    if hour is None or minute is None or not 0 <= minute <= 59 or not 0 <= hour <= 24 or (hour == 24 and minute):
        return None
    hour = _in_period(hour, m["period"])
    return None if hour is None else f"{hour:02d}:{minute:02d}"


def _in_period(hour: int, period: str | None) -> int | None:
    """The hour of the day of `hour` said after `period`: afternoon and evening add 12 to 1-11,
    中午 (noon) puts 1 and 2 after noon, 凌晨 and 晚上 read 12 as midnight; the morning keeps
    the hour, and refuses one past noon. None when the two disagree."""
    if period in ("下午", "傍晚", "晚上", "夜里"):
        if period in ("晚上", "夜里") and hour == 12:
            return 0
        return hour + 12 if 1 <= hour < 12 else hour
    if period == "中午":
        return hour + 12 if hour in (1, 2) else hour if hour in (11, 12, 13, 14) else None
    if period == "凌晨":
        return 0 if hour == 12 else hour if hour <= 6 else None
    if period in ("早上", "早晨", "上午"):
        return hour if hour <= 12 else None
    return hour


def place(text: str) -> str | None:
    """A city or station as said (the value is the text, less spaces and punctuation around
    it), or None when it cannot be one: it reads as a number (七, 十二), holds a digit (3号楼) or
    no letter at all. A numeral inside a name is a name: 三亚, 九江, 十堰."""
    text = text.strip()
    while text and unicodedata.category(text[-1]).startswith("P"):
        text = text[:-1].rstrip()
    while text and unicodedata.category(text[0]).startswith("P"):
        text = text[1:].lstrip()
    if not text or all(c in NUMERALS for c in text) or any(c.isdigit() for c in text):
        return None
    return text if any(c.isalpha() for c in text) else None


def value(slot: str, text: str) -> str | None:
    """The value of a slot's text: a date or time normalized, a place as said, any other slot's
    text as it is; None when the text cannot be that slot."""
    if slot == "date":
        return date(text)
    if slot == "time":
        return clock(text)
    if slot in PLACE_SLOTS:
        return place(text)
    return text.strip() or None


def merged(text: str, spans: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """(slot, start, end) spans with adjacent pieces of the same slot joined (nothing but spaces
    between them): a tagger that splits 三点半 into 三 and 点半 gives one time."""
    out: list[tuple[str, int, int]] = []
    for slot, a, b in spans:
        if out and out[-1][0] == slot and not text[out[-1][2] : a].strip():
            out[-1] = (slot, out[-1][1], b)
        else:
            out.append((slot, a, b))
    return out


def candidates(text: str, slot: str, a: int, b: int) -> list[tuple[int, int, str]]:
    """(start, end, value) the tagged span text[a:b] can stand for: for a date or time, each date
    or clock time written in the text that overlaps it (a tagger that marks only 下 of
    下午三点半, or 三点 of it, still gives the whole time); otherwise the span itself."""
    pattern = {"date": DATE, "time": TIME}.get(slot)
    if pattern is None:
        v = value(slot, text[a:b])
        where = -1 if v is None else text.find(v, a, b)  # the value is the span less what is around it
        return [] if v is None or where < 0 else [(where, where + len(v), v)]
    out = []
    for m in pattern.finditer(text):
        if m.start() < b and a < m.end() and (v := value(slot, m.group())) is not None:
            out.append((m.start(), m.end(), v))
    return out


def choose(text: str, spans: list[tuple[str, int, int]]) -> list[tuple[str, int, int, str]]:
    """One (slot, start, end, value) per slot of one tagged sentence, in the text's order: pieces
    of a slot that touch are joined, each becomes the values it can stand for, and the fullest
    (longest; the first of equals) is kept. A slot none of whose pieces can be it is left out."""
    best: dict[str, tuple[int, int, str]] = {}
    for slot, a, b in merged(text, spans):
        for start, end, v in candidates(text, slot, a, b):
            if slot not in best or end - start > best[slot][1] - best[slot][0]:
                best[slot] = (start, end, v)
    return sorted(((slot, a, b, v) for slot, (a, b, v) in best.items()), key=lambda x: x[1])
