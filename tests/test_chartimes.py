"""Character times refined by the signal (asr/chartimes.py): pauses, syllables, and the
assignment of characters to syllables checked against brute force."""

import itertools
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch

from asr.chartimes import (
    MIN_SYLLABLE,
    SHARE_COST,
    SKIP_COST,
    SYLLABLE_DIP_DB,
    SYLLABLE_LOUDNESS,
    _smoothed,
    assign_syllables,
    one_syllable_each,
    refine,
    syllables,
)


def _speech(bumps: list[tuple[int, int]], frames: int, level: float = -20.0, quiet: float = -70.0) -> np.ndarray:
    """10 ms energies (dB): `quiet`, with `level` over each [start, end) of `bumps`."""
    energy = np.full(frames, quiet)
    for a, b in bumps:
        energy[a:b] = level
    return energy


def _cost(points: list[float], syl: list[tuple[int, int]], owner: list[int]) -> float:
    """What assign_syllables minimizes, written out for one assignment `owner`."""
    shared = sum(a == b for a, b in zip(owner, owner[1:]))
    cost = sum(max(syl[j][0] - p, p - (syl[j][1] - 1), 0.0) for p, j in zip(points, owner))
    return cost + SKIP_COST * (len(syl) - len(set(owner))) + SHARE_COST * shared


def _brute_force(points: list[float], syl: list[tuple[int, int]]) -> float:
    """The least cost over every order-keeping assignment of points to syllables."""
    owners = itertools.combinations_with_replacement(range(len(syl)), len(points))
    return min(_cost(points, syl, list(owner)) for owner in owners)


@pytest.mark.parametrize("seed", range(30))
def test_the_assignment_is_the_cheapest_order_keeping_one(seed):
    rng = np.random.default_rng(seed)
    n_syl, n_points = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    cuts = np.sort(rng.choice(np.arange(1, 200), 2 * n_syl, replace=False))
    syl = [(int(a), int(b)) for a, b in cuts.reshape(-1, 2)]
    points = sorted(rng.uniform(0, 220, n_points).round(1).tolist())
    owner = assign_syllables(points, syl)
    assert owner == sorted(owner) and len(owner) == n_points
    assert _cost(points, syl, owner) == pytest.approx(_brute_force(points, syl))


def test_assigning_nothing_gives_nothing_and_no_syllables_is_an_error():
    assert assign_syllables([], [(0, 5)]) == []
    with pytest.raises(ValueError, match="no syllables"):
        assign_syllables([1.0], [])


def test_syllables_are_runs_of_speech_cut_at_deep_dips():
    energy = _speech([(10, 30), (35, 60), (70, 90)], 100)
    energy[45:48] = -40.0  # 20 dB under both sides, inside the second run: cut at its middle
    energy[80] = -30.0  # 10 dB: a syllable's own dip, not a cut
    found = syllables(energy)
    assert found == [(10, 30), (35, 46), (46, 60), (70, 90)]
    assert syllables(_speech([(10, 13), (30, 60)], 80)) == [(30, 60)]  # 30 ms of sound: a click


def _syllables_frame_by_frame(energy: np.ndarray) -> list[tuple[int, int]]:
    """syllables() as first written: every frame of a run visited in turn, the loudest frame
    since the last cut carried along (the reference the faster scan over dips must equal)."""
    smooth = _smoothed(energy)
    low, high = np.percentile(energy, [10, 95])
    loud = np.pad(energy > max(low + (high - low) * SYLLABLE_LOUDNESS, max(high - 35.0, -60.0)), 1)
    core = np.pad(loud[:-2] & loud[1:-1] & loud[2:], 1)
    runs = np.concatenate([[False], core[:-2] | core[1:-1] | core[2:], [False]]).astype(np.int8)
    out = []
    for s, e in zip(np.flatnonzero(np.diff(runs) == 1), np.flatnonzero(np.diff(runs) == -1)):
        cuts, since = [s], float(smooth[s])
        after = np.maximum.accumulate(smooth[s:e][::-1])[::-1]
        for t in range(s + 1, e - 1):
            dip = smooth[t] <= smooth[t - 1] and smooth[t] < smooth[t + 1]
            deep = min(since, after[t - s]) - smooth[t] >= SYLLABLE_DIP_DB
            if dip and deep and t - cuts[-1] >= MIN_SYLLABLE and e - t >= MIN_SYLLABLE:
                cuts.append(t)
                since = float(smooth[t])
            else:
                since = max(since, float(smooth[t]))
        out += [(int(a), int(b)) for a, b in zip(cuts, [*cuts[1:], e]) if b - a >= MIN_SYLLABLE]
    return out


