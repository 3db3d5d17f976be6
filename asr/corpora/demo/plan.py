"""Planning the demo corpus: every utterance's text, voice, seed and path, decided without
synthesizing anything. Splits hold different sentences; dev and test voices are never trained on."""

from __future__ import annotations

import random
from pathlib import Path

from asr.corpora import ttskit_voice
from asr.corpora.demo.espeak import DEV_VOICES, TEST_VOICES, TRAIN_VOICES, random_voice_names
from asr.corpora.demo.grammar import other_orders, unique_sentences
from asr.corpora.demo.mix import DemoMix
from asr.corpora.demo.render import Job
from asr.corpora.demo.speakers import (
    DEV_HUMAN_VOICE,
    HELDOUT_GCIN_SPEAKER,
    MBROLA_VOICE,
    TRAIN_GCIN_SPEAKERS,
    TTS_PREFIX,
    WORLD_SUFFIX,
    human_voice,
)


class _TrainReaders:
    """Who reads a training sentence: a human voice (drawn from plan's main stream), else a ttskit
    speaker, else MBROLA, else the espeak-ng voice drawn. WORLD, ttskit and MBROLA draw from
    streams of their own, so switching one on leaves the other utterances as they were."""

    def __init__(self, human: bool, mix: DemoMix, seed: int):
        self.human, self.mix = human, mix
        self.world, self.tts, self.mbrola = random.Random(seed + 3), random.Random(seed + 5), random.Random(seed + 6)

    def pick(self, espeak_voice: str, rng: random.Random) -> str:
        mix = self.mix
        tts_read, tts_speaker = self.tts.random() < mix.tts_share, self.tts.choice(ttskit_voice.SPEAKERS)
        mbrola_read = self.mbrola.random() < mix.mbrola_share
        if self.human and rng.random() < mix.human_share:
            voice = "gcin" + rng.choice(TRAIN_GCIN_SPEAKERS)
            return voice + WORLD_SUFFIX if self.world.random() < mix.world_share else voice
        if tts_read:
            return TTS_PREFIX + tts_speaker
        return MBROLA_VOICE if mbrola_read else espeak_voice


def plan(
    out_dir: Path,
    sizes: dict[str, int],
    seed: int,
    human: bool,
    mix: DemoMix = DemoMix(),
    yanyu_dir: str | None = None,
) -> dict[str, list[Job]]:
    """Decide every utterance (text, voice, seed, path) of splits `sizes` ({"train": n, ...}),
    and add to each split a tenth more travel sentences in other orders (grammar.other_orders:
    destination first, an origin alone; test's are the 到Y从X probes), which leave the others as
    they were.

    With `human`, mix.human_share of train is read by gcin-voice speaker 3 (mix.world_share of
    those re-synthesized by WORLD), and a test_unheard split holds the test sentences read by the
    held-out speaker 5. With `yanyu_dir`, mix.dev_human_share of dev is read by yanyu's speaker
    instead of an espeak-ng voice. mix.random_voices random espeak-ng variants join the training
    voices (generate writes their files into out_dir/espeak)."""
    rng = random.Random(seed)
    pool = unique_sentences(sum(sizes.values()), rng)
    # Frequent short sentences (七点, 好棒) come up first in the pool: slicing it unshuffled would
    # hand all of them to the first split and none to the others.
    rng.shuffle(pool)
    readers = _TrainReaders(human, mix, seed)
    dev_human = random.Random(seed + 4)
    voices = {"train": TRAIN_VOICES + random_voice_names(mix.random_voices), "dev": DEV_VOICES, "test": TEST_VOICES}
    espeak_path = str((out_dir / "espeak").resolve()) if mix.random_voices else None
    jobs: dict[str, list[Job]] = {"test": [], "dev": [], "train": []}

    def add(split: str, text: str, rng: random.Random) -> None:
        voice = rng.choice(voices[split])
        voice = readers.pick(voice, rng) if split == "train" else voice
        if split == "dev" and yanyu_dir and dev_human.random() < mix.dev_human_share:
            voice = DEV_HUMAN_VOICE
        uid = f"{split}-{voice}-{len(jobs[split]):05d}"
        yanyu = yanyu_dir if human_voice(voice) == DEV_HUMAN_VOICE else None
        path = out_dir / "wav" / split / f"{uid}.wav"
        jobs[split].append(Job(uid, text, voice, rng.randrange(2**32), path, espeak_path, yanyu))

    start = 0
    for split in ("test", "dev", "train"):  # disjoint sentences: consecutive slices of one pool
        for text in pool[start : start + sizes[split]]:
            add(split, text, rng)
        start += sizes[split]
    # then the travel sentences in other orders, from streams of their own: the ones above stay
    more = random.Random(seed + 7)
    for split, texts in other_orders(sizes, set(pool), more).items():
        for text in texts:
            add(split, text, more)
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
