"""Output formats: a transcript as text, JSON, TSV segments or SRT/WebVTT subtitles, to standard
output or one file per input.

Subtitles follow the Netflix Timed Text Style Guide (CueRules holds its limits): a cue never
spans two segments (pieces of audio cut at pauses) nor a longer pause between characters, and is
cut only between words (jieba's words for Chinese, spaces elsewhere), at the longest pause
between them where a cue must be cut to keep its lines and its time within the limits; a cue
shorter than the minimum runs on into the silence after it, or joins a neighbour."""

from __future__ import annotations

import bisect
import itertools
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from asr.errors import UserError, check_range
from asr.transcript import Char, Transcript, slots_line

PAUSE = 1.5  # seconds of silence between two words that always end a cue. Chosen when character
# times were CTC spikes, which clump (0.8 s apart within a sentence said without a pause); the
# frames characters own now (asr.decoding.owned_frames) leave gaps only where the signal is quiet
TAIL = 0.3  # a cue stays up this long after its last character's end, where nothing follows


@dataclass(frozen=True)
class CueRules:
    """How subtitles are cut into cues; the defaults are the Netflix Timed Text Style Guide's.

    max_line_chars:   characters per line (None: 16 for Chinese and Japanese, 42 for scripts
                      that put spaces between words)
    max_lines:        lines per cue
    min_cue_seconds:  shortest time a cue is shown (5/6 s: 20 frames at 24 fps)
    max_cue_seconds:  longest time a cue is shown
    """

    max_line_chars: int | None = None
    max_lines: int = 2
    min_cue_seconds: float = 5 / 6
    max_cue_seconds: float = 7.0

    def __post_init__(self) -> None:
        # the keys are the command line's flags: the fields are set from them
        if self.max_line_chars is not None:
            check_range("--max-line-chars", self.max_line_chars, "[1, 1000]", whole=True)
        check_range("--max-lines", self.max_lines, "[1, 10]", whole=True)
        check_range("--min-cue-seconds", self.min_cue_seconds, "[0, 60]")
        check_range("--max-cue-seconds", self.max_cue_seconds, "(0, 600]")
        if self.min_cue_seconds > self.max_cue_seconds:
            raise UserError(
                f"--min-cue-seconds {self.min_cue_seconds:g} is longer than --max-cue-seconds {self.max_cue_seconds:g}"
            )

    def line_chars(self, spaced: bool) -> int:
        """Characters per line for a script with (`spaced`) or without spaces between words."""
        return self.max_line_chars or (42 if spaced else 16)


class Cue(NamedTuple):
    start: float  # seconds
    end: float
    text: str  # lines apart with "\n"


class Word(NamedTuple):
    text: str
    start: float  # its first character's start (s)
    end: float  # its last character's end


def cues(t: Transcript, rules: CueRules = CueRules()) -> list[Cue]:
    """The subtitle cues of a transcript's character times (CueRules' limits; see the module)."""
    spaced = any(c.char.isspace() for c in t.chars)
    width = rules.line_chars(spaced)
    blocks = [_words(chars, spaced, width) for chars in _blocks(t)]
    groups: list[list[Word]] = []
    for k, words in enumerate(blocks):
        after = next((b[0].start for b in blocks[k + 1 :] if b), t.duration or float("inf"))
        mine: list[list[Word]] = []
        for run in _runs(words):
            mine += _split(run, rules, width, spaced)
        groups += _join_short(mine, after, rules, width, spaced)
    return _timed(groups, t.duration, rules, spaced, width)


def _blocks(t: Transcript) -> list[list[Char]]:
    """The characters of each segment (by time), or all of them as one when there are no segments."""
    if len(t.segments) < 2:
        return [list(t.chars)] if t.chars else []
    starts = [s.start for s in t.segments]
    out: list[list[Char]] = [[] for _ in starts]
    for c in t.chars:
        out[max(0, bisect.bisect_right(starts, c.start + 1e-6) - 1)].append(c)
    return [b for b in out if b]


