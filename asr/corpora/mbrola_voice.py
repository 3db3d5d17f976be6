"""MBROLA with the cn1 diphone bank as an opt-in voice source for the demo corpus.

cn1 (Debian `mbrola-cn1`, non-free: use with the MBROLA program only, no sale) holds 520
diphones recorded by two human singers of Mandarin, cut by pinyin: an initial (with the first
vowel of a compound final: qian = qi + an, guang = gu + ang) and a single-vowel final. MBROLA
(Debian `mbrola`, contrib, AGPL-3) joins them at the durations and pitch points of a .pho file,
which `pho` writes here from the pinyin and tone of each character: so the tones and the pitch
range, speaking rate and pauses are ours, and each reading differs.

Nothing is installed system-wide: `make mbrola` fetches the two .debs through a private apt
list (the machine's apt sources stay as they are) and unpacks them into .mbrola/. `find` looks
in $ASR_MBROLA_ROOT, then ./.mbrola, then the system (apt-get install mbrola-cn1 with contrib
and non-free enabled).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from asr.audio import to_mono
from asr.corpora.syllables import PINYIN, trim
from asr.errors import UserError

LOCAL_ROOT = ".mbrola"
DATABASE = Path("usr/share/mbrola/cn1/cn1")
FETCH_HINT = "`make mbrola` fetches it into .mbrola (non-free licence: synthesis with MBROLA only, no sale)"
# cn1's units (its README): initials, with the compound finals' first vowel moved in, and finals.
INITIALS = set(
    "b bi c ch chu cu d di du f g gu h hu j ji ju k ku l li lu m mi n ni nu p pi q qi qu r ru "
    "s sh shu su t ti tu w x xi xu y yu z zh zhu zu".split()
)
FINALS = set("a ai an ang ao e ei en eng er o ou i ie ll ii u v ong in ing ui iu ue un".split())
# Chao tone letters (1 low .. 5 high) at positions (%) of the final; the third tone as it is
# read before another syllable (low, barely rising), the fifth the neutral tone.
TONES = {
    1: ((0, 5), (100, 5)),
    2: ((0, 3), (100, 5)),
    3: ((0, 2), (60, 1), (100, 2)),
    4: ((0, 5), (100, 1)),
    5: ((0, 3), (100, 2)),
}
_PLAIN = ("zh", "ch", "sh", *"bpmfdtnlgkhjqxrzcsyw")


def split_syllable(pinyin: str) -> tuple[str, str]:
    """A toneless pinyin syllable as cn1's (initial, final); the initial may be empty."""
    initial = next((i for i in _PLAIN if pinyin.startswith(i)), "")
    rest = pinyin[len(initial) :]
    if rest == "i" and initial in ("zh", "ch", "sh", "r"):
        return initial, "ll"
    if rest == "i" and initial in ("z", "c", "s"):
        return initial, "ii"
    if initial in ("j", "q", "x", "y") and rest.startswith("u"):  # ju, que, jun, xuan: the u is ü
        tail = rest[1:]
        if tail in ("", "e", "n"):
            return initial, {"": "v", "e": "ue", "n": "un"}[tail]
        initial, rest = initial + "u", tail
    elif rest not in FINALS and rest[:1] in ("i", "u") and initial + rest[0] in INITIALS:
        initial, rest = initial + rest[0], rest[1:]  # compound final: first vowel to the initial
    if rest not in FINALS or (initial and initial not in INITIALS):
        raise UserError(f"{pinyin}: no cn1 units for this syllable")
    return initial, rest


def _sandhi(tones: list[int]) -> list[int]:
    """Third tone before a third tone is read as the second."""
    return [2 if t == 3 and i + 1 < len(tones) and tones[i + 1] == 3 else t for i, t in enumerate(tones)]


def pho(text: str, rng: np.random.Generator) -> str:
    """`text` (characters of the demo inventory) as MBROLA .pho lines for cn1: a random pitch
    floor (90-230 Hz) and range (6-12 semitones), speaking rate and pauses."""
    floor, span, rate = np.exp(rng.uniform(np.log(90), np.log(230))), rng.uniform(6, 12), rng.uniform(0.75, 1.3)
    syllables = [PINYIN[ch] for ch in text]
    tones = _sandhi([int(s[-1]) for s in syllables])
    lines = ["_ 50"]
    for syllable, tone in zip(syllables, tones):
        initial, final = split_syllable(syllable[:-1])
        if initial:
            lines.append(f"{initial} {round(rng.uniform(50, 90) * rate)}")
        points = " ".join(f"{pos} {floor * 2 ** ((level - 1) * span / 4 / 12):.0f}" for pos, level in TONES[tone])
        lines.append(f"{final} {round(rng.uniform(150, 230) * rate)} {points}")
        # cn1 joins syllables through silence (its units are _-initial-final-_); mostly none long
        lines.append(f"_ {round(rng.uniform(30, 150)) if rng.random() < 0.2 else 0}")
    lines.append("_ 50")
    return "\n".join(lines) + "\n"


def find() -> tuple[Path, Path] | None:
    """(the mbrola program, the cn1 database), or None where they are not installed."""
    roots = [Path(os.environ["ASR_MBROLA_ROOT"])] if os.environ.get("ASR_MBROLA_ROOT") else []
    roots.append(Path(LOCAL_ROOT).resolve())
    for root in roots:
        if (root / "usr/bin/mbrola").is_file() and (root / DATABASE).is_file():
            return root / "usr/bin/mbrola", root / DATABASE
    system = shutil.which("mbrola")
    if system and (Path("/") / DATABASE).is_file():
        return Path(system), Path("/") / DATABASE
    return None


def missing() -> str | None:
    """Why cn1 cannot synthesize here, or None."""
    return None if find() else f"mbrola and its cn1 voice are not installed: {FETCH_HINT}"


def synthesize(text: str, seed: int, programs: tuple[Path, Path] | None = None) -> tuple[np.ndarray, int]:
    """`text` read by cn1 (the reading fixed by `seed`): mono float32, silence trimmed, with the
    database's sample rate (22.05 kHz)."""
    programs = programs or find()
    if programs is None:
        raise UserError(missing())
    binary, database = programs
    script = pho(text, np.random.default_rng(seed))
    with tempfile.TemporaryDirectory() as tmp:  # a wav on stdout has no length in its header
        out = Path(tmp) / "out.wav"
        done = subprocess.run([str(binary), str(database), "-", str(out)], input=script.encode(), capture_output=True)
        if done.returncode != 0 or not out.is_file():
            raise UserError(f"mbrola failed on {text!r}: {done.stderr.decode(errors='replace').strip()[:200]}")
        wave, sr = sf.read(str(out), dtype="float32")
    return trim(to_mono(wave)), sr
