"""The demo corpus's sentences and their slot labels.

Sentences (digit strings, years, dates, clock times, amounts, travel phrases, 好棒/好棒棒) come
from seeded templates; a regular pattern over a travel sentence gives its BIO slot tags. Travel
sentences in other orders (destination first, an origin alone) are drawn apart and added to each
split (`other_orders`), so the sentences drawn before them stay as they were.
"""

from __future__ import annotations

import itertools
import random
import re

DIGITS = "零一二三四五六七八九"
CITIES = ["北京", "上海", "台北", "广州", "深圳"]
INVENTORY = "零一二三四五六七八九十百千年月日号点分半好棒我想在到从去北京上海台北广州深圳"


def cn_number(n: int) -> str:
    """0..9999 as read in Mandarin: 10 -> 十, 15 -> 十五, 305 -> 三百零五, 2026 -> 二千零二十六."""
    if not 0 <= n <= 9999:
        raise ValueError(n)
    if n == 0:
        return "零"
    if n < 20:
        return ("十" + (DIGITS[n - 10] if n > 10 else "")) if n >= 10 else DIGITS[n]
    out, zero = "", False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = n // value % 10
        if d:
            out += ("零" if zero else "") + DIGITS[d] + unit
            zero = False
        elif out:
            zero = True
    return out


def _digits(rng: random.Random, length: int, repeat: float = 0.3) -> str:
    s = rng.choice(DIGITS)
    while len(s) < length:
        s += s[-1] if rng.random() < repeat else rng.choice(DIGITS)
    return s


def _date(rng: random.Random) -> str:
    return f"{cn_number(rng.randint(1, 12))}月{cn_number(rng.randint(1, 31))}{rng.choice('日号')}"


def _time(rng: random.Random) -> str:
    hour = cn_number(rng.randint(1, 12)) + "点"
    minute = rng.randint(1, 59)
    return hour + rng.choice(["半", "", f"{cn_number(minute)}分" if minute >= 10 else f"零{DIGITS[minute]}分"])


def _cities_and_when(rng: random.Random) -> tuple[str, str, str]:
    """Two different cities and a date, a time or both: what a travel sentence is made of."""
    a, b = rng.sample(CITIES, 2)
    return a, b, rng.choice([_date(rng), _time(rng), _date(rng) + _time(rng)])


def _travel(rng: random.Random) -> str:
    a, b, when = _cities_and_when(rng)
    return rng.choice(
        [
            f"我想在{when}到{b}",
            f"从{a}去{b}",
            f"我想从{a}去{b}",
            f"我想{when}从{a}去{b}",
            f"{when}从{a}到{b}",
            f"我想去{b}",
            f"我在{a}",
            f"我想在{a}",
            f"{when}到{b}",
        ]
    )


def sentence(rng: random.Random) -> str:
    """One demo sentence drawn from the weighted templates."""
    kind = rng.choices(["digits", "year", "date", "time", "amount", "travel", "praise"], [24, 9, 12, 12, 8, 26, 9])[0]
    if kind == "digits":
        return _digits(rng, rng.randint(3, 11))
    if kind == "year":
        return rng.choice(["一九", "二零"]) + _digits(rng, 2) + "年"
    if kind == "date":
        return (rng.choice(["一九", "二零"]) + _digits(rng, 2) + "年" if rng.random() < 0.3 else "") + _date(rng)
    if kind == "time":
        return _time(rng)
    if kind == "amount":
        return cn_number(rng.randint(100, 9999))
    if kind == "travel":
        return _travel(rng)
    praise = rng.choice(["好棒", "好棒棒"])
    return rng.choice(
        [
            praise,
            praise,
            f"{rng.choice(CITIES)}{praise}",
            f"我想去{rng.choice(CITIES)}{praise}",
            f"{_time(rng)}{praise}",
        ]
    )


# Slot labels of the travel sentences: where from, where to, on which day, at what time. The
# demo's sentences follow the templates above, so a pattern over the text labels them exactly.
SLOTS = ("origin", "destination", "date", "time")
_NUM = "[零一二三四五六七八九十百千]+"
_CITY = "|".join(CITIES)
_SLOT_PATTERNS = [
    ("date", re.compile(f"(?:[{DIGITS}]{{4}}年)?{_NUM}月{_NUM}[日号]|[{DIGITS}]{{4}}年")),
    ("time", re.compile(f"{_NUM}点(?:半|{_NUM}分)?")),
    ("origin", re.compile(f"(?<=从)(?:{_CITY})|(?<=^我在)(?:{_CITY})")),
    # 我想在X alone: where the speaker wants to be (after 在, a time or date would follow instead)
    ("destination", re.compile(f"(?<=[到去])(?:{_CITY})|(?<=^我想在)(?:{_CITY})$")),
]


def travel_slots(text: str) -> list[str]:
    """One BIO slot tag per character of a demo sentence: 从上海去北京 -> B-origin I-origin O
    B-destination I-destination O... (the city after 从 is the origin, after 到/去 the
    destination; dates with or without a year; clock times; everything else O)."""
    tags = ["O"] * len(text)
    for slot, pattern in _SLOT_PATTERNS:
        for m in pattern.finditer(text):
            if any(t != "O" for t in tags[m.start() : m.end()]):
                continue  # a clock time's hour inside a date is not a second slot
            tags[m.start() : m.end()] = [f"B-{slot}"] + [f"I-{slot}"] * (m.end() - m.start() - 1)
    return tags


# Destination first and an origin alone: the orders the templates above never use, without which
# a tagger that reads right to left learns "the last city is the destination". PROBES, 到Y从X for
# every pair of cities, are the measure of that (experiments/slots.py): never drawn, only tested.
PROBES = [f"到{b}从{a}" for a, b in itertools.permutations(CITIES, 2)]
OTHER_ORDER_EVERY = 10  # one more sentence in other orders for every ten of a split


def other_order(rng: random.Random) -> str:
    """One travel sentence with the destination first or an origin alone (never a probe)."""
    a, b, when = _cities_and_when(rng)
    return rng.choice(
        [
            f"我想到{b}从{a}",
            f"我想去{b}从{a}",
            f"{when}到{b}从{a}",
            f"我想{when}到{b}从{a}",
            f"我想在{when}去{b}从{a}",
            f"我从{a}",
            f"我想从{a}",
            f"{when}从{a}",
            f"我想{when}从{a}",
        ]
    )


def other_orders(sizes: dict[str, int], taken: set[str], rng: random.Random) -> dict[str, list[str]]:
    """One new sentence in other orders for every OTHER_ORDER_EVERY of each split's size (none for
    a split of fewer), different from `taken` and from each other: test's begin with the probes
    (as many as fit), which no other split gets."""
    seen = set(taken) | set(PROBES)
    probes = rng.sample(PROBES, len(PROBES))
    out = {}
    for split in ("test", "dev", "train"):
        n = sizes.get(split, 0) // OTHER_ORDER_EVERY
        texts = probes[:n] if split == "test" else []
        while len(texts) < n:
            text = other_order(rng)
            if text not in seen:
                seen.add(text)
                texts.append(text)
        out[split] = texts
    return out


def unique_sentences(n: int, rng: random.Random) -> list[str]:
    """`n` different sentences, in the order `rng` first draws them."""
    seen: dict[str, None] = {}
    while len(seen) < n:
        seen.setdefault(sentence(rng), None)
    return list(seen)
