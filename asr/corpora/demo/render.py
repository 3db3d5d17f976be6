"""One demo utterance: a Job (text, voice, seed, path) rendered to a 16 kHz wav."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from asr.audio import SAMPLE_RATE
from asr.corpora.demo.speakers import human_voice
from asr.corpora.demo.voices import Speech, VoiceSource, source_for
from asr.corpora.syllables import syllable_path


@dataclass(frozen=True)
class Job:
    uid: str
    text: str
    voice: str  # espeak variant, a human voice of asr.corpora.syllables ("gcin3", "gcin5", "yanyu"), or "tts<speaker>"
    seed: int
    path: Path
    espeak_path: str | None = None  # a private espeak-ng data folder holding the random variants
    yanyu_dir: str | None = None  # yanyu's syllable recordings, for the human dev voice


def render(job: Job, source: VoiceSource | None = None) -> list[tuple[float, float]] | None:
    """Synthesize one utterance to a 16 kHz 16-bit wav with random level, padding and noise.
    `source` reads the text (default: the corpus's own source for the job's voice). Returns each
    character's (start, end) in seconds of the wav where the source knows them, else None."""
    rng = np.random.default_rng(job.seed)
    speech = (source or source_for(job.voice)).speak(job, rng)
    speech = speech if isinstance(speech, Speech) else Speech(speech)
    pad = lambda: np.zeros(int(rng.uniform(0.05, 0.4) * SAMPLE_RATE), np.float32)  # noqa: E731
    lead = pad()
    wave = np.concatenate([lead, speech.wave, pad()])
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
    shift = len(lead) / SAMPLE_RATE
    return [(start + shift, end + shift) for start, end in speech.spans] if speech.spans else None


def recordings(job: Job) -> list[Path]:
    """The human recordings `job` is made from, one per character (none for synthetic voices)."""
    human = human_voice(job.voice)
    return [syllable_path(human, ch, job.yanyu_dir) for ch in job.text] if human else []
