"""The demo corpus: small, deterministic, synthesized Mandarin for a laptop-sized first run.

Sentences (digit strings, years, dates, clock times, amounts, travel phrases, 好棒/好棒棒) come
from seeded templates; each split holds different sentences. Speech comes from espeak-ng's
`cmn-latn-pinyin` voice with many variants, speeds and pitches (dev and test use voices that
training never hears; `random_voices` adds random variant files of men, women and children to
training) and, when Debian's gcin-voice is installed, from human syllable recordings joined into
utterances: speaker 3 in training, speaker 5 only in the held-out test_unheard split. Half of
dev is read by another human, npm's yanyu speaker (fetched with npm; see asr.corpora.syllables),
whom training never hears. Optional training voices: ttskit's speakers (asr.corpora.ttskit_voice)
and MBROLA's cn1 (asr.corpora.mbrola_voice, opt-in). Level, silence and noise vary.
"""

from __future__ import annotations

import io
import random
import re
import shutil
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from asr.audio import SAMPLE_RATE, resample, to_mono
from asr.corpora import mbrola_voice, ttskit_voice
from asr.corpora.syllables import (
    GCIN_DIR,
    YANYU_FOLDER,
    fetch_yanyu,
    gcin_path,
    read_recording,
    read_syllable,
    syllable_path,
    tone_variants,
    yanyu_ready,
)
from asr.data import Utterance, write_data_dir, write_slots
from asr.errors import UserError

ESPEAK_VOICE = "cmn-latn-pinyin"  # plain "cmn" reads characters through the wrong dictionary
DIGITS = "零一二三四五六七八九"
CITIES = ["北京", "上海", "台北", "广州", "深圳"]
INVENTORY = "零一二三四五六七八九十百千年月日号点分半好棒我想在到从去北京上海台北广州深圳"

# espeak-ng voice variants per split: dev and test voices are never heard in training.
DEV_VOICES = ["m7", "f4", "Mike", "steph"]
TEST_VOICES = ["m3", "f2", "klatt2", "belinda", "david"]
TRAIN_VOICES = [
    "m1",
    "m2",
    "m4",
    "m5",
    "m6",
    "m8",
    "f1",
    "f3",
    "f5",
    "klatt",
    "klatt3",
    "klatt4",
    "klatt5",
    "klatt6",
    "Alex",
    "Andy",
    "Annie",
    "Denis",
    "Gene",
    "Hugo",
    "Jacky",
    "Lee",
    "Marco",
    "Michael",
    "adam",
    "anika",
    "announcer",
    "aunty",
    "benjamin",
    "boris",
    "caleb",
    "ed",
    "edward",
    "grandma",
    "grandpa",
    "iven",
    "iven3",
    "john",
    "linda",
    "max",
    "norbert",
    "paul",
    "quincy",
    "rob",
    "robert",
    "shelby",
    "steph2",
    "travis",
    "victor",
    "zac",
]

# Speaker 3 is the only gcin-voice speaker training hears. Speaker 5 is the held-out human test:
# never in train or dev (and never tuned on); it reads the test sentences as the test_unheard split.
TRAIN_GCIN_SPEAKERS = ("3",)
HELDOUT_GCIN_SPEAKER = "5"
# yanyu's speaker reads a share of dev (when npm can fetch it): a human voice training never
# hears, so that dev sees what helps human voices.
DEV_HUMAN_VOICE = "yanyu"
DEV_HUMAN_SHARE = 0.5
# ttskit's speakers (asr.corpora.ttskit_voice, when installed) read this share of the training
# sentences that no human voice reads; voice names "tts" + speaker.
TTS_PREFIX = "tts"
TTS_SHARE = 0.0
# MBROLA's cn1 (two human singers' diphones; opt-in, non-free: make mbrola) reads a share of the
# training sentences that no human and no ttskit speaker reads.
MBROLA_VOICE = "mbrola"
MBROLA_SHARE = 0.0


def cn_number(n: int) -> str:
    """0..9999 as read in Mandarin: 10 -> 十, 15 -> 十五, 305 -> 三百零五, 2026 -> 二千零二十六."""
    if not 0 <= n <= 9999:
        raise ValueError(n)
    if n == 0:
        return "零"
    if n < 20:
        return ("十" + (DIGITS[n - 10] if n > 10 else "")) if n >= 10 else DIGITS[n]
    out, zero = "", False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = n // value % 10
        if d:
            out += ("零" if zero else "") + DIGITS[d] + unit
            zero = False
        elif out:
            zero = True
    return out


