"""Voice sources: what reads a demo utterance aloud. Each source turns a Job's text into speech;
`source_for` picks the corpus's own by voice name, and an experiment passes its own to render()."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from asr.audio import SAMPLE_RATE, resample
from asr.corpora import mbrola_voice, ttskit_voice
from asr.corpora.demo import espeak, world
from asr.corpora.demo.speakers import MBROLA_VOICE, TTS_PREFIX, WORLD_SUFFIX, human_voice
from asr.corpora.syllables import read_syllable

if TYPE_CHECKING:
    from asr.corpora.demo.render import Job

# Speed perturbation of the recorded and ttskit voices: resampling by a random rate changes tempo
# and pitch together.
HUMAN_RATES = (0.9, 1.15)


@dataclass(frozen=True)
class Speech:
    """A source's reading with where each character of the text is spoken: (start, end) in
    seconds of `wave`, one pair per character (None: not known)."""

    wave: np.ndarray
    spans: list[tuple[float, float]] | None = None


class VoiceSource(Protocol):
    def speak(self, job: Job, rng: np.random.Generator) -> np.ndarray | Speech:
        """`job.text` read aloud: mono float32 at 16 kHz, before render() sets its level, pads it
        and adds noise, as a Speech where the source knows each character's time. Every random
        choice comes from `rng` (seeded by the job)."""
        ...


class Espeak:
    """espeak-ng's Mandarin voice with the job's variant (espeak.synthesize)."""

    def speak(self, job: Job, rng: np.random.Generator) -> Speech:
        return Speech(*espeak.synthesize_timed(job.text, job.voice, rng, job.espeak_path))


class HumanRecordings:
    """A human voice of asr.corpora.syllables read syllable by syllable at a random rate with short
    random pauses; with `world`, re-synthesized as a random other speaker (world.random_speaker)."""

    def __init__(self, world: bool = False):
        self.world = world

    def syllables(self, job: Job, rng: np.random.Generator) -> list[tuple[np.ndarray, int]]:
        """(wave, sample rate) of each character of the job's text, as this voice reads it."""
        voice = human_voice(job.voice)
        assert voice, job.voice
        if self.world:
            return world.random_speaker(job.text, voice, rng, job.yanyu_dir)
        return [read_syllable(voice, ch, job.yanyu_dir) for ch in job.text]

    def speak(self, job: Job, rng: np.random.Generator) -> Speech:
        """The syllables joined; each character's span is its recording's (trimmed at 2% of its
        peak, 9 ms kept either side: asr.corpora.syllables.trim), exact to the sample."""
        rate = rng.uniform(*HUMAN_RATES)
        parts, spans, at = [], [], 0
        for wave, sr in self.syllables(job, rng):
            syllable = resample(wave, round(sr * rate))
            parts += [syllable, np.zeros(int(rng.uniform(0.01, 0.12) * SAMPLE_RATE), np.float32)]
            spans.append((at / SAMPLE_RATE, (at + len(syllable)) / SAMPLE_RATE))
            at += len(syllable) + len(parts[-1])
        return Speech(np.concatenate(parts), spans)


class Ttskit:
    """One of ttskit's multi-speaker Mandarin voices ("tts" + speaker), speed-perturbed."""

    def speak(self, job: Job, rng: np.random.Generator) -> np.ndarray:
        import torch

        torch.set_num_threads(1)  # rendering runs one synthesis process per core
        wave, sr = ttskit_voice.synthesize(job.text, job.voice.removeprefix(TTS_PREFIX), job.seed % 2**31)
        return resample(wave, round(sr * rng.uniform(*HUMAN_RATES)))


class Mbrola:
    """MBROLA's cn1 diphone voice; its speaking rate is drawn in the .pho script."""

    def speak(self, job: Job, rng: np.random.Generator) -> np.ndarray:
        wave, sr = mbrola_voice.synthesize(job.text, job.seed % 2**31)
        return resample(wave, sr)


def source_for(voice: str) -> VoiceSource:
    """The corpus's own source for a job's voice name ("gcin3", "gcin3w", "yanyu", "tts<speaker>",
    "mbrola", else an espeak-ng variant)."""
    if human_voice(voice):
        return HumanRecordings(world=voice.endswith(WORLD_SUFFIX))
    if voice.startswith(TTS_PREFIX):
        return Ttskit()
    if voice == MBROLA_VOICE:
        return Mbrola()
    return Espeak()
