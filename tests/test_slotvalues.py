"""Slot values a booking can use: Mandarin numerals (against the demo grammar's cn_number, their
inverse), dates, clock times, places, the one value kept per slot, and the JSON of bookings."""

from __future__ import annotations

import pytest

from asr.corpora.demo.grammar import cn_number
from asr.slots import fill_slots, sentences
from asr.slotvalues import choose, clock, date, merged, number, place
from asr.transcript import Char, Slot, Transcript, slots_json, slots_line


def test_numbers_read_back_every_number_the_grammar_says():
    assert all(number(cn_number(n)) == n for n in range(10000))
    cases = {
        "两": 2,
        "两千": 2000,
        "一千二": 1200,
        "三百五": 350,
        "一九八五": 1985,
        "零五": 5,
        "12": 12,
        "１２": 12,
        "两万零五": 20005,
        "十万": 100000,
    }
    assert {text: number(text) for text in cases} == cases
    for text in ("", "十十", "三十百", "一二十", "百", "零十", "万", "点", "三点"):
        assert number(text) is None, text


@pytest.mark.parametrize(
    "said, iso",
    [
        ("十一月二号", "--11-02"),
        ("五月十一日", "--05-11"),
        ("十二月三十一日", "--12-31"),
        ("二月二十九号", "--02-29"),  # no year said: it can be a leap year
        ("一九八五年三月五日", "1985-03-05"),
        ("二零二四年二月二十九日", "2024-02-29"),
        ("二零二二年", "2022"),
        ("十一月", "--11"),
        ("二号", "---02"),
        ("11月2号", "--11-02"),
        ("十 一月 二号", "--11-02"),
    ],
)
def test_dates_are_iso_8601_without_a_year_unless_one_is_said(said, iso):
    assert date(said) == iso


@pytest.mark.parametrize(
    "said",
    [
        "十三月一号",
        "二月三十日",
        "二零二三年二月二十九日",
        "零月五号",
        "十一月零号",
        "三十二号",
        "五",
        "上海",
        "三点",
        "",
    ],
)
def test_what_is_not_a_date_has_no_date_value(said):
    assert date(said) is None


@pytest.mark.parametrize(
    "said, hhmm",
    [
        ("三点半", "03:30"),
        ("十二点", "12:00"),
        ("下午三点半", "15:30"),
        ("晚上八点", "20:00"),
        ("晚上十二点", "00:00"),
        ("中午十二点", "12:00"),
        ("中午一点", "13:00"),
        ("上午十点", "10:00"),
        ("早上七点十五", "07:15"),
        ("凌晨两点", "02:00"),
        ("八点零五分", "08:05"),
        ("八点二十分", "08:20"),
        ("三点一刻", "03:15"),
        ("七点三刻", "07:45"),
        ("十五点二十分", "15:20"),
        ("下午十五点", "15:00"),
        ("零点", "00:00"),
        ("三点钟", "03:00"),
        ("下午 三点半", "15:30"),
    ],
)
def test_clock_times_are_24_hours_with_the_part_of_the_day(said, hhmm):
    assert clock(said) == hhmm


@pytest.mark.parametrize(
    "said",
    [
        "二十五点",
        "三点七十分",
        "五",
        "三",
        "半",
        "下午",
        "上午十五点",
        "中午八点",
        "凌晨九点",
        "二十四点半",
        "十一月二号",
    ],
)
def test_what_is_not_a_time_has_no_time_value(said):
    assert clock(said) is None


def test_a_place_is_not_a_number():
    assert place("上海") == "上海" and place(" 台北。") == "台北" and place("New York") == "New York"
    for city in ("三亚", "九江", "六安", "十堰", "万州"):  # a numeral inside a name
        assert place(city) == city
    for text in ("七", "十二", "3号楼", "", "。", " "):
        assert place(text) is None, text


def test_a_date_said_without_a_number_is_none():
    for text in ("百月", "千月", "百月二号", "十一月百号"):
        assert date(text) is None, text


def spans_of(text: str, pieces: list[tuple[str, str]]) -> list[tuple[str, int, int]]:
    """(slot, start, end) of each (slot, piece) in order: the first occurrence after the last."""
    out, at = [], 0
    for slot, piece in pieces:
        a = text.index(piece, at)
        out.append((slot, a, a + len(piece)))
        at = a + len(piece)
    return out