def _digits(rng: random.Random, length: int, repeat: float = 0.3) -> str:
    s = rng.choice(DIGITS)
    while len(s) < length:
        s += s[-1] if rng.random() < repeat else rng.choice(DIGITS)
    return s


def _date(rng: random.Random) -> str:
    return f"{cn_number(rng.randint(1, 12))}月{cn_number(rng.randint(1, 31))}{rng.choice('日号')}"


def _time(rng: random.Random) -> str:
    hour = cn_number(rng.randint(1, 12)) + "点"
    minute = rng.randint(1, 59)
    return hour + rng.choice(["半", "", f"{cn_number(minute)}分" if minute >= 10 else f"零{DIGITS[minute]}分"])


def _travel(rng: random.Random) -> str:
    a, b = rng.sample(CITIES, 2)
    when = rng.choice([_date(rng), _time(rng), _date(rng) + _time(rng)])
    return rng.choice(
        [
            f"我想在{when}到{b}",
            f"从{a}去{b}",
            f"我想从{a}去{b}",
            f"我想{when}从{a}去{b}",
            f"{when}从{a}到{b}",
            f"我想去{b}",
            f"我在{a}",
            f"我想在{a}",
            f"{when}到{b}",
        ]
    )


def sentence(rng: random.Random) -> str:
    """One demo sentence drawn from the weighted templates."""
    kind = rng.choices(["digits", "year", "date", "time", "amount", "travel", "praise"], [24, 9, 12, 12, 8, 26, 9])[0]
    if kind == "digits":
        return _digits(rng, rng.randint(3, 11))
    if kind == "year":
        return rng.choice(["一九", "二零"]) + _digits(rng, 2) + "年"
    if kind == "date":
        return (rng.choice(["一九", "二零"]) + _digits(rng, 2) + "年" if rng.random() < 0.3 else "") + _date(rng)
    if kind == "time":
        return _time(rng)
    if kind == "amount":
        return cn_number(rng.randint(100, 9999))
    if kind == "travel":
        return _travel(rng)
    praise = rng.choice(["好棒", "好棒棒"])
    return rng.choice(
        [
            praise,
            praise,
            f"{rng.choice(CITIES)}{praise}",
            f"我想去{rng.choice(CITIES)}{praise}",
            f"{_time(rng)}{praise}",
        ]
    )


# Slot labels of the travel sentences: where from, where to, on which day, at what time. The
# demo's sentences follow the templates above, so a pattern over the text labels them exactly.
SLOTS = ("origin", "destination", "date", "time")
_NUM = "[零一二三四五六七八九十百千]+"
_CITY = "|".join(CITIES)
_SLOT_PATTERNS = [
    ("date", re.compile(f"(?:[{DIGITS}]{{4}}年)?{_NUM}月{_NUM}[日号]|[{DIGITS}]{{4}}年")),
    ("time", re.compile(f"{_NUM}点(?:半|{_NUM}分)?")),
    ("origin", re.compile(f"(?<=从)(?:{_CITY})|(?<=^我在)(?:{_CITY})")),
    # 我想在X alone: where the speaker wants to be (after 在, a time or date would follow instead)
    ("destination", re.compile(f"(?<=[到去])(?:{_CITY})|(?<=^我想在)(?:{_CITY})$")),
]


def travel_slots(text: str) -> list[str]:
    """One BIO slot tag per character of a demo sentence: 从上海去北京 -> B-origin I-origin O
    B-destination I-destination O... (the city after 从 is the origin, after 到/去 the
    destination; dates with or without a year; clock times; everything else O)."""
    tags = ["O"] * len(text)
    for slot, pattern in _SLOT_PATTERNS:
        for m in pattern.finditer(text):
            if any(t != "O" for t in tags[m.start() : m.end()]):
                continue  # a clock time's hour inside a date is not a second slot
            tags[m.start() : m.end()] = [f"B-{slot}"] + [f"I-{slot}"] * (m.end() - m.start() - 1)
    return tags


