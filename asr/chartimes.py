"""Character times refined by the signal. A CTC model's evidence says roughly where each character
is (asr.decoding.owned_frames); the signal's energy says where speech and pauses are. Here the
boundaries between characters move to the pauses between them, each character is trimmed to
speech, and in scripts that write one syllable per character (Chinese) each character is given
a syllable of its own where the syllables can be told apart.

Energies are 10 ms frames (asr.segment.frame_energy_db); every position here counts them.
The constants were chosen on the demo's dev set (its espeak-ng voices and the human voice yanyu,
experiments/char_times.md) and measured on test."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import numpy as np

from asr.segment import levels, loud_frames

# How far (model frames) from where the evidence crosses over a boundary moves to the quietest
# point of the signal when no pause lies between the two characters' spikes.
DIP_REACH = 3
# How far (10 ms frames) the first character's start and the last one's end may move to the
# edges of their speech: about a syllable, so that a word the model missed at the edge of a piece
# is not taken into its neighbour.
RUN_REACH = 50
# A pause between two characters: a local minimum of the energy (smoothed over 30 ms) this many dB under the speech on
# both sides (the louder frames within VALLEY_SIDE frames past each spike count as that speech).
VALLEY_DB = 10.0
VALLEY_SIDE = 6
# Syllables: runs of speech louder than a fifth of the way from the quiet frames to the loud ones
# (and than asr.segment.quiet_threshold, which decides in clean audio whose pauses are digital
# silence), cut where the smoothed energy dips SYLLABLE_DIP_DB under both neighbours; none shorter
# than 50 ms.
SYLLABLE_LOUDNESS = 0.2
SYLLABLE_DIP_DB = 15.0
MIN_SYLLABLE = 5
# The syllable assignment's costs, in 10 ms frames of distance: leaving a syllable to no character
# (a sound the model heard as none: a breath, a click) and giving one syllable two characters (the
# model heard one more than was said).
SKIP_COST = 40.0
SHARE_COST = 40.0


def one_syllable_each(units: Sequence[str]) -> bool:
    """Whether every unit is a CJK ideograph (or 〇): a script where a character is one syllable.
    One unit of another kind (a digit, a Latin letter) turns the syllables off for the whole
    hypothesis: it has no syllable count to go by."""
    return bool(units) and all(len(u) == 1 and (u == "〇" or _ideograph(u)) for u in units)


def _ideograph(ch: str) -> bool:
    name = unicodedata.name(ch, "")
    return name.startswith("CJK UNIFIED IDEOGRAPH") or name.startswith("CJK COMPATIBILITY IDEOGRAPH")


def refine(
    energy_db: np.ndarray, sub: int, spikes: Sequence[tuple[int, int]], edges: Sequence[int], syllabic: bool = False
) -> list[tuple[int, int]]:
    """Spans [start, end) of each character, in energy frames (`sub` of them per model frame).
    `spikes`: each character's CTC spike (first and last model frame); `edges`: from the model's
    evidence, in energy frames, the first character's start, the boundaries between characters,
    the last one's end (len(spikes) + 1). `syllabic`: one syllable per character
    (one_syllable_each)."""
    smooth, quiet_loud = _smoothed(energy_db), levels(energy_db)
    loud, reach = loud_frames(energy_db, quiet_loud=quiet_loud), DIP_REACH * sub
    edges = _at_pauses(smooth, [(a * sub, (b + 1) * sub - 1) for a, b in spikes], list(edges), reach)
    for moved, (first, last) in _displaced(loud, edges):
        # An even split ignores the signal; a dip near each cut is likelier where one syllable
        # ends. Each cut stays inside the speech it splits, so every share keeps some of it.
        for k in moved:
            lo, hi = max(edges[k - 1] + 1, edges[k] - reach, first + 1), min(edges[k + 1], edges[k] + reach, last)
            edges[k] = _quietest(smooth, edges[k], lo, hi)
    edges[0], edges[-1] = _run_start(loud, edges[0]), _run_end(loud, edges[-1])
    spans = []
    for a, b in zip(edges, edges[1:]):  # each trimmed to its loud frames: pauses belong to none
        heard = np.flatnonzero(loud[a:b])
        spans.append((a + int(heard[0]), a + int(heard[-1]) + 1) if heard.size else (a, b))
    return _by_syllable(energy_db, smooth, spans, quiet_loud) if syllabic else spans


def _smoothed(energy_db: np.ndarray) -> np.ndarray:
    """The energy averaged over 30 ms: where pauses and syllable dips are looked for."""
    return np.convolve(energy_db, np.ones(3) / 3, mode="same")


def _at_pauses(smooth: np.ndarray, spikes: Sequence[tuple[int, int]], edges: list[int], reach: int) -> list[int]:
    """Each boundary between two spikes (energy frames, last inclusive) moved to the pause
    nearest it between them, or, where there is none, to the quietest frame within `reach`."""
    for k in range(1, len(edges) - 1):  # boundary k sits between spike k-1 and spike k
        lo = max(spikes[k - 1][1] + 1, edges[k - 1] + 1)
        hi = min(spikes[k][0], len(smooth))
        pauses = _valleys(smooth, lo, hi)
        if pauses:
            edges[k] = min(pauses, key=lambda t: (abs(t - edges[k]), smooth[t]))
        else:
            edges[k] = _quietest(smooth, edges[k], max(lo, edges[k] - reach), min(hi, edges[k] + reach))
    return edges


def _valleys(smooth: np.ndarray, lo: int, hi: int) -> list[int]:
    """Frames in [lo, hi) at a local minimum VALLEY_DB under the loudest frame on either side
    (looking VALLEY_SIDE frames beyond the range)."""
    if hi <= lo:
        return []
    t = np.arange(lo, hi)
    here = smooth[lo:hi]
    low = (here <= smooth[np.maximum(t - 1, 0)]) & (here <= smooth[np.minimum(t + 1, len(smooth) - 1)])
    start = max(lo - VALLEY_SIDE, 0)
    left = np.maximum.accumulate(smooth[start:hi])[lo - start :]  # loudest from `start` to t
    tail = smooth[lo : hi + VALLEY_SIDE]
    right = np.maximum.accumulate(tail[::-1])[::-1][: hi - lo]  # loudest from t to hi + VALLEY_SIDE
    return t[low & (np.minimum(left, right) - here >= VALLEY_DB)].tolist()


def _quietest(smooth: np.ndarray, at: int, lo: int, hi: int) -> int:
    """The quietest frame of `smooth` (dB) in [lo, hi), the nearest to `at` among equals; `at`
    where the range is empty."""
    if hi <= lo:
        return at
    t = np.arange(lo, hi)
    return int(t[np.lexsort((np.abs(t - at), np.round(smooth[lo:hi], 3)))[0]])


def _run_start(loud: np.ndarray, t: int) -> int:
    """`t` moved back to the start of the run of speech it is in, by at most RUN_REACH: the first
    character starts with its syllable, not where the model's evidence for it begins."""
    stop = max(t - RUN_REACH, 0)
    while stop < t < len(loud) and loud[t] and loud[t - 1]:
        t -= 1
    return t


