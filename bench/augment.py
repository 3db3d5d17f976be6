"""What on-the-fly augmentation costs: training frames/s with cached features vs augmented in workers.

    make bench-augment     # CPU, ~4 min on the demo corpus (make demo-data first)

Each row trains the demo recipe for `--epochs` epochs (the first includes worker start-up) and
reports the last epoch's training frames/s (real frames through forward, backward and the
optimizer step; DataLoader waits included). "cached" computes every clean feature once and keeps
it in memory (what the recipe did before augmentation); the others compute every training item
from its audio in 2 DataLoader workers. Then each waveform step alone, in ms per utterance on
one thread (the CPU time it takes from the workers).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import torch

from asr.audio import load_audio
from asr.augment import AugmentConfig, Augmenter
from asr.config import load_recipe
from asr.datadir import read_data_dir
from asr.train import train
from bench.common import machine, report, timed

# Off: the steps the ablation kept are in the recipe; "cached" switches all of them off.
OFF = ["augment.start_epoch=0", "augment.speeds=[1.0]"] + [
    f"augment.{step}_prob=0" for step in ("pitch", "reverb", "eq", "babble", "noise", "narrowband", "gain", "vtlp")
]
STEPS = {
    "speed 0.9/1.0/1.1": AugmentConfig(speeds=(0.9, 1.0, 1.1)),
    "VTLP": AugmentConfig(vtlp_prob=1.0),
    "pitch shift": AugmentConfig(pitch_prob=1.0),
    "reverb": AugmentConfig(reverb_prob=1.0),
    "EQ / band limit": AugmentConfig(eq_prob=1.0),
    "babble": AugmentConfig(babble_prob=1.0),
    "white noise": AugmentConfig(noise_prob=1.0),
    "8 kHz": AugmentConfig(narrowband_prob=1.0),
    "gain": AugmentConfig(gain_prob=1.0),
    "SpecAugment (log-mel)": AugmentConfig(freq_masks=2, time_masks=2),
}


def frames_per_s(recipe: str, work: Path, name: str, overrides: list[str], epochs: int) -> float:
    shutil.rmtree(work / name, ignore_errors=True)  # this bench's own run folder: always a fresh run
    sets = [f"exp_dir={work / name}", f"train.epochs={epochs}", "train.num_workers=2", *overrides]
    summary = train(load_recipe(recipe, sets))
    return summary["history"][-1]["frames_per_s"]


def step_costs(recipe: str, n: int) -> dict[str, float]:
    """Milliseconds per utterance (1 thread) for the clean frontend and each step on top of it."""
    torch.set_num_threads(1)
    r = load_recipe(recipe)
    paths = [u.path for u in read_data_dir(r.data.train)]
    waves = [load_audio(p) for p in paths[:n]]
    costs = {}
    for name, cfg in {"clean features": AugmentConfig(), **STEPS}.items():
        aug = Augmenter(cfg, r.features, seed=0, paths=paths)
        for i, w in enumerate(waves[:5]):  # warm-up: imports, numba, the first rooms
            aug.features(w, 99, i)
        one_pass = timed(lambda aug=aug: [aug.features(w, 0, i) for i, w in enumerate(waves)])
        costs[name] = one_pass.best / len(waves) * 1000
    return costs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", default="recipes/demo.yaml")
    ap.add_argument("--work", default="exp/bench_augment")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--utterances", type=int, default=300, help="For the per-step costs")
    args = ap.parse_args()
    work = Path(args.work)
    cached = frames_per_s(args.recipe, work, "cached", OFF + ["train.cache_features=true"], args.epochs)
    fly = frames_per_s(args.recipe, work, "augmented", ["augment.start_epoch=0"], args.epochs)
    costs = step_costs(args.recipe, args.utterances)
    rows = "\n".join(f"| {k} | {v:.2f} |" for k, v in costs.items())
    cost = 1 - fly / cached
    body = f"""
## On-the-fly augmentation cost (bench/augment.py)

Machine: {machine()}. Recipe {args.recipe}, training frames/s of epoch {args.epochs} (2 DataLoader
workers for the augmented run; the cached run computes clean features once, in memory):

| features | train frames/s |
|---|---|
| cached, no waveform augmentation | {cached:.0f} |
| the recipe's augmentation, on the fly | {fly:.0f} ({cost:.0%} less) |

Per step, on one thread (feature computation included; a step at probability 1):

| step | ms per utterance |
|---|---|
{rows}
"""
    report("augment", body.splitlines())


if __name__ == "__main__":
    main()
