"""Character times against truth: the demo corpus's reference (chars.ctm), CTM files, and the
start and end errors of recognized characters."""

import io
import math
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf
import torch

from asr.corpora.demo import espeak_times
from asr.corpora.demo.espeak_times import Phoneme, char_spans
from asr.corpora.demo.generate import generate
from asr.corpora.demo.mix import DemoMix
from asr.corpora.syllables import GCIN_DIR
from asr.datadir import read_data_dir
from asr.decoding import align, owned_frames
from asr.errors import UserError
from asr.segment import loud_frames
from asr.timing import SUBSTITUTION, matched, read_ctm, time_alignment, time_errors, time_mediated, write_ctm
from conftest import run_asr

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (make setup)")


def test_ctm_round_trip(tmp_path):
    utts = {"u1": [("我", 0.1, 0.35), ("想", 0.4, 0.7)], "u2": [("好", 1.0, 1.25)]}
    write_ctm(tmp_path / "chars.ctm", utts)
    assert (tmp_path / "chars.ctm").read_text(encoding="utf-8").splitlines()[1] == "u1 1 0.400 0.300 想"
    back = read_ctm(tmp_path / "chars.ctm")
    assert back.keys() == utts.keys()
    for uid, chars in utts.items():
        assert [c for c, _, _ in back[uid]] == [c for c, _, _ in chars]
        assert np.allclose([t for _, s, e in back[uid] for t in (s, e)], [t for _, s, e in chars for t in (s, e)])


