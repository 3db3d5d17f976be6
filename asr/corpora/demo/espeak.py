"""espeak-ng's voices for the demo corpus: the variants of each split, random speaker variants
written into a private data folder, and synthesis of one sentence."""

from __future__ import annotations

import io
import random
import shutil
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from asr.audio import resample, to_mono
from asr.corpora.demo import espeak_times
from asr.corpora.demo.mix import MAX_RANDOM_VOICES
from asr.corpora.demo.speakers import SPEAKER_KINDS
from asr.errors import UserError

ESPEAK_VOICE = "cmn-latn-pinyin"  # plain "cmn" reads characters through the wrong dictionary

# espeak-ng voice variants per split: dev and test voices are never heard in training.
DEV_VOICES = ["m7", "f4", "Mike", "steph"]
TEST_VOICES = ["m3", "f2", "klatt2", "belinda", "david"]
TRAIN_VOICES = (
    "m1 m2 m4 m5 m6 m8 f1 f3 f5 klatt klatt3 klatt4 klatt5 klatt6 Alex Andy Annie Denis Gene Hugo "
    "Jacky Lee Marco Michael adam anika announcer aunty benjamin boris caleb ed edward grandma "
    "grandpa iven iven3 john linda max norbert paul quincy rob robert shelby steph2 travis victor zac"
).split()


def random_voice_names(n: int) -> list[str]:
    """The espeak-ng variant names of the corpus's n random voices."""
    return [f"rand{k:03d}" for k in range(n)]


def random_variant(rng: random.Random, name: str) -> str:
    """An espeak-ng voice variant file for a random adult man, woman or child: pitch, vocal-tract
    scale (all formants moved together, each jittered), formant heights and widths, breathiness,
    flutter and spectral tilt, in the ranges of SPEAKER_KINDS."""
    kind = rng.choices(list(SPEAKER_KINDS), [w for w, _, _ in SPEAKER_KINDS.values()])[0]
    base, scale = {k: (rng.uniform(*f0), rng.uniform(*tract)) for k, (_, f0, tract) in SPEAKER_KINDS.items()}[kind]
    lines = [
        "language variant",
        f"name {name}",
        f"gender {'male' if kind == 'male' else 'female'}",
        f"pitch {int(base)} {int(base * rng.uniform(1.15, 1.9))}",
        f"flutter {rng.randint(0, 20)}",
        f"voicing {rng.randint(70, 130)}",
        f"consonants {rng.randint(70, 130)} {rng.randint(70, 130)}",
    ]
    for k in range(9):
        freq = 100 * scale * rng.uniform(0.93, 1.07) if k else 100 * rng.uniform(0.8, 1.2)
        lines.append(f"formant {k} {int(freq)} {rng.randint(60, 150)} {rng.randint(60, 170)}")
    if rng.random() < 0.4:
        lines.append("breath " + " ".join(str(rng.randint(0, 12)) for _ in range(8)))
    if rng.random() < 0.5:  # spectral tilt: amplitude at 600, 1200, 2000 and 5500 Hz
        amps = [rng.randint(60, 200), rng.randint(50, 150), rng.randint(20, 120), rng.randint(10, 100)]
        lines.append("tone 600 {} 1200 {} 2000 {} 5500 {}".format(*amps))
    if rng.random() < 0.2:
        lines.append(f"klatt {rng.randint(1, 4)}")
    return "\n".join(lines) + "\n"


def espeak_data_dir() -> Path:
    """The system's espeak-ng-data folder (as `espeak-ng --version` reports it)."""
    out = subprocess.run(["espeak-ng", "--version"], check=True, capture_output=True, text=True).stdout
    return Path(out.split("Data at:")[1].strip())


def write_random_variants(root: Path, names: list[str], seed: int) -> Path:
    """A private espeak-ng data folder under `root`: the system's data linked in (of the
    languages, Mandarin only), its voice variants, and random variant files `names` in
    voices/!v (espeak-ng --path=<returned folder> finds them)."""
    if len(names) > MAX_RANDOM_VOICES:
        raise UserError(f"at most {MAX_RANDOM_VOICES} random voices (espeak-ng's voice list is limited)")
    system = espeak_data_dir()
    data = root / "espeak-ng-data"
    shutil.rmtree(root, ignore_errors=True)
    (data / "voices" / "!v").mkdir(parents=True)
    for entry in system.iterdir():
        if entry.name not in ("voices", "lang"):
            (data / entry.name).symlink_to(entry)
    for entry in (system / "lang").rglob("cmn*"):
        target = data / "lang" / entry.relative_to(system / "lang")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(entry)
    for entry in (system / "voices" / "!v").iterdir():
        (data / "voices" / "!v" / entry.name).symlink_to(entry)
    rng = random.Random(seed)
    for name in names:
        (data / "voices" / "!v" / name).write_text(random_variant(rng, name))
    return root


def synthesize(text: str, variant: str, rng: np.random.Generator, espeak_path: str | None = None) -> np.ndarray:
    """`text` read by espeak-ng's Mandarin voice with `variant`, at a random speed, pitch and word gap."""
    return synthesize_timed(text, variant, rng, espeak_path)[0]


def synthesize_timed(
    text: str, variant: str, rng: np.random.Generator, espeak_path: str | None = None
) -> tuple[np.ndarray, list[tuple[float, float]] | None]:
    """synthesize(), with each character's (start, end) in seconds of the wave: espeak-ng's
    phoneme events for the same reading (espeak_times). None where they cannot be had (no
    libespeak-ng, or a reading of another length than the program's)."""
    rate, pitch, gap = int(rng.integers(125, 200)), int(rng.integers(25, 80)), int(rng.integers(0, 4))
    voice = f"{ESPEAK_VOICE}+{variant}"
    cmd = [
        "espeak-ng",
        *([f"--path={espeak_path}"] if espeak_path else []),
        "--stdout",
        *("-v", voice, "-s", str(rate), "-p", str(pitch), "-g", str(gap)),
        text,
    ]
    out = subprocess.run(cmd, check=True, capture_output=True).stdout
    wave, sr = sf.read(io.BytesIO(out), dtype="float32")
    spans = None
    reading = espeak_times.phonemes(text, voice, (rate, pitch, gap), espeak_path)
    if reading is not None and reading[1:] == (len(wave), sr):  # the same reading, sample for sample
        found = espeak_times.char_spans(reading[0], len(text), len(wave))
        spans = [(a / sr, b / sr) for a, b in found] if found else None
    return resample(to_mono(wave), sr), spans
