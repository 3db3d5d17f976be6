"""Character times against a reference: CTM files (Kaldi's `<utt> <channel> <start> <dur>
<token>` lines) and the start and end errors of recognized characters.

`asr prepare demo` writes the reference of each split as chars.ctm (asr/corpora/demo: where the
synthesizer or the joined recordings put each character); `asr evaluate --time-ref` scores a
model's per-character times against such a file.

Which recognized character is timed against which reference character is decided as NIST's
sclite decides it for timed hypotheses (`sclite -T`, "time-mediated alignment"): a dynamic
program whose costs are times, so a character is paired with the reference's occurrence it was
recognized at, not with the same character spoken elsewhere in the utterance. A text-only edit
alignment (`pairing="text"`) pairs 到上海 heard as 到广州到上海 with the 到上海 recognized after
广州, 0.9 s late, and counts the recognizer's confusion as a timing error. The time pairing errs
the other way: a character recognized right but placed wholly outside its true span is left out
rather than counted (TimeErrors.matched says how many are paired)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

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


Pairing = Literal["time", "text"]
SUBSTITUTION = 0.001  # sclite -T: a substitution costs its time distance plus this


def matched(ref: Sequence[Timed], hyp: Sequence[Timed]) -> list[tuple[Timed, Timed]]:
    """Pairs of the same character in a reference and a recognized sequence: those an edit
    alignment of the two texts keeps (substituted, missing and inserted characters have no
    counterpart to be timed against). Times play no part (`pairing="text"`)."""
    sm = difflib.SequenceMatcher(None, [c for c, _, _ in ref], [c for c, _, _ in hyp], autojunk=False)
    return [(ref[a + k], hyp[b + k]) for a, b, size in sm.get_matching_blocks() for k in range(size)]


def time_mediated(ref: Sequence[Timed], hyp: Sequence[Timed]) -> list[tuple[Timed, Timed]]:
    """Pairs of the same character in a reference and a recognized sequence, by sclite's
    time-mediated alignment (`time_alignment`): its correct characters (`pairing="time"`)."""
    _, steps = time_alignment(ref, hyp)
    return [(ref[i], hyp[j]) for i, j in steps if i is not None and j is not None and ref[i][0] == hyp[j][0]]


def time_alignment(ref: Sequence[Timed], hyp: Sequence[Timed]) -> tuple[float, list[tuple[int | None, int | None]]]:
    """sclite's time-mediated alignment: the order-keeping alignment of least total cost, where
    pairing two characters costs |start difference| + |end difference| (plus 0.001 s when they
    differ: a substitution) and leaving one out costs its duration. (cost, steps): a step is
    (reference index, recognized index), None for the side left out."""
    n, m = len(ref), len(hyp)
    cost = np.zeros((n + 1, m + 1))
    way = np.zeros((n + 1, m + 1), dtype=np.int8)  # 0: pair, 1: reference left out, 2: recognized left out
    cost[1:, 0] = np.cumsum([e - s for _, s, e in ref])
    cost[0, 1:] = np.cumsum([e - s for _, s, e in hyp])
    way[1:, 0], way[0, 1:] = 1, 2
    for i, (rc, rs, re_) in enumerate(ref, 1):
        for j, (hc, hs, he) in enumerate(hyp, 1):
            paired = cost[i - 1, j - 1] + abs(rs - hs) + abs(re_ - he) + (0.0 if rc == hc else SUBSTITUTION)
            ways = (paired, cost[i - 1, j] + (re_ - rs), cost[i, j - 1] + (he - hs))
            # sclite's order on ties (net_dp.c): pair, else leave out the reference character only
            # when strictly cheaper than leaving out the recognized one
            way[i, j] = 0 if ways[0] <= min(ways[1], ways[2]) else (1 if ways[1] < ways[2] else 2)
            cost[i, j] = ways[way[i, j]]
    steps: list[tuple[int | None, int | None]] = []
    i, j = n, m
    while i or j:
        if way[i, j] == 0:
            i, j = i - 1, j - 1
            steps.append((i, j))
        elif way[i, j] == 1:
            i -= 1
            steps.append((i, None))
        else:
            j -= 1
            steps.append((None, j))
    return float(cost[n, m]), steps[::-1]


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
            f"start bias {self.start_bias * 1000:+.0f} ms (+: late); "
            f"{self.matched} of {self.reference} reference characters paired"
        )


def time_errors(
    refs: Mapping[str, Sequence[Timed]], hyps: Mapping[str, Iterable[Timed]], pairing: Pairing = "time"
) -> TimeErrors:
    """Compare recognized character times `hyps` ({utterance: [(char, start, end)]}) with the
    reference `refs`: utterances in both, characters paired by `time_mediated` ("time", sclite
    -T) or by `matched` ("text"). NaN statistics when nothing matches."""
    if pairing not in get_args(Pairing):
        raise ValueError(f"pairing: expected one of {get_args(Pairing)}, got {pairing!r}")
    pair = time_mediated if pairing == "time" else matched
    pairs, total = [], 0
    for uid, ref in refs.items():
        if uid in hyps:
            total += len(ref)
            pairs += pair(ref, list(hyps[uid]))
    return errors_of(pairs, total)


def errors_of(pairs: Sequence[tuple[Timed, Timed]], total: int) -> TimeErrors:
    """TimeErrors of (reference, recognized) character pairs, out of `total` reference
    characters. NaN statistics when there are none."""
    if not pairs:
        nan = float("nan")
        return TimeErrors(nan, nan, nan, nan, nan, 0, total)
    s = np.array([h[1] - r[1] for r, h in pairs])
    e = np.array([h[2] - r[2] for r, h in pairs])
    return TimeErrors(
        float(np.abs(s).mean()),
        float(np.percentile(np.abs(s), 95)),
        float(np.abs(e).mean()),
        float(np.percentile(np.abs(e), 95)),
        float(s.mean()),
        len(pairs),
        total,
    )


def report_times(rows: Iterable[dict]) -> dict[str, list[Timed]]:
    """{utterance: [(char, start, end)]} of evaluate()'s rows made with times (their "chars")."""
    return {r["id"]: [(c["char"], c["start"], c["end"]) for c in r["chars"]] for r in rows if "chars" in r}