def test_a_bad_ctm_line_is_a_one_line_error(tmp_path):
    (tmp_path / "x.ctm").write_text("u1 1 0.1 0.2 我\nu1 1 zero 0.2 想\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"x.ctm:2: expected"):
        read_ctm(tmp_path / "x.ctm")
    with pytest.raises(UserError, match="not found"):
        read_ctm(tmp_path / "none.ctm")


def test_errors_pair_the_characters_an_edit_alignment_keeps():
    ref = [("我", 0.0, 0.2), ("想", 0.3, 0.5), ("去", 0.6, 0.8), ("北", 0.9, 1.1), ("京", 1.2, 1.4)]
    hyp = [("我", 0.05, 0.1), ("要", 0.3, 0.4), ("去", 0.5, 0.7), ("北", 0.9, 1.3), ("京", 1.2, 1.4), ("了", 1.5, 1.6)]
    pairs = matched(ref, hyp)
    assert [(r[0], h[0]) for r, h in pairs] == [("我", "我"), ("去", "去"), ("北", "北"), ("京", "京")]
    assert time_mediated(ref, hyp) == pairs  # each recognized where it was said: both pairings agree
    e = time_errors({"u": ref, "other": ref}, {"u": hyp}, pairing="text")
    assert time_errors({"u": ref, "other": ref}, {"u": hyp}) == e
    starts, ends = np.array([0.05, -0.1, 0.0, 0.0]), np.array([-0.1, -0.1, 0.2, 0.0])
    assert e.matched == 4 and e.reference == 5  # "other" was not recognized: not counted
    assert e.start_mean == pytest.approx(np.abs(starts).mean())
    assert e.end_mean == pytest.approx(np.abs(ends).mean())
    assert e.start_p95 == pytest.approx(np.percentile(np.abs(starts), 95))
    assert e.end_p95 == pytest.approx(np.percentile(np.abs(ends), 95))
    assert e.start_bias == pytest.approx(starts.mean())
    assert "end error mean 100 ms" in e.line() and e.line().endswith("4 of 5 reference characters paired")
    assert math.isnan(time_errors({"u": ref}, {"u": []}).start_mean)
    with pytest.raises(ValueError, match="pairing"):
        time_errors({"u": ref}, {"u": hyp}, pairing="words")


def test_time_mediated_pairing_times_a_character_where_it_was_recognized():
    """到上海 heard as 到广州到上海: the text alone pairs the reference's 到上海 with the 到上海
    recognized after 广州, 0.9 s late, and counts the confusion as timing; sclite's time-mediated
    alignment pairs each reference character with what was recognized at its time (上 with 州, 海
    with the second 到: substitutions)."""
    ref = [("到", 1.9, 2.3), ("上", 2.3, 2.76), ("海", 2.87, 3.5)]
    hyp = [
        ("到", 1.98, 2.29),
        ("广", 2.3, 2.49),
        ("州", 2.49, 2.76),
        ("到", 2.86, 3.16),
        ("上", 3.16, 3.24),
        ("海", 3.24, 3.51),
    ]
    by_text = matched(ref, hyp)
    assert [(r[0], h[1]) for r, h in by_text] == [("到", 2.86), ("上", 3.16), ("海", 3.24)]
    assert [(r[0], h[1]) for r, h in time_mediated(ref, hyp)] == [("到", 1.98)]
    cost, steps = time_alignment(ref, hyp)
    assert steps == [(0, 0), (None, 1), (1, 2), (2, 3), (None, 4), (None, 5)]
    assert cost == pytest.approx(sum(_step_cost(ref, hyp, i, j) for i, j in steps))
    assert time_errors({"u": ref}, {"u": hyp}).matched == 1  # the time pairing is the default
    assert time_errors({"u": ref}, {"u": hyp}, pairing="text").matched == 3


def test_time_alignment_breaks_ties_as_sclite_does():
    """Equal costs: pairing first, then leaving out the reference character only when strictly
    cheaper than leaving out the recognized one (sclite's net_dp.c). Pairing b with b and
    leaving both out cost the same 2 s; sclite keeps the pair."""
    cost, steps = time_alignment([("b", 0, 1)], [("b", 1, 2), ("a", 4, 5)])
    assert cost == pytest.approx(3) and steps == [(0, 0), (None, 1)]
    # leaving out either last costs the same: sclite leaves out the recognized one last
    cost, steps = time_alignment([("a", 0, 1)], [("c", 3, 4)])
    assert cost == pytest.approx(2) and steps == [(0, None), (None, 0)]


def _step_cost(ref, hyp, i, j):
    """sclite -T's cost of one alignment step (i or j None: that side left out)."""
    if j is None:
        return ref[i][2] - ref[i][1]
    if i is None:
        return hyp[j][2] - hyp[j][1]
    (rc, rs, re_), (hc, hs, he) = ref[i], hyp[j]
    return abs(rs - hs) + abs(re_ - he) + (0 if rc == hc else SUBSTITUTION)


def _alignments(n, m):
    """Every order-keeping alignment of n and m items, as time_alignment's steps."""
    if n == 0 and m == 0:
        yield []
        return
    if n and m:
        yield from ([*a, (n - 1, m - 1)] for a in _alignments(n - 1, m - 1))
    if n:
        yield from ([*a, (n - 1, None)] for a in _alignments(n - 1, m))
    if m:
        yield from ([*a, (None, m - 1)] for a in _alignments(n, m - 1))


def test_time_alignment_is_the_cheapest_against_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(40):
        seqs = []
        for size in rng.integers(0, 5, 2):
            starts = np.sort(rng.uniform(0, 3, size))
            seqs.append([(str(rng.choice(list("ab"))), s, s + rng.uniform(0.05, 0.5)) for s in starts])
        ref, hyp = seqs
        cost, steps = time_alignment(ref, hyp)
        best = min(sum(_step_cost(ref, hyp, i, j) for i, j in a) for a in _alignments(len(ref), len(hyp)))
        assert cost == pytest.approx(best)
        assert cost == pytest.approx(sum(_step_cost(ref, hyp, i, j) for i, j in steps))
        assert [i for i, _ in steps if i is not None] == list(range(len(ref)))
        assert [j for _, j in steps if j is not None] == list(range(len(hyp)))


def test_espeak_phoneme_events_make_character_spans():
    events = [("w", 0, 0), ("o", 0, 100), ("_", 0, 250), ("S;", 1, 300), ("iA", 1, 380), ("_:", 9, 500)]
    phonemes = [Phoneme(*e) for e in events]
    assert char_spans(phonemes, 2, 600) == [(0, 250), (300, 500)]
    assert char_spans(phonemes, 3, 600) is None  # a character without a phoneme of its own


@needs_espeak
def test_the_library_reads_as_the_program_does():
    """The events time the corpus's audio only if the library's reading is the program's, sample
    for sample: several readings in a row (the library's state would carry between them)."""
    for variant, settings in (("f2", (180, 30, 0)), ("m3", (150, 50, 1)), ("klatt2", (199, 79, 3))):
        voice = f"cmn-latn-pinyin+{variant}"
        reading = espeak_times.phonemes("我想去北京", voice, settings)
        assert reading is not None
        cmd = ["espeak-ng", "--stdout", "-v", voice, *(f"-{k}{v}" for k, v in zip("spg", settings)), "我想去北京"]
        wave, sr = sf.read(io.BytesIO(subprocess.run(cmd, check=True, capture_output=True).stdout), dtype="int16")
        assert reading[1:] == (len(wave), sr)
        spans = char_spans(reading[0], 5, len(wave))
        assert spans is not None
        peak = np.abs(wave).max()
        for (a, b), (c, _) in zip(spans, spans[1:] + [(len(wave), 0)]):  # speech inside, (near) silence between
            assert np.abs(wave[a:b]).max() > 0.2 * peak
            assert c == b or np.abs(wave[b:c]).max() < 0.05 * peak


@needs_espeak
def test_the_corpus_reference_times_every_character_inside_its_audio(tmp_path):
    human = GCIN_DIR.is_dir()
    generate(tmp_path, 6, 3, 3, seed=4, mix=DemoMix(human_share=0.5, world_share=0.5, dev_human_share=0), human=human)
    for split in ("train", "test") + (("test_unheard",) if human else ()):
        ref = read_ctm(tmp_path / split / "chars.ctm")
        utts = read_data_dir(tmp_path / split)
        assert ref.keys() == {u.id for u in utts}  # espeak-ng and the recordings know every time
        for u in utts:
            chars = ref[u.id]
            assert "".join(c for c, _, _ in chars) == u.text
            info = sf.info(str(u.path))
            bounds = [t for _, s, e in chars for t in (s, e)]
            assert bounds == sorted(bounds) and 0 < bounds[0] and bounds[-1] <= info.frames / info.samplerate
            wave, sr = sf.read(str(u.path))
            for _, s, e in chars:  # each span holds speech: louder than the padding before the first
                assert np.abs(wave[int(s * sr) : int(e * sr)]).max() > 3 * np.abs(wave[: int(bounds[0] * sr)]).max()


def _posteriors(evidence: dict[int, list[float]], frames: int = 12) -> torch.Tensor:
    """(T, 3) log-posteriors: blank (0) everywhere but where units 1 and 2 have `evidence`
    (probabilities by frame)."""
    p = np.full((frames, 3), 1e-6)
    for unit, probs in evidence.items():
        p[: len(probs), unit] = probs
    p[:, 0] = 1 - p[:, 1:].sum(axis=1)
    return torch.log(torch.as_tensor(p, dtype=torch.float32))


def test_a_character_owns_the_frames_from_where_its_evidence_rises():
    """Spikes at frames 3 and 8; unit 1's evidence over frames 1-5, unit 2's over 6-10 (frame 5:
    1's 0.02 against 2's 0.01; frame 6: 2 ahead)."""
    lp = _posteriors(
        {1: [0, 1e-2, 0.1, 0.9, 0.2, 0.02, 1e-3, 0, 0, 0, 0, 0], 2: [0, 0, 0, 0, 1e-4, 0.01, 0.05, 0.3, 0.9, 0.1, 0.01]}
    )
    spans = align(lp, [1, 2])
    assert [(u, s, e) for u, s, e, _ in spans] == [(1, 3, 3), (2, 8, 8)]
    assert owned_frames(lp, spans) == [(1.0, 6.0), (6.0, 11.0)]
    assert owned_frames(lp, spans, floor=-3.0) == [(2.0, 6.0), (6.0, 10.0)]
    assert owned_frames(lp, []) == []


def test_the_signal_moves_a_boundary_to_its_quietest_point_and_pauses_belong_to_no_character():
    """Two 10 ms energy frames per model frame: speech over 4-11 and 14-21, quiet in 12-13 and
    before 4 and after 21. The boundary goes to the pause between the two spikes (the smoothed
    energy's minimum at frame 12, far more than 10 dB under the speech on both sides; 11 is
    softer speech), and pauses belong to neither character."""
    lp = _posteriors(
        {1: [0, 1e-2, 0.1, 0.9, 0.2, 0.02, 1e-3, 0, 0, 0, 0, 0], 2: [0, 0, 0, 0, 1e-4, 0.01, 0.05, 0.3, 0.9, 0.1, 0.01]}
    )
    energy = np.full(24, -70.0)
    energy[4:12] = -20.0
    energy[14:22] = -22.0
    energy[11] = -30.0
    energy[13] = -65.0
    assert loud_frames(energy).tolist() == [4 <= k < 22 and k not in (12, 13) for k in range(24)]
    assert owned_frames(lp, align(lp, [1, 2]), energy, sub=2) == [(2.0, 6.0), (7.0, 11.0)]


@needs_espeak
def test_asr_evaluate_scores_times_against_a_ctm(tiny_model, tmp_path):
    generate(tmp_path, 2, 2, 2, seed=6, mix=DemoMix(dev_human_share=0), human=False, workers=1)
    ctm = tmp_path / "test" / "chars.ctm"
    res = run_asr("evaluate", "--model", tiny_model["model"], "--data", tmp_path / "test", "--time-ref", ctm)
    assert res.returncode == 0, res.stderr
    out = res.stdout.splitlines()
    [k] = [k for k, l in enumerate(out) if l.startswith("character times vs")]
    assert out[k].endswith("(output frame 30 ms; 2 utterance(s)):")
    assert out[k + 1].startswith("  paired by time (sclite -T): ") and out[k + 2].startswith("  paired by text alone: ")
    for line in out[k + 1 : k + 3]:
        assert "start error mean" in line and "(+: late)" in line and "reference characters paired" in line
    one = tmp_path / "one.ctm"  # times for one of the two: the other is said to be left out
    lines = ctm.read_text(encoding="utf-8").splitlines()
    one.write_text("".join(f"{l}\n" for l in lines if l.split()[0] == lines[0].split()[0]), encoding="utf-8")
    res = run_asr("evaluate", "--model", tiny_model["model"], "--data", tmp_path / "test", "--time-ref", one)
    assert "(output frame 30 ms; 1 utterance(s); 1 without reference times, not counted):" in res.stdout, res.stdout
    bad = run_asr("evaluate", "--model", tiny_model["model"], "--data", tmp_path / "test", "--time-ref", tmp_path / "x")
    assert bad.returncode != 0 and "CTM file not found" in bad.stderr


def test_characters_spiked_in_the_silence_share_the_speech_of_their_neighbour():
    """The BiLSTM's habit: the first two units spiked at frames 0 and 1, before speech that runs
    from model frame 4 to the end; the third spiked at 8, its evidence over 2-12. Units 1 and 2 own no
    loud frame, so they and unit 3 share its frames evenly (flat energy: no quieter point); the
    last then ends where the speech does, not where its evidence fades (frame 13)."""
    p = np.full((14, 4), 1e-6)
    p[2:13, 3] = 0.01
    for unit, frame in ((1, 0), (2, 1), (3, 8)):
        p[frame, unit] = 0.99
    p[:, 0] = 1 - p[:, 1:].sum(axis=1)
    lp = torch.log(torch.as_tensor(p, dtype=torch.float32))
    spans = align(lp, [1, 2, 3])
    assert [s for _, s, _, _ in spans] == [0, 1, 8]
    energy = np.full(14, -70.0)
    energy[4:] = -20.0  # sub=1: one energy frame per model frame
    owned = owned_frames(lp, spans, energy, sub=1)
    assert owned == [(4.0, 7.0), (7.0, 10.0), (10.0, 14.0)]  # unit 3's 4-13 in thirds, then to the end
