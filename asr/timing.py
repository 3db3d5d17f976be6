"""Character times against a reference: CTM files (Kaldi's `<utt> <channel> <start> <dur>
<token>` lines) and the start and end errors of recognized characters.

`asr prepare demo` writes the reference of each split as chars.ctm (asr/corpora/demo: where the
synthesizer or the joined recordings put each character); `asr evaluate --time-ref` scores a
model's per-character times against such a file."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asr.errors import UserError

Timed = tuple[str, float, float]  # (character, start s, end s)


def write_ctm(path: str | Path, utts: Mapping[str, Sequence[Timed]]) -> None:
    """One `<utt> 1 <start> <dur> <char>` line per character, times in seconds (3 decimals)."""
    lines = [f"{uid} 1 {s:.3f} {e - s:.3f} {ch}" for uid, chars in utts.items() for ch, s, e in chars]
    Path(path).write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def read_ctm(path: str | Path) -> dict[str, list[Timed]]:
    """{utterance: [(token, start, end), ...]} from a CTM file, in the file's order; a line that is
    not `<utt> <channel> <start> <dur> <token> [<confidence>]` is a UserError naming it."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: CTM file not found")
    out: dict[str, list[Timed]] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith(";;"):
            continue
        fields = line.split()
        try:
            if len(fields) not in (5, 6):
                raise ValueError
            start, dur = float(fields[2]), float(fields[3])
        except ValueError:
            raise UserError(f"{path}:{n}: expected '<utt> <channel> <start> <dur> <token>', got {line!r}") from None
        out.setdefault(fields[0], []).append((fields[4], start, start + dur))
    return out


def matched(ref: Sequence[Timed], hyp: Sequence[Timed]) -> list[tuple[Timed, Timed]]:
    """Pairs of the same character in a reference and a recognized sequence: those an edit
    alignment of the two texts keeps (substituted, missing and inserted characters have no
    counterpart to be timed against)."""
    sm = difflib.SequenceMatcher(None, [c for c, _, _ in ref], [c for c, _, _ in hyp], autojunk=False)
    return [(ref[a + k], hyp[b + k]) for a, b, size in sm.get_matching_blocks() for k in range(size)]


@dataclass(frozen=True)
class TimeErrors:
    """Absolute start and end errors (s) of matched characters over a set: mean and 95th
    percentile, the mean signed start error (positive: recognized late), and how many of the
    reference's characters were matched."""

    start_mean: float
    start_p95: float
    end_mean: float
    end_p95: float
    start_bias: float
    matched: int
    reference: int

    def line(self) -> str:
        return (
            f"start error mean {self.start_mean * 1000:.0f} ms, p95 {self.start_p95 * 1000:.0f} ms; "
            f"end error mean {self.end_mean * 1000:.0f} ms, p95 {self.end_p95 * 1000:.0f} ms; "
            f"start bias {self.start_bias * 1000:+.0f} ms ({self.matched}/{self.reference} characters matched)"
        )


def time_errors(refs: Mapping[str, Sequence[Timed]], hyps: Mapping[str, Iterable[Timed]]) -> TimeErrors:
    """Compare recognized character times `hyps` ({utterance: [(char, start, end)]}) with the
    reference `refs`: utterances in both, characters paired by `matched`. NaN statistics when
    nothing matches."""
    starts, ends, total = [], [], 0
    for uid, ref in refs.items():
        if uid not in hyps:
            continue
        total += len(ref)
        for (_, rs, re_), (_, hs, he) in matched(ref, list(hyps[uid])):
            starts.append(hs - rs)
            ends.append(he - re_)
    if not starts:
        nan = float("nan")
        return TimeErrors(nan, nan, nan, nan, nan, 0, total)
    s, e = np.array(starts), np.array(ends)
    return TimeErrors(
        float(np.abs(s).mean()),
        float(np.percentile(np.abs(s), 95)),
        float(np.abs(e).mean()),
        float(np.percentile(np.abs(e), 95)),
        float(s.mean()),
        len(starts),
        total,
    )


def report_times(rows: Iterable[dict]) -> dict[str, list[Timed]]:
    """{utterance: [(char, start, end)]} of evaluate()'s rows made with times (their "chars")."""
    return {r["id"]: [(c["char"], c["start"], c["end"]) for c in r["chars"]] for r in rows if "chars" in r}