@dataclass(frozen=True)
class Job:
    uid: str
    text: str
    voice: str  # espeak variant, a human voice of asr.corpora.syllables ("gcin3", "gcin5", "yanyu"), or "tts<speaker>"
    seed: int
    path: Path
    espeak_path: str | None = None  # a private espeak-ng data folder holding the random variants
    yanyu_dir: str | None = None  # yanyu's syllable recordings, for the human dev voice
    world_jitter: float = 0.0  # articulation jitter of a WORLD re-synthesized voice (world_resynthesize)
    # per character, the gcin-voice folder it is read from when not its own ("": its own; tone_share)
    folders: tuple[str, ...] = ()


# Random speakers, for espeak-ng variants and for WORLD re-synthesis of the human recordings:
# kind -> (share, F0 range in Hz, vocal-tract scale range: formants relative to an adult man's).
# Ranges follow typical speakers: F0 65-130 Hz (men), 150-240 Hz (women), 230-400 Hz (children),
# formants up to ~35% higher for the shorter vocal tracts.
SPEAKER_KINDS = {
    "male": (0.4, (65, 130), (0.82, 1.08)),
    "female": (0.4, (150, 240), (1.0, 1.25)),
    "child": (0.2, (230, 400), (1.15, 1.35)),
}


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


MAX_RANDOM_VOICES = 200  # espeak-ng lists at most 349 voices: Mandarin, its variants and these


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


def _espeak(text: str, variant: str, rng: np.random.Generator, espeak_path: str | None = None) -> np.ndarray:
    cmd = [
        "espeak-ng",
        *([f"--path={espeak_path}"] if espeak_path else []),
        "--stdout",
        "-v",
        f"{ESPEAK_VOICE}+{variant}",
        "-s",
        str(int(rng.integers(125, 200))),
        "-p",
        str(int(rng.integers(25, 80))),
        "-g",
        str(int(rng.integers(0, 4))),
        text,
    ]
    out = subprocess.run(cmd, check=True, capture_output=True).stdout
    wave, sr = sf.read(io.BytesIO(out), dtype="float32")
    return resample(to_mono(wave), sr)


