"""Subtitles by the Netflix Timed Text Style Guide: cues within segments, cut between words only,
lines and times within CueRules' limits, short cues run on or joined; the command line's flags."""

from __future__ import annotations

import random
import warnings

import pytest
import srt

from asr.corpora.demo.grammar import sentence
from asr.errors import UserError
from asr.subtitles import CueRules, Word, _join_short, cues, to_srt, to_vtt
from asr.transcript import Char, Segment, Transcript
from conftest import run_asr

with warnings.catch_warnings():  # jieba's import warns that pkg_resources is deprecated
    warnings.simplefilter("ignore")
    import jieba

BELINDA = "五月十一日四点从广州到台北"  # test-belinda-00054.wav, 5.3 s
# its characters' CTC spikes clump: 从|广, 广|州 and 到|台 are 0.8 s or more apart, which cut the
# sentence into 五月十一日四点从 / 广 (0.36 s) / 州到 / 台北 (37 ms) at a 0.8 s pause rule
BELINDA_SPIKES = [0.30, 0.55, 0.80, 1.00, 1.20, 1.45, 1.70, 1.95, 2.90, 3.80, 4.00, 4.95, 5.20]
MIN = 5 / 6


def transcript(pieces: list[tuple[float, str, list[float]]], duration: float, spike: float = 0.04) -> Transcript:
    """A transcript of segments (start s, text, each character's spike start in s)."""
    chars, segments = [], []
    for start, text, times in pieces:
        chars += [Char(c, t, t + spike) for c, t in zip(text, times)]
        segments.append(Segment(start, max(times, default=start) + 0.3, text))
    return Transcript("x", text="".join(p[1] for p in pieces), duration=duration, segments=segments, chars=chars)


def belinda() -> Transcript:
    return transcript([(0.0, BELINDA, BELINDA_SPIKES)], 5.3)


def test_a_sentence_with_clumped_spikes_is_one_cue():
    out = cues(belinda())
    assert [c.text for c in out] == [BELINDA]
    assert out[0].end - out[0].start >= MIN and out[0].end <= 5.3
    parsed = list(srt.parse(to_srt(belinda())))
    assert [p.content for p in parsed] == [BELINDA]
    assert to_vtt(belinda()).startswith("WEBVTT\n\n00:00:00.300 --> 00:00:05.300\n")


@pytest.mark.parametrize("width", [2, 3, 4, 5, 6, 8, 16])
def test_narrow_lines_cut_between_words_only(width):
    out = cues(belinda(), CueRules(max_line_chars=width, max_lines=1))
    assert "".join(c.text for c in out) == BELINDA
    assert any("广州" in c.text for c in out)  # never 广 | 州
    assert all(len(c.text) <= width for c in out)


def test_short_cues_run_on_into_the_silence_or_join_a_neighbour():
    # 台北 alone, 37 ms of spikes, then silence: shown for 5/6 s
    t = transcript([(0.0, "从广州", [0.2, 0.5, 0.6]), (3.0, "到台北", [3.1, 3.12, 3.137])], 10.0)
    out = cues(t)
    assert [c.text for c in out] == ["从广州", "到台北"]
    assert all(c.end - c.start >= MIN for c in out)
    # a cue with the next one right after it in the same segment joins it, or the one before,
    # where the two fit in one cue
    w = lambda text, start: Word(text, start, start + 0.1)
    rules = CueRules(max_line_chars=3, max_lines=1)
    groups = [[w("北京", 0.0)], [w("好", 0.5)], [w("上海", 2.0)]]
    assert _join_short(groups, 9.0, rules, 3, False) == [[w("北京", 0.0), w("好", 0.5)], [w("上海", 2.0)]]
    groups = [[w("北京", 0.0)], [w("上海", 1.0)], [w("好", 1.2)]]
    assert _join_short(groups, 1.5, rules, 3, False) == [[w("北京", 0.0)], [w("上海", 1.0), w("好", 1.2)]]
    groups = [[w("北京", 0.0)], [w("上海", 0.5)]]  # 北京上海 is too long a line: they stay apart
    assert _join_short(groups, 9.0, rules, 3, False) == groups
    # where joining would break the limits, it starts earlier instead
    t = transcript([(0.0, "好棒", [2.0, 2.1]), (2.2, "七点半", [2.4, 2.5, 2.6])], 3.1)
    first, second = cues(t)
    assert first.start < 2.0 and first.end <= second.start


def test_a_cue_never_spans_two_segments():
    # the last character of a sentence and the next sentence's first are close in time
    t = transcript([(0.0, "我想去北京", [0.1, 0.3, 0.5, 0.7, 2.95]), (3.0, "好棒", [3.05, 3.2])], 4.0)
    assert [c.text for c in cues(t)] == ["我想去北京", "好棒"]