@pytest.mark.parametrize("seed", range(4))
def test_syllables_equal_a_frame_by_frame_scan(seed):
    rng = np.random.default_rng(seed)
    for _ in range(100):  # speech-like: runs of syllables with dips of every depth, and pauses
        n = int(rng.integers(3, 400))
        energy = -70 + 50 * (np.sin(np.arange(n) / rng.uniform(2, 12)) > rng.uniform(-1, 0.8))
        energy = energy - rng.uniform(0, 30) * (np.sin(np.arange(n) / rng.uniform(1, 6)) ** 2) + rng.normal(0, 3, n)
        assert syllables(energy) == _syllables_frame_by_frame(energy)


def test_one_syllable_each_is_for_cjk_ideographs():
    assert one_syllable_each(["我", "想", "去"]) and one_syllable_each(["二", "〇", "二"])
    assert not one_syllable_each(["a", "b"]) and not one_syllable_each(["我", " "]) and not one_syllable_each([])
    assert not one_syllable_each(["我", "\u31c0"])  # a CJK stroke is no syllable


def test_a_boundary_moves_to_the_pause_between_two_spikes():
    """Spikes at energy frames 15 and 75 (sub 3: model frames 5 and 25), the evidence's boundary
    at 30, the pause at 50-59: the boundary moves into the pause, and each character is its
    speech."""
    energy = _speech([(10, 50), (60, 90)], 100)
    spans = refine(energy, 3, [(5, 5), (25, 25)], [12, 30, 84])
    assert spans == [(10, 50), (60, 90)]


def test_the_last_character_ends_with_its_speech_and_the_first_starts_with_it():
    """The evidence starts at 14 and ends at 72; the speech runs 10-80."""
    energy = _speech([(10, 80)], 100)
    assert refine(energy, 3, [(6, 6), (20, 20)], [14, 40, 72]) == [(10, 40), (40, 80)]


def test_syllabic_characters_take_the_syllables_their_spikes_missed():
    """Three syllables; the second character's spike is in the third syllable (energy frames
    99-101), so no pause lies between it and the third's and their boundary stays at 105: the
    second runs into the third syllable. One syllable per character puts each on its own."""
    energy = _speech([(10, 40), (50, 80), (90, 120)], 130)
    spikes, edges = [(5, 5), (33, 33), (38, 38)], [10, 45, 105, 120]
    assert refine(energy, 3, spikes, edges) == [(10, 40), (50, 105), (105, 120)]
    assert refine(energy, 3, spikes, edges, syllabic=True) == [(10, 40), (50, 80), (90, 120)]


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (make setup)")
def test_on_rendered_speech_the_times_land_near_the_truth(tmp_path):
    """A few demo sentences rendered by the corpus's espeak-ng voices, with each character's true
    span: CTC-like posteriors that spike late in each character (two thirds of the way in, where
    a BiLSTM tends to fire) are timed by the signal to within 30 ms mean and 100 ms p95: a bound
    that the rule without the syllable step fails, as it does without the signal."""
    from asr.corpora.demo.render import Job, render
    from asr.decoding import align, owned_frames
    from asr.segment import frame_energy_db
    from asr.timing import time_errors

    sentences = ["五月十一日四点从广州到台北", "七点半", "我想四月二十号五点从深圳去广州", "八一九六八七九零一一一"]
    refs, hyps = {}, {}
    for k, (text, voice) in enumerate(zip(sentences, ["belinda", "f2", "m3", "david"])):
        job = Job(f"u{k}", text, voice, 7 + k, tmp_path / f"u{k}.wav")
        spans = render(job)
        assert spans is not None
        wave, sr = sf.read(job.path, dtype="float32")
        frames, units = len(wave) // 480, sorted(set(text))  # 30 ms model frames
        p = np.full((frames, len(units) + 1), 1e-4)
        for ch, (s, e) in zip(text, spans):
            p[int((s + 2 * (e - s) / 3) / 0.03), units.index(ch) + 1] = 0.99
        p[:, 0] = np.clip(1 - p[:, 1:].sum(axis=1), 1e-4, None)
        lp = torch.log(torch.as_tensor(p / p.sum(axis=1, keepdims=True), dtype=torch.float32))
        ids = [units.index(ch) + 1 for ch in text]
        owned = owned_frames(lp, align(lp, ids), frame_energy_db(wave), sub=3, syllabic=True)
        refs[job.uid] = [(c, s, e) for c, (s, e) in zip(text, spans)]
        hyps[job.uid] = [(c, a * 0.03, b * 0.03) for c, (a, b) in zip(text, owned)]
    e = time_errors(refs, hyps)
    assert e.matched == e.reference
    assert e.start_mean <= 0.03 and e.end_mean <= 0.03, e.line()
    assert e.start_p95 <= 0.1 and e.end_p95 <= 0.1, e.line()


