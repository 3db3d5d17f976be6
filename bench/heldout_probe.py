"""What makes the held-out human voice hard: pitch and vocal tract, or the way it says its syllables?

    python -m bench.heldout_probe --work exp/bench_voice_hd --rows rec_world30_e15,rec_world30_e15_seed1

Scores models that bench/heldout_voice.py trained (its work folder) on copies of two human sets,
re-synthesized by WORLD exactly as the demo corpus re-synthesizes its training voice, with the
same sentences, rates, pauses, levels and noise draws as any corpus utterance:
- test_unheard (gcin-voice speaker 5) as itself (its own median F0, formants x1), and moved to a
  man's voice (F0 x0.4, formants x0.85): if pitch or vocal-tract length made it hard, the man's
  copy would score far better. Diagnosis only: nothing is tuned on these figures.
- dev's yanyu half (a man, never in training) as random women and children (SPEAKER_KINDS without
  men): how much a higher voice alone costs.
- dev's yanyu half read as recorded, each syllable whole and cut to the length speaker 5's
  recording of it has (both silence-trimmed): how much syllables cut as speaker 5's are cost a
  human voice the model reads well.
It also prints how gcin-voice's recordings of the demo's syllables end: their most common lengths
and the share whose last 20 ms are still above a tenth of the peak (cut before the sound ends).
"""

from __future__ import annotations

import argparse
import functools
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

from asr.audio import to_mono
from asr.corpora import demo, syllables
from asr.data import Utterance, read_data_dir, write_data_dir
from bench.common import greedy_rates, patched

SHIFTS = {"unheard_world_self": (1.0, 1.0), "unheard_world_man": (0.4, 0.85)}


def _shifted(f0_scale: float, tract: float):
    """A stand-in for demo._world_voice: the voice's own median F0 times `f0_scale`, formants x `tract`."""

    def voice(text, name, rng, jitter, yanyu_dir):
        frames = [demo._world_analysis(name, ch, yanyu_dir) for ch in text]
        voiced = np.concatenate([f0[f0 > 0] for f0, _, _ in frames])
        return demo.world_resynthesize(
            text, name, float(np.median(voiced)) * f0_scale, tract, 1.0, None, 0.0, yanyu_dir
        )

    return voice


# dev's human half as random women and children: the corpus's own WORLD voice with the men left out
WOMEN_AND_CHILDREN = {k: v for k, v in demo.SPEAKER_KINDS.items() if k != "male"}


def _render_set(out: Path, source: Path, voice: str, first_seed: int, yanyu_dir: str | None = None, **patches) -> None:
    """`source`'s sentences read by `voice` as data dir `out`, rendered by demo.render with the
    module attributes `patches` replaced (the pool's processes are forked, so they see them)."""
    jobs = [
        demo.Job(u.id, u.text, voice, first_seed + i, out / "wav" / f"{i}.wav", None, yanyu_dir)
        for i, u in enumerate(read_data_dir(source))
    ]
    with patched(demo, **patches), ProcessPoolExecutor(2) as pool:
        list(pool.map(demo.render, jobs, chunksize=16))
    write_data_dir(out, [Utterance(j.uid, j.path.resolve(), j.text) for j in jobs])


@functools.cache
def _heldout_seconds(ch: str) -> float:
    """How long speaker 5's recording of `ch` is, silence trimmed."""
    held, sr = syllables.read_syllable("gcin" + demo.HELDOUT_GCIN_SPEAKER, ch)
    return len(held) / sr


def _cut_like_heldout(voice, ch, yanyu_dir=None):
    """A stand-in for demo.read_syllable: `voice`'s syllable no longer than speaker 5's of `ch`."""
    wave, sr = syllables.read_syllable(voice, ch, yanyu_dir)
    return wave[: round(_heldout_seconds(ch) * sr)], sr


def build(corpus: Path, yanyu_dir: str) -> None:
    """The probe sets under `corpus` (skipped where they exist)."""
    for name, (f0_scale, tract) in SHIFTS.items():
        if not (corpus / name / "text").is_file():
            _render_set(corpus / name, corpus / "test_unheard", "gcin5w", 5000, _world_voice=_shifted(f0_scale, tract))
    if not (corpus / "dev_human_high" / "text").is_file():
        _render_set(
            corpus / "dev_human_high", corpus / "dev_human", "yanyuw", 1000, yanyu_dir, SPEAKER_KINDS=WOMEN_AND_CHILDREN
        )
    if not (corpus / "dev_human_whole" / "text").is_file():
        _render_set(corpus / "dev_human_whole", corpus / "dev_human", "yanyu", 2000, yanyu_dir)
    if not (corpus / "dev_human_cut" / "text").is_file():  # the same draws, its syllables cut
        _render_set(
            corpus / "dev_human_cut", corpus / "dev_human", "yanyu", 2000, yanyu_dir, read_syllable=_cut_like_heldout
        )


def recording_ends() -> None:
    """Per gcin-voice speaker: the commonest lengths of the demo syllables' files, and the share
    of them still loud in their last 20 ms."""
    for speaker in ("3", "5"):
        lengths, loud, syllables = Counter(), 0, sorted(set(demo.INVENTORY))
        for ch in syllables:
            wave, sr = sf.read(str(demo.syllable_path("gcin" + speaker, ch)), dtype="float32")
            wave = to_mono(wave)
            lengths[len(wave)] += 1
            loud += np.sqrt(np.mean(wave[-int(0.02 * sr) :] ** 2)) > 0.1 * np.abs(wave).max()
        common = ", ".join(f"{n} x {frames} samples" for frames, n in lengths.most_common(3))
        print(
            f"gcin-voice speaker {speaker}: {len(syllables)} syllables; commonest lengths {common} (at {sr} Hz); "
            f"{loud} end loud"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="exp/bench_voice_hd", help="bench/heldout_voice.py's work folder")
    ap.add_argument("--rows", required=True, help="Comma-separated rows whose best.pt to score")
    args = ap.parse_args()
    work = Path(args.work)
    corpus = work / "data"
    recording_ends()
    build(corpus, str(demo.fetch_yanyu(corpus / "sources").resolve()))
    sets = ["test_unheard", *SHIFTS, "dev_human", "dev_human_high", "dev_human_whole", "dev_human_cut"]
    print("| row | " + " | ".join(sets) + " |")
    print("|---|" + "---|" * len(sets))
    for row in args.rows.split(","):
        model = work / "exp" / row / "best.pt"
        print(
            f"| {row} | " + " | ".join(f"{greedy_rates(model, corpus / s)['cer']:.2%}" for s in sets) + " |", flush=True
        )


if __name__ == "__main__":
    main()