# The share of training read by the human voice, and of that, the share re-synthesized as random
# other speakers.
HUMAN_SHARE = 0.3
WORLD_SHARE = 0.75
WORLD_FRAME_MS = 5.0
# Speed perturbation of the recorded and ttskit voices: resampling by a random rate changes tempo
# and pitch together.
HUMAN_RATES = (0.9, 1.15)
_world_cache: dict[tuple[str, str, str | None, str], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _per_character(folders: tuple[str, ...], text: str) -> tuple[str, ...]:
    """Job.folders with an entry for each character of `text` ("": the character's own recording)."""
    return folders or ("",) * len(text)


def _syllable(voice: str, ch: str, yanyu_dir: str | None = None, folder: str = "") -> tuple[np.ndarray, int]:
    """`ch` read by `voice` (read_syllable), or with `folder`, gcin-voice's recording of that syllable."""
    return read_recording(gcin_path(voice, folder)) if folder else read_syllable(voice, ch, yanyu_dir)


def _world_analysis(
    voice: str, ch: str, yanyu_dir: str | None = None, folder: str = ""
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """WORLD's F0 contour, spectral envelope and aperiodicity of one syllable (cached per process)."""
    key = (voice, ch, yanyu_dir, folder)
    if key not in _world_cache:
        pw = import_pyworld()
        x = resample(*_syllable(voice, ch, yanyu_dir, folder)).astype(np.float64)
        f0, t = pw.dio(x, SAMPLE_RATE, f0_floor=50.0, f0_ceil=500.0, frame_period=WORLD_FRAME_MS)
        f0 = pw.stonemask(x, f0, t, SAMPLE_RATE)
        _world_cache[key] = (f0, pw.cheaptrick(x, f0, t, SAMPLE_RATE), pw.d4c(x, f0, t, SAMPLE_RATE))
    return _world_cache[key]


def import_pyworld():
    """pyworld, or a one-line error saying how to install it."""
    import warnings

    try:
        with warnings.catch_warnings():  # pyworld 0.3.5 imports the deprecated pkg_resources
            warnings.simplefilter("ignore")
            import pyworld
    except ImportError as e:
        raise UserError(f"WORLD re-synthesis of the human voice needs pyworld ({e}): pip install 'asr[demo]'") from e
    return pyworld


# Articulation jitter of the re-synthesized syllables: the spectral envelope's bands (edges in Hz)
# each stretched by its own random factor, so formants move apart and together as between speakers'
# vowels, not only all together; and each syllable's duration scaled on its own.
JITTER_BANDS_HZ = (0.0, 400.0, 1000.0, 1800.0, 2800.0, 4000.0, 8000.0)
WORLD_JITTER = 0.12  # band stretch factors within exp(+-0.12) (bench/heldout_voice.py; off by default)
WORLD_TEMPO = (0.8, 1.25)  # each syllable's length scaled within this (pitch kept)


def _band_warp(bins: int, tract: float, band_logs: np.ndarray | None) -> np.ndarray:
    """For each of `bins` envelope bins (0 to Nyquist), the source bin it takes its value from:
    frequencies scaled by `tract`, each band of JITTER_BANDS_HZ further by exp(its entry of
    `band_logs`) (None: no jitter). The map is monotonic; past the source's top it holds the top."""
    edges = np.array(JITTER_BANDS_HZ) / JITTER_BANDS_HZ[-1] * (bins - 1)
    slopes = tract * (np.exp(band_logs) if band_logs is not None else np.ones(edges.size - 1))
    targets = np.concatenate([[0.0], np.cumsum(np.diff(edges) * slopes)])
    out = np.arange(bins, dtype=np.float64)
    src = np.interp(out, targets, edges)
    beyond = out > targets[-1]  # above the stretched top: the source's top band, scaled as the last band
    src[beyond] = edges[-1] + (out[beyond] - targets[-1]) / slopes[-1]
    return np.minimum(src, bins - 1)


def _warp_envelope(env: np.ndarray, scale: float, band_logs: np.ndarray | None = None) -> np.ndarray:
    """Move a (frames, bins) spectral envelope's features up in frequency by `scale`: env'(f) = env(f / scale)
    (with `band_logs`, each band of JITTER_BANDS_HZ by its own factor: _band_warp)."""
    src = _band_warp(env.shape[1], scale, band_logs)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, env.shape[1] - 1)
    frac = src - lo
    return np.ascontiguousarray(env[:, lo] * (1 - frac) + env[:, hi] * frac)


def world_resynthesize(
    text: str,
    voice: str,
    f0_median: float,
    tract: float,
    f0_spread: float = 1.0,
    rng: np.random.Generator | None = None,
    jitter: float = 0.0,
    yanyu_dir: str | None = None,
    folders: tuple[str, ...] = (),
) -> list[tuple[np.ndarray, int]]:
    """The syllables of `text` read by `voice`, re-synthesized by WORLD as another speaker:
    the F0 contour moved to median `f0_median` Hz (tone shapes kept, their range in log F0 scaled
    by `f0_spread`) and the spectral envelope stretched by the vocal-tract scale `tract`
    (formants x `tract`). With `rng` and `jitter`, each syllable also gets articulation jitter:
    its envelope bands stretched by factors within exp(+-jitter) and its length scaled within
    WORLD_TEMPO. `folders`: per character, the gcin-voice recording read instead of its own ("": its
    own). Returns (wave, sample rate) per syllable (each as long as its source without jitter)."""
    pw = import_pyworld()
    frames = [_world_analysis(voice, ch, yanyu_dir, folder) for ch, folder in zip(text, _per_character(folders, text))]
    voiced = np.concatenate([f0[f0 > 0] for f0, _, _ in frames])
    median = float(np.median(voiced)) if voiced.size else f0_median
    out = []
    for f0, sp, ap in frames:
        new_f0 = np.where(f0 > 0, f0_median * (np.maximum(f0, 1.0) / median) ** f0_spread, 0.0)
        bands, period = None, WORLD_FRAME_MS
        if rng is not None and jitter > 0:
            bands = rng.uniform(-jitter, jitter, len(JITTER_BANDS_HZ) - 1)
            period = WORLD_FRAME_MS * rng.uniform(*WORLD_TEMPO)
        y = pw.synthesize(
            new_f0, _warp_envelope(sp, tract, bands), _warp_envelope(ap, tract, bands), SAMPLE_RATE, period
        )
        out.append((y.astype(np.float32), SAMPLE_RATE))
    return out


def _world_voice(
    text: str, voice: str, rng: np.random.Generator, jitter: float, yanyu_dir: str | None, folders: tuple[str, ...]
) -> list[tuple[np.ndarray, int]]:
    """world_resynthesize as a random speaker of SPEAKER_KINDS (tone range scaled by 0.8-1.25),
    with articulation `jitter`."""
    shares = np.array([w for w, _, _ in SPEAKER_KINDS.values()])
    _, f0_range, tract_range = list(SPEAKER_KINDS.values())[rng.choice(len(shares), p=shares / shares.sum())]
    return world_resynthesize(
        text,
        voice,
        rng.uniform(*f0_range),
        rng.uniform(*tract_range),
        rng.uniform(0.8, 1.25),
        rng,
        jitter,
        yanyu_dir,
        folders,
    )


def _human(
    text: str,
    voice: str,
    rng: np.random.Generator,
    world: bool = False,
    yanyu_dir: str | None = None,
    jitter: float = 0.0,
    folders: tuple[str, ...] = (),
) -> np.ndarray:
    """`text` read syllable by syllable by a human `voice` of asr.corpora.syllables, at a random
    rate with random short pauses (with `world`: re-synthesized as a random other speaker, with
    articulation `jitter`; `folders`: Job.folders)."""
    rate = rng.uniform(*HUMAN_RATES)
    folders = _per_character(folders, text)
    syllables = (
        _world_voice(text, voice, rng, jitter, yanyu_dir, folders)
        if world
        else [_syllable(voice, ch, yanyu_dir, folder) for ch, folder in zip(text, folders)]
    )
    parts = []
    for wave, sr in syllables:
        parts += [
            resample(wave, round(sr * rate)),
            np.zeros(int(rng.uniform(0.01, 0.12) * SAMPLE_RATE), np.float32),
        ]
    return np.concatenate(parts)


def _human_voice(voice: str) -> str | None:
    """The voice of asr.corpora.syllables a job's voice reads with ("gcin3w" -> "gcin3", "yanyuw"
    -> "yanyu"), or None for an espeak-ng voice. render and recordings both ask it, so they cannot
    disagree."""
    return voice.rstrip("w") if voice.startswith(("gcin", DEV_HUMAN_VOICE)) else None


def render(job: Job) -> None:
    """Synthesize one utterance to a 16 kHz 16-bit wav with random level, padding and noise."""
    rng = np.random.default_rng(job.seed)
    human = _human_voice(job.voice)
    if human:  # gcin3w: speaker 3 re-synthesized as another speaker
        wave = _human(job.text, human, rng, job.voice.endswith("w"), job.yanyu_dir, job.world_jitter, job.folders)
    elif job.voice.startswith(TTS_PREFIX):
        import torch

        torch.set_num_threads(1)  # render runs in one synthesis process per core
        wave, sr = ttskit_voice.synthesize(job.text, job.voice.removeprefix(TTS_PREFIX), job.seed % 2**31)
        wave = resample(wave, round(sr * rng.uniform(*HUMAN_RATES)))
    elif job.voice == MBROLA_VOICE:  # its speaking rate is drawn in the .pho script
        wave, sr = mbrola_voice.synthesize(job.text, job.seed % 2**31)
        wave = resample(wave, sr)
    else:
        wave = _espeak(job.text, job.voice, rng, job.espeak_path)
    pad = lambda: np.zeros(int(rng.uniform(0.05, 0.4) * SAMPLE_RATE), np.float32)  # noqa: E731
    wave = np.concatenate([pad(), wave, pad()])
    wave = wave / (np.abs(wave).max() + 1e-9) * rng.uniform(0.05, 0.9)
    if rng.random() < 0.6:
        snr_db = rng.uniform(12, 40)
        noise = rng.standard_normal(wave.shape[0]).astype(np.float32)
        if rng.random() < 0.5:  # brown-ish noise: low-frequency rumble instead of hiss
            noise = np.cumsum(noise)
            noise -= np.convolve(noise, np.ones(400) / 400, mode="same")
        signal_power = np.mean(wave**2)
        wave = wave + noise * np.sqrt(signal_power / (np.mean(noise**2) + 1e-12) / 10 ** (snr_db / 10))
    job.path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(job.path), np.clip(wave, -1, 1), SAMPLE_RATE, subtype="PCM_16")