def test_limits_are_settings_with_the_style_guides_defaults():
    rules = CueRules()
    assert (rules.line_chars(False), rules.line_chars(True), rules.max_lines) == (16, 42, 2)
    assert rules.min_cue_seconds == pytest.approx(5 / 6) and rules.max_cue_seconds == 7.0
    text = "我想十一月二号从上海去台北好棒"  # 15 characters over 9 s
    t = transcript([(0.0, text, [0.6 * i for i in range(len(text))])], 10.0)
    assert [c.text for c in cues(t)] != [text]  # longer than 7 s: cut
    assert [c.text for c in cues(t, CueRules(max_cue_seconds=10))] == [text]
    assert all("\n" not in c.text and len(c.text) <= 6 for c in cues(t, CueRules(max_line_chars=6, max_lines=1)))
    for bad, words in (
        (dict(max_line_chars=0), "--max-line-chars"),
        (dict(max_lines=0), "--max-lines"),
        (dict(min_cue_seconds=-1.0), "--min-cue-seconds"),
        (dict(max_cue_seconds=0.0), "--max-cue-seconds"),
        (dict(min_cue_seconds=3.0, max_cue_seconds=2.0), "longer than --max-cue-seconds"),
    ):
        with pytest.raises(UserError, match=words):
            CueRules(**bad)


def test_spaced_scripts_cut_at_spaces_into_42_character_lines():
    words = "the quick brown fox jumps over the lazy dog and then it runs all the way back home again".split()
    text = " ".join(words)
    times = [0.05 * i for i in range(len(text))]
    out = cues(transcript([(0.0, text, times)], 6.0))
    lines = [line for c in out for line in c.text.split("\n")]
    assert all(len(line) <= 42 for line in lines) and all(c.text.count("\n") <= 1 for c in out)
    assert " ".join(lines).split() == words  # no word cut, none lost
    assert [c.text for c in cues(transcript([(0.0, "good  morning", times)], 6.0))] == ["good morning"]


def random_transcript(rng: random.Random) -> Transcript:
    """Segments of demo sentences whose spikes clump: gaps of 0-1.2 s inside a sentence."""
    pieces, at = [], rng.uniform(0, 1)
    for _ in range(rng.randint(1, 5)):
        text = "".join(sentence(rng) for _ in range(rng.randint(1, 4)))
        times = []
        for _ in text:
            times.append(at)
            at += rng.choice([0.04, 0.1, 0.2, 0.3, rng.uniform(0, 1.2)])
        pieces.append((times[0] - 0.05, text, times))
        at += rng.uniform(0.0, 2.0)
    return transcript(pieces, at + rng.uniform(0, 1))


@pytest.mark.parametrize("seed", range(40))
def test_cues_keep_to_segments_words_and_limits(seed):
    rng = random.Random(seed)
    t = random_transcript(rng)
    rules = rng.choice([CueRules(), CueRules(max_line_chars=rng.randint(2, 10), max_lines=rng.randint(1, 3))])
    out = cues(t, rules)
    width = rules.line_chars(False)
    cut, at = set(), 0  # where cues end, in characters of the transcript
    for c in out:
        lines = c.text.split("\n")
        assert len(lines) <= rules.max_lines and all(len(line) <= width for line in lines), c
        assert c.start < c.end and c.end - c.start <= rules.max_cue_seconds + 1e-6
        at += len(c.text.replace("\n", ""))
        cut.add(at)
    assert "".join(c.text.replace("\n", "") for c in out) == "".join(s.text for s in t.segments)
    assert all(a.end <= b.start for a, b in zip(out, out[1:]))
    at, ends, inside = 0, set(), set()
    for s in t.segments:
        words = jieba.lcut(s.text)
        for w in words:
            inside.update(range(at + 1, at + len(w)))  # cutting here would split w ...
            if len(w) > width:  # ... unless w is longer than a line
                inside.difference_update(range(at + width, at + len(w), width))
            at += len(w)
        ends.add(at)
    assert ends <= cut  # every segment ends a cue
    assert not cut & inside  # no cue ends inside a word


def test_transcribe_checks_the_subtitle_flags_before_any_audio(tmp_path):
    for args, words in (
        (["-f", "srt", "--max-lines", "0"], "--max-lines: expected"),
        (["-f", "vtt", "--max-cue-seconds", "nan"], "--max-cue-seconds: expected"),
        (["-f", "srt", "--min-cue-seconds", "9"], "longer than --max-cue-seconds"),
        (["-f", "json", "--max-line-chars", "20"], "--max-line-chars shapes subtitles"),
    ):
        r = run_asr("transcribe", "-m", tmp_path / "none.pt", *args, tmp_path / "none.wav")
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and words in r.stderr, r.stderr