def _words(chars: list[Char], spaced: bool, width: int) -> list[Word]:
    """The words of a run of characters: between spaces, or jieba's words of Chinese text; a word
    longer than a line is cut into lines' worth (the only cut inside a word)."""
    groups: list[list[Char]] = []
    if spaced:
        for c in chars:
            if c.char.isspace():
                groups.append([])
            elif groups:
                groups[-1].append(c)
            else:
                groups.append([c])
    else:
        text = "".join(c.char for c in chars)
        ends, at = {0}, 0
        for w in _jieba().lcut(text):
            at += len(w)
            ends.add(at)
        offset = 0
        for c in chars:
            if offset in ends or not groups:
                groups.append([])
            groups[-1].append(c)
            offset += len(c.char)
    out = []
    for g in groups:
        for k in range(0, len(g), width):
            piece = g[k : k + width]
            out.append(Word("".join(c.char for c in piece), piece[0].start, piece[-1].end))
    return out


def _jieba():
    """jieba, imported quietly (it logs the dictionary load; its import warns about pkg_resources)."""
    import logging
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import jieba
    jieba.setLogLevel(logging.WARNING)
    return jieba


def _runs(words: list[Word]) -> list[list[Word]]:
    """Words cut at every pause of PAUSE seconds or more between two of them."""
    out: list[list[Word]] = []
    for w in words:
        if out and w.start - out[-1][-1].end < PAUSE:
            out[-1].append(w)
        else:
            out.append([w])
    return out


def _lines(words: list[Word], width: int, max_lines: int, spaced: bool) -> list[str] | None:
    """The words as at most `max_lines` lines of at most `width` characters, as even as can be
    (the fewest lines, then the shortest longest line); None when they do not fit."""
    sep = " " if spaced else ""

    def fill(w: int) -> list[str]:
        lines: list[str] = []
        for word in words:
            if lines and len(lines[-1]) + len(sep) + len(word.text) <= w:
                lines[-1] += sep + word.text
            else:
                lines.append(word.text)
        return lines

    n = len(fill(width))
    if n > max_lines or max(len(w.text) for w in words) > width:
        return None
    return next(fill(w) for w in range(max(len(w.text) for w in words), width + 1) if len(fill(w)) <= n)


def _fits(words: list[Word], rules: CueRules, width: int, spaced: bool) -> bool:
    if sum(len(w.text) for w in words) > rules.max_lines * width:  # more than a cue holds: no layout to try
        return False
    return words[-1].end - words[0].start <= rules.max_cue_seconds and bool(
        _lines(words, width, rules.max_lines, spaced)
    )