def _run_end(loud: np.ndarray, t: int) -> int:
    """`t` (an end, exclusive) moved on to the end of the run of speech before it, by at most
    RUN_REACH: the last character's evidence fades before its syllable does."""
    stop = t + RUN_REACH
    while 0 < t < min(len(loud), stop) and loud[t] and loud[t - 1]:
        t += 1
    return t


def _displaced(loud: np.ndarray, edges: list[int]) -> list[tuple[range, tuple[int, int]]]:
    """Units spiked in the silence before or after the speech (a BiLSTM may fire its first units
    at the first frame, its last at the last): their shares hold no loud frame. They share the
    speech of the first (last) unit that has some, evenly: `edges` changed so. Returns, for each
    side changed, the boundaries moved (to be refined) and the span of the speech they split."""
    n, moved = len(edges) - 1, []
    speech = [np.flatnonzero(loud[a:b]) + a for a, b in zip(edges, edges[1:])]
    heard = [k for k in range(n) if speech[k].size]
    if not heard:
        return []
    head, tail = heard[0], heard[-1]
    onset, end = int(speech[head][0]), int(speech[head][-1]) + 1
    if head and end - onset > head:
        edges[: head + 1] = np.linspace(onset, end, head + 2)[:-1].round().astype(int).tolist()
        moved.append((range(1, head + 1), (onset, end)))
    start, offset = int(speech[tail][0]), int(speech[tail][-1]) + 1
    start = max(start, edges[tail]) if head == tail else start
    if tail < n - 1 and offset - start > n - 1 - tail:
        edges[tail + 1 :] = np.linspace(start, offset, n - tail + 1)[1:].round().astype(int).tolist()
        moved.append((range(tail + 1, n), (start, offset)))
    return moved


