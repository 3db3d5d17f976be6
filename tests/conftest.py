"""Shared fixtures: the committed demo samples and a tiny model trained on them once per session."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from asr.config import load_recipe
from asr.train import train

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "demo" / "samples"
TEST_DATA = ROOT / "tests" / "data"

# A model small enough to memorize the eight samples in seconds on a CPU.
TINY = [
    "model.hidden=96",
    "model.layers=2",
    "model.dropout=0.0",
    "model.stack=3",
    "train.batch_size=2",
    "train.lr=0.01",
    "train.lr_decay=1.0",
    "train.lr_final=0",
    "train.threads=2",
    "train.max_frames=0",
    "train.num_workers=0",
    "train.amp=off",  # auto would time bf16 on a CPU with a bf16 path: the same numbers on every CPU
    "augment.freq_masks=0",
    "augment.time_masks=0",
    "augment.start_epoch=0",
    "augment.speeds=[1.0]",
    "augment.vtlp_prob=0",
    "augment.pitch_prob=0",
    "augment.reverb_prob=0",
    "augment.eq_prob=0",
    "augment.babble_prob=0",
    "augment.noise_prob=0",
    "augment.gain_prob=0",
    "augment.narrowband_prob=0.5",
]


def tiny_overrides(exp_dir: Path, epochs: int, data: Path = SAMPLES) -> list[str]:
    """The tiny model trained on `data` (dev too); no test set: add data.test to score one."""
    return [
        f"exp_dir={exp_dir}",
        f"data.train={data}",
        f"data.dev={data}",
        "data.test=null",
        f"train.epochs={epochs}",
        *TINY,
    ]


def run_asr(*args: str, **kw) -> subprocess.CompletedProcess:
    """Run the CLI the way a user does, in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "asr", *map(str, args)], capture_output=True, text=True, cwd=ROOT, **kw
    )


def have_espeak() -> bool:
    return shutil.which("espeak-ng") is not None


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> dict:
    """Train the tiny model on the samples; returns the training summary plus the model path."""
    exp = tmp_path_factory.mktemp("tiny") / "exp"
    summary = train(load_recipe(ROOT / "recipes" / "demo.yaml", tiny_overrides(exp, epochs=120)))
    return {**summary, "model": exp / "best.pt", "exp_dir": exp}


@pytest.fixture(scope="session")
def tiny_reads(tiny_model) -> dict[str, str]:
    """What the tiny model reads for each sample (16 kHz file, alone, greedy), by stem.

    Plumbing tests compare the system with itself through this, not with the references: which
    characters a model trained for seconds on eight samples gets right depends on the CPU's
    float rounding. How close it gets is a learning test's bound (test_train.py).
    """
    from asr.recognizer import Recognizer

    rec = Recognizer(tiny_model["model"])
    return {p.stem: rec.transcribe(p).text for p in sorted(SAMPLES.glob("*.wav"))}


@pytest.fixture(scope="session")
def demo_sentences() -> dict[str, list[tuple[str, list[str]]]]:
    """Sentences of the demo corpus (a smaller draw of its templates, nothing synthesized) with
    their slot tags."""
    from asr.corpora.demo.grammar import travel_slots
    from asr.corpora.demo.plan import plan

    jobs = plan(Path("/nowhere"), {"train": 800, "dev": 100, "test": 200}, seed=2026, human=False)
    return {split: [(j.text, travel_slots(j.text)) for j in v] for split, v in jobs.items()}


@pytest.fixture(scope="session")
def slot_model(tmp_path_factory, demo_sentences) -> Path:
    """A bidirectional LSTM slot tagger trained on the demo sentences (seconds)."""
    from asr.slots import SlotConfig, train_tagger

    tagger, _ = train_tagger(SlotConfig(epochs=12), demo_sentences["train"], log=lambda line: None)
    path = tmp_path_factory.mktemp("slots") / "slots.pt"
    tagger.save(path)
    return path


def make_aishell_layout(root: Path, per_speaker: int = 3) -> dict[str, int]:
    """A tiny corpus in the official AISHELL-1 layout, synthesized with espeak-ng.

    Speakers S0001-S0003 train, S0004 dev, S0005 test; transcripts are word-segmented with
    spaces as in aishell_transcript_v0.8.txt; one extra train wav has no transcript.
    """
    import random

    from asr.corpora.demo.grammar import sentence
    from asr.corpora.demo.render import Job, render

    rng = random.Random(7)
    base = root / "data_aishell"
    lines, counts = [], {"train": 0, "dev": 0, "test": 0}
    speakers = {"S0001": "train", "S0002": "train", "S0003": "train", "S0004": "dev", "S0005": "test"}
    voices = ["m1", "f1", "m2", "f3", "m4"]
    for k, (spk, split) in enumerate(speakers.items()):
        for i in range(per_speaker + (1 if spk == "S0001" else 0)):
            uid = f"BAC009{spk}W{i + 1:04d}"
            text = sentence(rng)
            render(Job(uid, text, voices[k], rng.randrange(2**32), base / "wav" / split / spk / f"{uid}.wav"))
            if i < per_speaker:  # the extra utterance of S0001 stays without a transcript
                lines.append(f"{uid} {' '.join(text[j : j + 2] for j in range(0, len(text), 2))}")
                counts[split] += 1
    (base / "transcript").mkdir(parents=True)
    (base / "transcript" / "aishell_transcript_v0.8.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return counts


def start_server(model, *args: str) -> tuple[subprocess.Popen, str]:
    """`asr serve` on a free loopback port; returns the process and its base URL once it listens."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "asr", "serve", "--model", str(model), "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()  # printed once the socket listens
    if not line.startswith("asr serve: "):
        proc.kill()
        raise AssertionError(f"server did not start: {line}{proc.stderr.read()}")
    return proc, line.split()[2].rstrip("/")