def recordings(job: Job) -> list[Path]:
    """The human recordings `job` is made from, one per character (none for espeak-ng voices)."""
    human = _human_voice(job.voice)
    if not human:
        return []
    folders = _per_character(job.folders, job.text)
    return [gcin_path(human, f) if f else syllable_path(human, ch, job.yanyu_dir) for ch, f in zip(job.text, folders)]


def _check_training_voices(gcin_speakers: tuple[str, ...], yanyu_share: float, dev_human_share: float) -> None:
    if HELDOUT_GCIN_SPEAKER in gcin_speakers:
        raise UserError(f"gcin-voice speaker {HELDOUT_GCIN_SPEAKER} is the held-out human test: not a training voice")
    if yanyu_share > 0 and dev_human_share > 0:
        raise UserError("yanyu's speaker reads dev (dev_human_share): it cannot also be a training voice")


def unique_sentences(n: int, rng: random.Random) -> list[str]:
    seen: dict[str, None] = {}
    while len(seen) < n:
        seen.setdefault(sentence(rng), None)
    return list(seen)


class _TrainReaders:
    """Who reads a training sentence: a human voice (drawn from plan's main stream, as always),
    else a ttskit speaker, else MBROLA, else the espeak-ng voice drawn; WORLD, ttskit and MBROLA
    draw from streams of their own, so switching one on leaves the other utterances as they were."""

    def __init__(self, human, gcin_speakers, shares: dict[str, float], seed: int):
        """`shares`: plan's human_share, world_share, tts_share, mbrola_share, yanyu_share, tone_share."""
        self.human, self.gcin_speakers, self.shares = human, gcin_speakers, shares
        self.world, self.tts, self.mbrola = random.Random(seed + 3), random.Random(seed + 5), random.Random(seed + 6)
        self.yanyu, self.tones = random.Random(seed + 7), random.Random(seed + 8)

    def pick(self, espeak_voice: str, rng: random.Random, text: str) -> tuple[str, tuple[str, ...]]:
        """The voice that reads training sentence `text`, and its Job.folders (other_tones)."""
        voice = self._voice(espeak_voice, rng)
        return voice, self.other_tones(text, voice)

    def _voice(self, espeak_voice: str, rng: random.Random) -> str:
        shares = self.shares
        tts_read, tts_speaker = self.tts.random() < shares["tts_share"], self.tts.choice(ttskit_voice.SPEAKERS)
        mbrola_read = self.mbrola.random() < shares["mbrola_share"]
        if self.human and rng.random() < shares["human_share"]:
            voice = "gcin" + rng.choice(self.gcin_speakers)
            if self.yanyu.random() < shares["yanyu_share"]:
                voice = DEV_HUMAN_VOICE
            return voice + "w" if self.world.random() < shares["world_share"] else voice
        if tts_read:
            return TTS_PREFIX + tts_speaker
        return MBROLA_VOICE if mbrola_read else espeak_voice

    def other_tones(self, text: str, voice: str) -> tuple[str, ...]:
        """Job.folders of a training utterance: for a gcin-voice reader, each character read from
        one of its syllable's other tones with probability tone_share (where gcin-voice has one)."""
        human, share = _human_voice(voice), self.shares["tone_share"]
        if share <= 0 or not human or not human.startswith("gcin"):
            return ()
        folders = []
        for ch in text:
            variants = tone_variants(human, ch)
            folders.append(self.tones.choice(variants) if variants and self.tones.random() < share else "")
        return tuple(folders) if any(folders) else ()