def syllables(
    energy_db: np.ndarray, smooth: np.ndarray | None = None, quiet_loud: tuple[float, float] | None = None
) -> list[tuple[int, int]]:
    """The signal's syllables, [start, end) in energy frames: runs of speech (SYLLABLE_LOUDNESS)
    cut at dips SYLLABLE_DIP_DB deep, each at least MIN_SYLLABLE frames. `smooth` and
    `quiet_loud` (asr.segment.levels) are computed here unless given."""
    smooth = _smoothed(energy_db) if smooth is None else smooth
    loud = loud_frames(energy_db, SYLLABLE_LOUDNESS, quiet_loud)
    loud = np.concatenate([[False], loud, [False]]).astype(np.int8)
    starts, ends = np.flatnonzero(np.diff(loud) == 1), np.flatnonzero(np.diff(loud) == -1)
    out = []
    for s, e in zip(starts.tolist(), ends.tolist()):
        cuts = [s]
        after = np.maximum.accumulate(smooth[s:e][::-1])[::-1]  # the loudest from each frame to the run's end
        t = np.arange(s + 1, max(e - 1, s + 1))
        dips = t[(smooth[t] <= smooth[t - 1]) & (smooth[t] < smooth[t + 1]) & (e - t >= MIN_SYLLABLE)]
        for d in dips.tolist():  # in order: a cut depends on the one before it
            if d - cuts[-1] >= MIN_SYLLABLE:
                since = smooth[cuts[-1] : d].max()  # the loudest frame from the last cut on
                if min(since, after[d - s]) - smooth[d] >= SYLLABLE_DIP_DB:
                    cuts.append(d)
        out += [(a, b) for a, b in zip(cuts, cuts[1:] + [e]) if b - a >= MIN_SYLLABLE]  # a click is no syllable
    return out


def _by_syllable(
    energy_db: np.ndarray, smooth: np.ndarray, spans: list[tuple[int, int]], quiet_loud: tuple[float, float]
) -> list[tuple[int, int]]:
    """`spans` placed on the signal's syllables: each character is given the syllable its span's
    middle is nearest, in order (assign_syllables); one alone in its syllable takes the whole of
    it, several in one share it at their boundaries (evenly where those fall outside it), each
    keeping at least a frame."""
    syl = syllables(energy_db, smooth, quiet_loud)
    if not syl or not spans:
        return spans
    owner = assign_syllables([(a + b) / 2 for a, b in spans], syl)
    out = list(spans)
    for j in sorted(set(owner)):
        mine = [i for i, o in enumerate(owner) if o == j]
        s, e = syl[j]
        if e - s < len(mine):  # not a frame for each: the syllables are not these characters'
            return spans
        cuts = [s, *(min(max(spans[i][0], s), e) for i in mine[1:]), e]
        if any(b <= a for a, b in zip(cuts, cuts[1:])):  # their own boundaries fall outside it
            cuts = np.linspace(s, e, len(mine) + 1).round().astype(int).tolist()
        for k, i in enumerate(mine):
            out[i] = (cuts[k], cuts[k + 1])
    return out


def assign_syllables(points: Sequence[float], syl: Sequence[tuple[int, int]]) -> list[int]:
    """Each of `points` (characters' positions, in order) given a syllable index, in order, at
    the least total cost: a point's distance to its syllable (0 inside it), SKIP_COST for each
    syllable given none, SHARE_COST for each point that shares a syllable with the one before.
    A dynamic program over points and syllables, O(len(points) * len(syl))."""
    n, m = len(points), len(syl)
    if not n:
        return []
    if not m:
        raise ValueError("assign_syllables: no syllables to assign")
    s, e, p = np.array([a for a, _ in syl], float), np.array([b for _, b in syl], float), np.asarray(points, float)
    dist = np.maximum(np.maximum(s[None] - p[:, None], p[:, None] - (e[None] - 1)), 0)
    j = np.arange(m)
    cost = SKIP_COST * j + dist[0]  # cost[j]: the points so far placed, the last one in syllable j
    back = np.zeros((n, m), int)
    for i in range(1, n):
        gap = cost - SKIP_COST * j  # from syllable j' to a later j skips j - j' - 1 syllables
        best = np.minimum.accumulate(gap)
        arg = np.maximum.accumulate(np.where(gap <= best, j, 0))
        fresh = np.full(m, np.inf)
        fresh[1:] = best[:-1] + SKIP_COST * (j[1:] - 1)
        share = cost + SHARE_COST
        back[i] = np.where(share <= fresh, j, np.concatenate([[0], arg[:-1]]))
        cost = np.minimum(share, fresh) + dist[i]
    last = int(np.argmin(cost + SKIP_COST * (m - 1 - j)))
    owner = [last]
    for i in range(n - 1, 0, -1):
        owner.append(int(back[i, owner[-1]]))
    return owner[::-1]