def test_characters_sharing_a_syllable_each_keep_a_frame():
    """One syllable, three characters whose spans (from the evidence) start before it: they share
    it evenly, in order, none empty."""
    energy = _speech([(30, 60)], 80)
    spans = refine(energy, 3, [(2, 2), (3, 3), (4, 4)], [6, 9, 12, 75], syllabic=True)
    assert spans == [(30, 40), (40, 50), (50, 60)]


def test_characters_spiked_in_silence_each_keep_some_of_the_speech_they_share():
    """Three characters spiked before one syllable (energy 30-60), none of them CJK: the first
    two own no speech of their own, so all three share it evenly, and the cuts, moved to quiet
    points near them, stay inside it. The same when the last two are spiked after it."""
    energy = _speech([(30, 60)], 80)
    before = refine(energy, 3, [(2, 2), (3, 3), (4, 4)], [6, 9, 12, 75])
    assert before[0][0] == 30 and before[-1][1] == 60
    energy = _speech([(30, 60)], 100)
    after = refine(energy, 3, [(15, 15), (31, 31), (32, 32)], [0, 90, 96, 99])
    assert after[0][0] == 30 and after[-1][1] == 60
    for spans in (before, after):
        assert all(a < b <= c for (a, b), (c, _) in zip(spans, spans[1:] + [(60, 0)]))


@pytest.mark.parametrize("syllabic", [False, True])
def test_spans_are_in_order_and_never_empty(syllabic):
    """Random speech and spikes: every character gets a span of at least a frame, in order, and
    no two overlap."""
    rng = np.random.default_rng(0)
    for _ in range(200):
        frames, n = int(rng.integers(30, 150)), int(rng.integers(1, 8))
        energy = rng.uniform(-80, -10, frames)
        model = frames // 3
        firsts = np.sort(rng.choice(model, size=min(n, model), replace=False))
        spikes = [(int(a), int(a)) for a in firsts]
        inner = [3 * b for _, b in spikes[1:]]
        edges = [max(0, 3 * spikes[0][0] - 3), *inner, min(frames, 3 * spikes[-1][1] + 6)]
        if any(b <= a for a, b in zip(edges, edges[1:])):
            continue
        spans = refine(energy, 3, spikes, edges, syllabic=syllabic)
        assert len(spans) == len(spikes)
        assert all(a < b for a, b in spans), spans
        assert all(b <= c for (_, b), (c, _) in zip(spans, spans[1:])), spans


def test_decoding_uses_the_syllables_only_for_cjk_hypotheses():
    """The same log-probs and signal decoded with CJK units and with Latin ones: the syllable step
    (test_syllabic_characters_take_the_syllables_their_spikes_missed) runs for the first only."""
    from asr.decoding import DecodeConfig, decode

    energy = _speech([(10, 40), (50, 80), (90, 120)], 130)
    p = np.full((43, 4), 1e-4)
    for unit, frame in ((1, 5), (2, 33), (3, 38)):
        p[frame, unit] = 0.99
    p[:, 0] = 1 - p[:, 1:].sum(axis=1)
    lp = torch.log(torch.as_tensor(p, dtype=torch.float32))[None]
    owned = {}
    for units in (["_", "我", "想", "去"], ["_", "a", "b", "c"]):
        [[hyp]] = decode(lp, torch.tensor([43]), DecodeConfig(), 0, units=units, times=True, energy_db=[energy], sub=3)
        owned[units[1]] = hyp.owned
    assert owned["我"] == [(10 / 3, 40 / 3), (50 / 3, 80 / 3), (30.0, 40.0)]
    assert owned["a"] != owned["我"]