@pytest.mark.parametrize(
    "text, tagged, kept",
    [
        # the fullest value: 五 is no time, 三点半 is
        ("我想五号三点半去广州", [("time", "五"), ("time", "三点半")], [("time", "三点半", "03:30")]),
        # a piece of the time gives the whole of it, with its part of the day
        (
            "下午三点半去广州",
            [("time", "下"), ("destination", "广州")],
            [("time", "下午三点半", "15:30"), ("destination", "广州", "广州")],
        ),
        ("下午三点半去广州", [("time", "三点")], [("time", "下午三点半", "15:30")]),
        # a digit is no city
        ("七北去广州", [("origin", "七"), ("destination", "广州")], [("destination", "广州", "广州")]),
        # a numeral inside a name is a name (三亚, 九江): whether 七北 is a city is a gazetteer's call
        ("七北去广州", [("origin", "七北")], [("origin", "七北", "七北")]),
        # pieces that touch are one: 十一月 and 二号
        (
            "十一月二号到台北",
            [("date", "十一月"), ("date", "二号"), ("destination", "台北")],
            [("date", "十一月二号", "--11-02"), ("destination", "台北", "台北")],
        ),
        (
            "从上海到台北",
            [("origin", "上"), ("origin", "海"), ("destination", "台北")],
            [("origin", "上海", "上海"), ("destination", "台北", "台北")],
        ),
        # one value per slot: the longest, the first of equals
        ("从上海去北京到深圳", [("destination", "北京"), ("destination", "深圳")], [("destination", "北京", "北京")]),
        # a date tagged as a time is refused, not turned into a time
        ("五月十一日到台北", [("time", "五月十一日")], []),
        ("五月十一日四点从广州到台北", [("time", "五"), ("time", "四点")], [("time", "四点", "04:00")]),
    ],
)
def test_one_value_per_slot_the_fullest_or_none(text, tagged, kept):
    assert [(slot, text[a:b], v) for slot, a, b, v in choose(text, spans_of(text, tagged))] == kept


def test_merged_joins_only_touching_pieces_of_one_slot():
    assert merged("三点 半", [("time", 0, 2), ("time", 3, 4)]) == [("time", 0, 4)]
    assert merged("三点到半", [("time", 0, 2), ("time", 3, 4)]) == [("time", 0, 2), ("time", 3, 4)]
    assert merged("上海", [("origin", 0, 1), ("destination", 1, 2)]) == [("origin", 0, 1), ("destination", 1, 2)]


def test_fill_slots_gives_values_and_times_of_the_kept_span():
    text = "下午三点半去广州"
    chars = [Char(c, 0.1 * i, 0.1 * i + 0.05) for i, c in enumerate(text)]
    tags = ["B-time", "O", "B-time", "I-time", "I-time", "O", "B-destination", "I-destination"]
    got = fill_slots(text, tags, chars, segment=3)
    assert got == [
        Slot("time", "下午三点半", 0.0, pytest.approx(0.45), "15:30", 3),
        Slot("destination", "广州", pytest.approx(0.6), pytest.approx(0.75), "广州", 3),
    ]


def test_sentences_are_cut_at_their_end_marks():
    text = "从上海去北京。到台北从上海！\n我想去深圳"
    assert [text[a:b] for a, b in sentences(text)] == ["从上海去北京", "到台北从上海", "我想去深圳"]
    assert sentences("") == [(0, 0)] and sentences("。") == [(1, 1)]  # at least one, empty


def test_bookings_json_one_per_segment_and_the_form():
    slots = [
        Slot("origin", "上海", 0.5, 0.9, "上海", 0),
        Slot("time", "下午三点半", 1.0, 1.8, "15:30", 0),
        Slot("destination", "台北", 4.0, 4.4, "台北", 2),
        Slot("origin", "广州", 4.6, 5.0, "广州", 2),
    ]
    out = slots_json(slots)
    assert out["bookings"] == [
        {
            "origin": {"text": "上海", "value": "上海", "start": 0.5, "end": 0.9},
            "time": {"text": "下午三点半", "value": "15:30", "start": 1.0, "end": 1.8},
        },
        {
            "destination": {"text": "台北", "value": "台北", "start": 4.0, "end": 4.4},
            "origin": {"text": "广州", "value": "广州", "start": 4.6, "end": 5.0},
        },
    ]
    # the form: each slot from the first booking that has it
    assert {k: v["text"] for k, v in out["slots"].items()} == {
        "origin": "上海",
        "time": "下午三点半",
        "destination": "台北",
    }
    assert [s["segment"] for s in out["slot_spans"]] == [0, 0, 2, 2] and out["slot_spans"][1]["value"] == "15:30"
    assert slots_line(slots) == "origin: 上海, time: 下午三点半 (15:30) | destination: 台北, origin: 广州"
    untimed = slots_json([Slot("date", "十一月二号", value="--11-02")])
    assert untimed["slots"] == {"date": {"text": "十一月二号", "value": "--11-02"}}
    assert slots_json([]) == {"slots": {}, "bookings": [], "slot_spans": []}
    assert "bookings" in Transcript("x", text="", slots=[]).to_json()