def plan(
    out_dir: Path,
    sizes: dict[str, int],
    seed: int,
    human: bool,
    gcin_speakers: tuple[str, ...] = TRAIN_GCIN_SPEAKERS,
    random_voices: int = 0,
    human_share: float = HUMAN_SHARE,
    world_share: float = WORLD_SHARE,
    yanyu_dir: str | None = None,
    dev_human_share: float = DEV_HUMAN_SHARE,
    tts_share: float = TTS_SHARE,
    mbrola_share: float = MBROLA_SHARE,
    world_jitter: float = 0.0,
    yanyu_share: float = 0.0,
    tone_share: float = 0.0,
) -> dict[str, list[Job]]:
    """Decide every utterance (text, voice, seed, path) without synthesizing anything.

    With `human`, `human_share` of train is read by the `gcin_speakers` (of those, `world_share`
    re-synthesized as random other speakers), and a test_unheard split holds the test sentences
    read by the held-out speaker. With `yanyu_dir`, `dev_human_share` of dev is read by yanyu's
    speaker instead of an espeak-ng voice. `tts_share` of the other training sentences are read
    by ttskit's speakers, `mbrola_share` of those left by MBROLA's cn1; WORLD re-synthesizes with
    articulation jitter `world_jitter`; `yanyu_share` of the human training utterances are read by
    yanyu's speaker (who then reads no dev); `tone_share`: _TrainReaders.other_tones. Each draws
    from a stream of its own, so the other utterances do not depend on them. `random_voices` random
    espeak-ng variants join the training voices (their files are written by `generate`)."""
    _check_training_voices(gcin_speakers, yanyu_share, dev_human_share)
    rng = random.Random(seed)
    pool = unique_sentences(sum(sizes.values()), rng)
    # Frequent short sentences (七点, 好棒) come up first in the pool: slicing it unshuffled would
    # hand all of them to the first split and none to the others.
    rng.shuffle(pool)
    shares = dict(human_share=human_share, world_share=world_share, tts_share=tts_share, mbrola_share=mbrola_share)
    shares.update(yanyu_share=yanyu_share if yanyu_dir else 0.0, tone_share=tone_share)
    readers = _TrainReaders(human, gcin_speakers, shares, seed)
    dev_human = random.Random(seed + 4)
    voices = {"train": TRAIN_VOICES + random_voice_names(random_voices), "dev": DEV_VOICES, "test": TEST_VOICES}
    espeak_path = str((out_dir / "espeak").resolve()) if random_voices else None
    jobs: dict[str, list[Job]] = {}
    start = 0
    for split in ("test", "dev", "train"):  # disjoint sentences: consecutive slices of one pool
        texts = pool[start : start + sizes[split]]
        start += sizes[split]
        jobs[split] = []
        for i, text in enumerate(texts):
            voice = rng.choice(voices[split])
            voice, folders = readers.pick(voice, rng, text) if split == "train" else (voice, ())
            if split == "dev" and yanyu_dir and dev_human.random() < dev_human_share:
                voice = DEV_HUMAN_VOICE
            uid = f"{split}-{voice}-{i:05d}"
            path = out_dir / "wav" / split / f"{uid}.wav"
            yanyu = yanyu_dir if _human_voice(voice) == DEV_HUMAN_VOICE else None
            jobs[split].append(
                Job(uid, text, voice, rng.randrange(2**32), path, espeak_path, yanyu, world_jitter, folders)
            )
    if human:
        jobs["test_unheard"] = _unheard(out_dir, jobs["test"], random.Random(seed + 1))
    return jobs