def _split(words: list[Word], rules: CueRules, width: int, spaced: bool) -> list[list[Word]]:
    """Words cut into cues that fit: where they do not, cut between the two words with the
    longest pause, a balanced cut counting as up to half a second of pause, and again. A run
    of words many cues long is first cut at its longest pause in its middle half, so that the
    cutting stays n log n whatever the pauses (a run whose pauses only grow would otherwise be
    peeled one word at a time)."""
    done: list[list[Word]] = []
    todo = [words]
    while todo:
        run = todo.pop()
        if len(run) < 2 or _fits(run, rules, width, spaced):
            done.append(run)
            continue
        sizes = list(itertools.accumulate((len(w.text) for w in run), initial=0))
        cuts = range(1, len(run))
        if sizes[-1] > 4 * rules.max_lines * width:
            cuts = range(max(1, len(run) // 4), max(2, 3 * len(run) // 4))

        k = max(cuts, key=lambda k: _cut_score(run, sizes, k))
        todo += [run[k:], run[:k]]  # the earlier half first off the stack: cues stay in order
    return done


def _cut_score(run: list[Word], sizes: list[int], k: int) -> float:
    """How good a cut before run[k] is: the pause there, plus up to half a second for balance
    (`sizes`: the characters before each word)."""
    return run[k].start - run[k - 1].end + min(sizes[k], sizes[-1] - sizes[k]) / sizes[-1]


def _join_short(groups: list[list[Word]], after: float, rules: CueRules, width: int, spaced: bool) -> list[list[Word]]:
    """A segment's cues with each that cannot be shown for rules.min_cue_seconds before the next
    cue (`after`: the next segment's first word, or the end of the audio) joined to its next or,
    failing that, previous neighbour, where the two fit in one cue."""
    groups = list(groups)
    k = 0
    while k < len(groups):
        until = groups[k + 1][0].start if k + 1 < len(groups) else after
        if min(until, groups[k][0].start + rules.max_cue_seconds) - groups[k][0].start >= rules.min_cue_seconds:
            k += 1
            continue
        if k + 1 < len(groups) and _fits(groups[k] + groups[k + 1], rules, width, spaced):
            groups[k : k + 2] = [groups[k] + groups[k + 1]]
        elif k > 0 and _fits(groups[k - 1] + groups[k], rules, width, spaced):
            groups[k - 1 : k + 1] = [groups[k - 1] + groups[k]]
            k -= 1
        else:
            k += 1
    return groups


def _timed(groups: list[list[Word]], duration: float | None, rules: CueRules, spaced: bool, width: int) -> list[Cue]:
    """Cues of word groups: from the first word's start to TAIL after the last word's end or
    rules.min_cue_seconds after the start, whichever is later, but not into the next cue nor past
    the audio or rules.max_cue_seconds; a cue still too short starts earlier, after the one before."""
    out: list[Cue] = []
    for k, g in enumerate(groups):
        start = g[0].start
        limit = min(
            groups[k + 1][0].start if k + 1 < len(groups) else float("inf"),
            duration if duration else float("inf"),
            start + rules.max_cue_seconds,
        )
        shortest = math.ceil(round((start + rules.min_cue_seconds) * 1000, 6)) / 1000  # stamps are in ms
        end = max(min(max(g[-1].end + TAIL, shortest), limit), g[-1].end)
        if end - start < rules.min_cue_seconds:
            start = max(out[-1].end if out else 0.0, min(start, end - rules.min_cue_seconds))
        lines = _lines(g, width, rules.max_lines, spaced) or [(" " if spaced else "").join(w.text for w in g)]
        out.append(Cue(round(start, 3), round(end, 3), "\n".join(lines)))
    return out


def _stamp(seconds: float, sep: str) -> str:
    ms = int(round(seconds * 1000))
    h, ms = divmod(ms, 3600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_srt(t: Transcript, rules: CueRules = CueRules()) -> str:
    """SubRip subtitles of a transcript (cues by `rules`)."""
    blocks = [
        f"{i}\n{_stamp(a, ',')} --> {_stamp(b, ',')}\n{text}\n" for i, (a, b, text) in enumerate(cues(t, rules), 1)
    ]
    return "\n".join(blocks)


def to_vtt(t: Transcript, rules: CueRules = CueRules()) -> str:
    """WebVTT subtitles of a transcript (cues by `rules`)."""
    blocks = [f"{_stamp(a, '.')} --> {_stamp(b, '.')}\n{text}\n" for a, b, text in cues(t, rules)]
    return "WEBVTT\n\n" + "\n".join(blocks)


def to_tsv(t: Transcript) -> str:
    """One line per segment: path, start, end, text (tabs and newlines in text are spaces)."""
    return "".join(f"{t.path}\t{s.start:.2f}\t{s.end:.2f}\t{' '.join(s.text.split())}\n" for s in t.segments)


def output_stems(names: list[str]) -> dict[str, str]:
    """A distinct file stem per input, for one output file each in a folder: the input's stem,
    preceded by as many of its parent folders as it takes to tell it from the other inputs'
    (a/x.wav, b/x.wav -> a_x, b_x; x.wav, x.flac -> x.wav, x.flac); "-" is "stdin"."""
    distinct = list(dict.fromkeys(names))
    depth = dict.fromkeys(distinct, 0)
    whole = set()  # names that need their suffix too

    def stem(name: str) -> str:
        if name == "-":
            return "stdin"
        p = Path(name)
        tail = p.parent.parts[len(p.parent.parts) - depth[name] :] if depth[name] else ()
        parents = [q for q in tail if q not in ("/", "..", ".")]
        return "_".join([*parents, p.name if name in whole else p.stem])

    for _ in range(64):
        groups: dict[str, list[str]] = {}
        for name in distinct:
            groups.setdefault(stem(name), []).append(name)
        clashes = [g for g in groups.values() if len(g) > 1]
        if not clashes:
            break
        for group in clashes:
            for name in group:
                if depth[name] < len(Path(name).parent.parts):
                    depth[name] += 1
                else:
                    whole.add(name)
    out = {name: stem(name) for name in distinct}
    seen: dict[str, int] = {}
    for name in distinct:  # still equal (only by contrived names): number them
        k = seen[out[name]] = seen.get(out[name], 0) + 1
        if k > 1:
            out[name] = f"{out[name]}-{k}"
    return out


FORMATS = ("text", "json", "tsv", "srt", "vtt")


def check_nbest_format(nbest: int | None, fmt: str, flag: str = "--nbest", option: str = "-f ") -> None:
    """UserError for more than one hypothesis asked of a format that writes only the best: the
    n-best list is JSON's (`flag` and `option`: how the caller names them)."""
    if nbest is not None and nbest > 1 and fmt != "json":
        raise UserError(f"{flag}: the n-best list is written by {option}json only, not {option}{fmt}")


def plain_text(t: Transcript) -> str:
    """The text format's line: the transcript, then (with a slot tagger) its slots (slots_line)."""
    slots = "" if t.slots is None else "\t" + slots_line(t.slots)
    return (t.text or "") + slots + "\n"


class OutputWriter:
    """Writes each Transcript in one format to standard output, or to DIR/<stem>.<ext> per input
    (stems from output_stems, so inputs with the same stem do not overwrite each other);
    subtitles are cut by `rules`."""

    def __init__(self, fmt: str, output_dir: Path | None, names: list[str], rules: CueRules = CueRules()) -> None:
        if fmt not in FORMATS:
            raise UserError(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
        if fmt in ("srt", "vtt") and len(names) > 1 and output_dir is None:
            raise UserError(
                f"--format {fmt} with {len(names)} inputs: give --output-dir to get one subtitle file per input"
            )
        for folder in [output_dir, *output_dir.parents] if output_dir is not None else []:
            if folder.exists() and not folder.is_dir():
                raise UserError(
                    f"--output-dir {output_dir}: {folder} is a file, not a folder; give a folder to write into"
                )
        self.fmt, self.output_dir, self.stems, self.rules = fmt, output_dir, output_stems(names), rules
        self.header = "path\tstart\tend\ttext\n" if fmt == "tsv" and output_dir is None else ""

    def render(self, t: Transcript) -> str:
        if self.fmt == "text":
            return (f"{t.path}\t" if self.output_dir is None else "") + plain_text(t)
        if self.fmt == "json":
            return json.dumps(t.to_json(), ensure_ascii=False) + "\n"
        if self.fmt == "tsv":
            return to_tsv(t)
        return (to_srt if self.fmt == "srt" else to_vtt)(t, self.rules)

    def write(self, t: Transcript) -> None:
        if self.output_dir is None:
            sys.stdout.write(self.header + self.render(t))
            self.header = ""
            sys.stdout.flush()
            return
        if not self.output_dir.is_dir():  # once, not per file: a folder of thousands of inputs
            self.output_dir.mkdir(parents=True, exist_ok=True)
        ext = "txt" if self.fmt == "text" else self.fmt
        (self.output_dir / f"{self.stems[t.path]}.{ext}").write_text(self.render(t), encoding="utf-8")
