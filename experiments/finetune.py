"""Fine-tuning, a worked example: the demo model on a new speaker's few minutes.

    make exp-finetune                    # after make demo (exp/demo/best.pt); ~5 min on 2 cores
    python -m experiments.finetune --work exp/finetune

The new speaker is a random espeak-ng voice variant that no demo split uses (a voice file of
its own, like the demo's random variants; gcin-voice speaker 5 stays out of this). Of a few
candidate variants the one the demo model reads worst on the *training* recordings is taken
(a user fine-tunes for a voice the model fails on); its test recordings are scored only.
Everything else is what a user types: a manifest CSV per split -> `asr prepare manifest` ->
`asr evaluate` -> `asr train recipes/demo.yaml --init exp/demo/best.pt` -> `asr evaluate`,
on the new voice's test and on the demo test (what the model forgets).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import subprocess
import sys
import time
from pathlib import Path

from asr.corpora.demo.espeak import write_random_variants
from asr.corpora.demo.grammar import unique_sentences
from asr.corpora.demo.render import Job, render
from asr.datadir import read_data_dir
from asr.evaluate import error_rates
from asr.recognizer import Recognizer
from experiments.common import HERE, machine, write_section

RESULTS = HERE / "finetune.md"

ASR = [sys.executable, "-m", "asr"]
CANDIDATES = 8
SIZES = {"train": 120, "dev": 30, "test": 100}  # ~4 min of the new voice to train on
REPLAY = 300  # demo training utterances mixed in, in the replay row
# Fine-tuning settings: a quarter of the demo's learning rate, augmentation from the start
# (the all-blank start that the demo's clean epochs are for is behind a trained model).
TUNE = ["--set", "train.epochs=6", "--set", "train.lr=0.0005", "--set", "augment.start_epoch=1"]
ROWS = {
    "new voice only": [],
    "new voice + 300 demo utterances": ["replay"],
    "new voice, 2 lowest layers frozen for 3 epochs": [
        "--set",
        "train.freeze_layers=2",
        "--set",
        "train.freeze_epochs=3",
    ],
}


def asr(*args: str | Path) -> str:
    res = subprocess.run([*ASR, *map(str, args)], capture_output=True, text=True)
    if res.returncode:
        raise SystemExit(f"asr {' '.join(map(str, args))} failed:\n{res.stderr[-2000:]}")
    return res.stdout


def render_voice(work: Path, voice: str, texts: list[str], split: str, seed: int) -> list[tuple[Path, str]]:
    rng = random.Random(seed)
    out = []
    for i, text in enumerate(texts):
        path = work / "wav" / voice / split / f"{i:04d}.wav"
        if not path.exists():
            render(Job(f"{voice}-{i}", text, voice, rng.randrange(2**32), path, str(work / "espeak")))
        out.append((path, text))
    return out


def write_manifest(path: Path, rows: list[tuple[Path, str]]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "text"])
        w.writerows([(str(p.resolve()), t) for p, t in rows])
    return path


def cer(model: Path, data: Path, report: Path) -> float:
    asr("evaluate", "--model", model, "--data", data, "--report", report)
    return json.loads(report.read_text())["cer"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("exp/finetune"))
    ap.add_argument("--base", type=Path, default=Path("exp/demo/best.pt"))
    ap.add_argument("--demo", type=Path, default=Path("data/demo"))
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    work, base = args.work, args.base
    if not base.is_file():
        raise SystemExit(f"{base}: no demo model; run make demo first")
    work.mkdir(parents=True, exist_ok=True)
    names = [f"new{k}" for k in range(CANDIDATES)]
    write_random_variants(work / "espeak", names, args.seed)

    # Sentences of the demo's grammar that the demo corpus does not hold.
    seen = {u.text for split in ("train", "dev", "test") for u in read_data_dir(args.demo / split)}
    rng = random.Random(args.seed)
    pool = [t for t in unique_sentences(3000, rng) if t not in seen]
    rng.shuffle(pool)
    texts, start = {}, 0
    for split, n in SIZES.items():
        texts[split], start = pool[start : start + n], start + n

    # The candidate the demo model reads worst, judged on training recordings.
    rec = Recognizer(base)
    seeds = {split: args.seed + k for k, split in enumerate(SIZES)}  # a voice's split renders alike
    probe = {}
    for name in names:
        rows = render_voice(work, name, texts["train"][:20], "train", seeds["train"])
        hyps = [r.text for r in rec.transcribe_many([str(p) for p, _ in rows])]
        probe[name] = error_rates([t for _, t in rows], hyps)["cer"]
    voice = max(probe, key=probe.get)
    print("probe CER (20 training recordings):", {k: f"{v:.1%}" for k, v in probe.items()}, "->", voice)

    data = work / "data"
    rendered = {split: render_voice(work, voice, texts[split], split, seeds[split]) for split in SIZES}
    for split, rows in rendered.items():
        asr("prepare", "manifest", write_manifest(work / f"{split}.csv", rows), data / split)
    replay = random.Random(args.seed).sample(read_data_dir(args.demo / "train"), REPLAY)
    mixed = [(Path(u.path), u.text) for u in replay] + rendered["train"]
    asr("prepare", "manifest", write_manifest(work / "train_replay.csv", mixed), data / "train_replay")
    minutes = sum(float(line.split()[1]) for line in (data / "train" / "utt2dur").read_text().splitlines()) / 60

    reports = work / "reports"
    reports.mkdir(exist_ok=True)
    results = [
        (
            "demo model, not fine-tuned",
            cer(base, data / "test", reports / "base_new_voice.json"),
            cer(base, args.demo / "test", reports / "base_demo.json"),
            None,
        )
    ]
    for label, extra in ROWS.items():
        exp = work / "exp" / label.split(",")[0].replace(" ", "_").replace("+", "plus")
        exp = exp.with_name(exp.name + ("_frozen" if "frozen" in label else ""))
        train_dir = data / ("train_replay" if "replay" in extra else "train")
        sets = [f"exp_dir={exp}", f"data.train={train_dir}", f"data.dev={data / 'dev'}", "data.test="]
        begin = time.perf_counter()
        asr(
            "train",
            "recipes/demo.yaml",
            "--init",
            base,
            *[x for s in sets for x in ("--set", s)],
            *TUNE,
            *[x for x in extra if x != "replay"],
        )
        seconds = time.perf_counter() - begin
        new = cer(exp / "best.pt", data / "test", reports / f"{exp.name}_new_voice.json")
        results.append(
            (label, new, cer(exp / "best.pt", args.demo / "test", reports / f"{exp.name}_demo.json"), seconds)
        )
        print(results[-1])

    lines = [
        f"Machine: {machine()}. `make exp-finetune` (experiments/finetune.py), after `make demo`.",
        "",
        f"New speaker: random espeak-ng variant `{voice}` (seed {args.seed}; the worst of {CANDIDATES} candidates",
        f"for the demo model on 20 of its training recordings). Its data: {SIZES['train']} training",
        f"recordings ({minutes:.1f} min), {SIZES['dev']} dev, {SIZES['test']} test, sentences not in the demo corpus.",
        "Fine-tuning: `asr train recipes/demo.yaml --init exp/demo/best.pt` with "
        + " ".join(f"`{t}`" for t in TUNE if t != "--set")
        + ".",
        "",
        "| model | new voice test CER | demo test CER | fine-tuning time |",
        "|---|---|---|---|",
    ]
    for label, new, old, seconds in results:
        lines.append(f"| {label} | {new:.2%} | {old:.2%} | {'-' if seconds is None else f'{seconds:.0f} s'} |")
    write_section("finetune", "## Fine-tuning on a new speaker\n\n" + "\n".join(lines), RESULTS)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