def _unheard(out_dir: Path, test: list[Job], rng: random.Random) -> list[Job]:
    """The test sentences read by the held-out human speaker."""
    voice = "gcin" + HELDOUT_GCIN_SPEAKER
    return [
        Job(
            f"test_unheard-{voice}-{i:05d}",
            j.text,
            voice,
            rng.randrange(2**32),
            out_dir / "wav" / "test_unheard" / f"test_unheard-{voice}-{i:05d}.wav",
        )
        for i, j in enumerate(test)
    ]


def _yanyu_voice(out_dir: Path, share: float, yanyu_dir: str | Path | None, notice) -> str | None:
    """yanyu's recordings folder (the human dev voice, or a training voice; fetched when not
    given), or None when it is not wanted or cannot be had (`notice` says why)."""
    if share > 0 and yanyu_dir is None:
        try:
            yanyu_dir = fetch_yanyu(out_dir / "sources")
        except UserError as e:
            notice(f"left out yanyu (a human voice: dev is espeak-ng voices only, training gcin-voice): {e}")
    elif yanyu_dir is not None and not yanyu_ready(Path(yanyu_dir)):
        raise UserError(f"{yanyu_dir}: not yanyu's {YANYU_FOLDER} folder (its <pinyin><tone>.mp3 files are missing)")
    return str(Path(yanyu_dir).resolve()) if yanyu_dir and share > 0 else None


