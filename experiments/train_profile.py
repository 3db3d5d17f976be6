"""Where does a CPU training run's time go? `asr train recipes/few_hours.yaml` on the Czech corpus
(the one experiments/real_speech.py prepares), for a few minutes of its budget, sampled by py-spy
(every Python stack, 50 times a second, the whole process from start-up to its end), and each
sample put in one part of the run: start-up, training data, the forward pass's pieces, backward,
clipping, the optimizer, scoring dev and the fit sample, and the end (averaging, the test set).
Writes the table, with the run's training frames/s, into train_profile.md under `--label`.

    python -m experiments.train_profile --label after [--minutes 3] [-s train.amp=bf16]

py-spy (the dev extra) reads the process from outside without pausing it (--nonblocking), so
what it measures runs unchanged, apart from the sampler's share of the 2 cores.
"""

from __future__ import annotations

import argparse
import collections
import csv
import subprocess
import sys
import tempfile
from pathlib import Path

from experiments.common import HERE, commit_of, machine, write_section
from experiments.real_speech import corpus

RESULTS = HERE / "train_profile.md"

END = "(asr/trainend.py"  # frames are printed "function (file:line)"
# (part, what a stack must contain to be in it), the first that matches; the order matters:
# a sample in the loss's backward is "backward" before it is anything in train_step
PARTS = [
    ("start-up: reading the corpus, CMVN, the model", lambda s: "_epochs" not in s and END not in s),
    ("end: averaging, scoring the test set", lambda s: "_epochs" not in s),
    ("scoring dev and the fit sample: features", lambda s: "_scores" in s and "FeatureDataset" in s),
    ("scoring dev and the fit sample: the model", lambda s: "_scores" in s),
    ("training data: SpecAugment, features, padding", lambda s: "train_step" not in s and "(torch/utils/data/" in s),
    ("backward", lambda s: "backward" in s),
    ("forward: dropout", lambda s: "Dropout.forward" in s),
    ("forward: recurrent layers", lambda s: "BiLayer" in s),
    ("forward: CTC loss", lambda s: "training_loss" in s),
    ("gradient clipping", lambda s: "clip_grad" in s),
    ("optimizer (Adam)", lambda s: "GradScaler.step" in s or "Optimizer" in s),
    ("rest of the step (CMVN, stacking, output layer)", lambda s: "train_step" in s),
    ("rest: progress, checkpoints, metrics", lambda s: True),
]


def shares(raw: Path) -> dict[str, float]:
    """py-spy's raw output (`stack count` lines) -> {part: share of all samples}."""
    counts: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        counts[next(name for name, match in PARTS if match(stack))] += int(n)
    if not counts["forward: recurrent layers"]:  # frames read "BiLayer.forward" since py-spy 0.4.3 (Python 3.11+)
        raise SystemExit(f"{raw}: no sample names BiLayer: this py-spy prints no class names (need py-spy >= 0.4.3)")
    total = sum(counts.values())
    return {name: counts[name] / total for name, _ in PARTS}


def profile_run(sets: list[str], minutes: float, rate: int, work: Path) -> tuple[dict[str, float], list[dict]]:
    """Train under py-spy; (the parts' shares, the run's metrics.csv rows)."""
    data = corpus(work, None)
    with tempfile.TemporaryDirectory() as tmp:
        exp, raw = Path(tmp) / "exp", Path(tmp) / "raw.txt"
        args = [f"exp_dir={exp}", *(f"data.{s}={data / s}" for s in ("train", "dev", "test"))]
        args += [f"train.max_minutes={minutes}", *sets]
        train = [sys.executable, "-m", "asr", "train", "recipes/few_hours.yaml", *(a for s in args for a in ("-s", s))]
        spy = [str(Path(sys.executable).parent / "py-spy"), "record", "--nonblocking", "-r", str(rate)]
        spy += ["-f", "raw", "-o", str(raw)]
        subprocess.run([*spy, "--", *train], check=True)
        with open(exp / "metrics.csv", newline="") as f:
            return shares(raw), list(csv.DictReader(f))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--label", required=True, help="the section of train_profile.md the table goes to")
    ap.add_argument("--minutes", type=float, default=3.0, help="train.max_minutes of the profiled run")
    ap.add_argument("--rate", type=int, default=50, help="py-spy samples per second")
    ap.add_argument("-s", "--set", dest="sets", action="append", default=[], help="recipe override (KEY=VALUE)")
    ap.add_argument("--work", type=Path, default=Path("exp/real_speech"), help="where the corpus is (or goes)")
    ap.add_argument("--results", type=Path, default=RESULTS, help="the page the table goes to")
    args = ap.parse_args()
    parts, rows = profile_run(args.sets, args.minutes, args.rate, args.work)
    frames = sum(float(r["frames_per_s"]) * float(r["seconds"]) for r in rows)
    fps = frames / sum(float(r["seconds"]) for r in rows)
    overrides = " ".join(f"-s {s}" for s in args.sets) or "none"
    body = [
        f"## {args.label}: {commit_of()}",
        "",
        f"Machine: {machine()}. `python -m experiments.train_profile --label {args.label} --minutes {args.minutes:g}`"
        f" (overrides: {overrides}): {len(rows)} epochs (the last maybe partial), training {fps:,.0f} frames/s"
        " (metrics.csv: frames over the seconds of training batches, scoring excluded).",
        "",
        "| part of the run | share of its time |",
        "|---|---|",
        *(f"| {name} | {share:.1%} |" for name, share in parts.items()),
    ]
    print("\n".join(body))
    write_section(f"profile_{args.label}", "\n".join(body), args.results)


if __name__ == "__main__":
    main()