def _training_sources(world_share: float, tts_share: float, mbrola_share: float, notice) -> dict[str, float]:
    """The WORLD, ttskit and MBROLA shares, each 0 where its package is missing (`notice` says so)."""
    if world_share > 0:
        try:
            import_pyworld()
        except UserError as e:
            notice(f"left out WORLD re-synthesis (the human training voice is read as it is): {e}")
            world_share = 0.0
    if tts_share > 0 and (why := ttskit_voice.missing()):
        notice(f"left out ttskit (training voices; train is espeak-ng and gcin-voice only): {why}")
        tts_share = 0.0
    if mbrola_share > 0 and (why := mbrola_voice.missing()):
        notice(f"left out MBROLA cn1 (a training voice): {why}")
        mbrola_share = 0.0
    return {"world_share": world_share, "tts_share": tts_share, "mbrola_share": mbrola_share}


def generate(
    out_dir: str | Path,
    train: int = 2400,
    dev: int = 300,
    test: int = 200,
    seed: int = 2026,
    workers: int = 2,
    human: bool | None = None,
    progress=None,
    gcin_speakers: tuple[str, ...] = TRAIN_GCIN_SPEAKERS,
    random_voices: int = 0,
    human_share: float = HUMAN_SHARE,
    world_share: float = WORLD_SHARE,
    dev_human_share: float = DEV_HUMAN_SHARE,
    yanyu_dir: str | Path | None = None,
    notice=None,
    tts_share: float = TTS_SHARE,
    mbrola_share: float = MBROLA_SHARE,
    world_jitter: float = 0.0,
    yanyu_share: float = 0.0,
    tone_share: float = 0.0,
) -> dict[str, int]:
    """Write the demo corpus as data dirs out_dir/{train,dev,test} (and test_unheard, the test
    sentences read by the held-out human speaker, when gcin-voice is installed); returns utterances
    per split. `gcin_speakers` train; `random_voices` random espeak-ng variants join training. With
    `dev_human_share`, that share of dev is read by yanyu's speaker: its recordings from
    `yanyu_dir`, else fetched with npm into out_dir/sources. With `tts_share`, that share of the
    training sentences no human reads are read by ttskit's speakers; with `mbrola_share`, that share
    of the ones left by MBROLA's cn1 (make mbrola); `world_jitter`: WORLD's articulation jitter
    (world_resynthesize); `yanyu_share`, `tone_share`: as in `plan`. A source that cannot be had
    is left out, `notice` (default: stderr) told in one line."""
    if shutil.which("espeak-ng") is None:
        raise UserError(
            "espeak-ng not found: install it (Debian/Ubuntu: apt-get install espeak-ng; macOS: brew install espeak-ng)"
        )
    notice = notice or (lambda line: print(line, file=sys.stderr))
    out_dir = Path(out_dir)
    if human is None:
        human = GCIN_DIR.is_dir()
        if not human:
            notice("left out gcin-voice (human training voice, held-out test_unheard): apt-get install gcin-voice")
    yanyu = _yanyu_voice(out_dir, max(dev_human_share, yanyu_share), yanyu_dir, notice)
    shares = _training_sources(world_share if human else 0.0, tts_share, mbrola_share, notice)
    shares.update(human_share=human_share, dev_human_share=dev_human_share)
    shares.update(yanyu_share=yanyu_share, world_jitter=world_jitter, tone_share=tone_share)
    sizes = {"train": train, "dev": dev, "test": test}
    jobs = plan(out_dir, sizes, seed, human, gcin_speakers, random_voices, yanyu_dir=yanyu, **shares)
    if random_voices:
        write_random_variants(out_dir / "espeak", random_voice_names(random_voices), seed + 2)
    todo = [j for split in jobs.values() for j in split]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for n, _ in enumerate(pool.map(render, todo, chunksize=16), 1):
            if progress:
                progress(n, len(todo))
    for split, split_jobs in jobs.items():
        # wav.scp paths are relative to the data dir, so the corpus folder can be moved
        utts = [Utterance(j.uid, Path("..") / j.path.relative_to(out_dir), j.text) for j in split_jobs]
        write_data_dir(out_dir / split, utts, {j.uid: j.voice for j in split_jobs})
        write_slots(out_dir / split, {j.uid: travel_slots(j.text) for j in split_jobs})
    return {split: len(v) for split, v in jobs.items()}
