"""DemoMix: who reads the demo corpus. Imports nothing heavy, so the CLI reads its defaults."""

from __future__ import annotations

from dataclasses import dataclass, fields

from asr.errors import check_range

# The held-out human voice (gcin-voice speaker 5) reads only the test_unheard split and is never
# a share of anything here: it is not a setting.


@dataclass(frozen=True)
class DemoMix:
    """The voice shares of the demo corpus; each share draws from a random stream of its own, so
    changing one leaves the other utterances as they were.

    human_share:     share of training read by gcin-voice speaker 3's recorded syllables
    world_share:     of those, the share re-synthesized by WORLD as a random other speaker
    dev_human_share: share of dev read by npm's yanyu speaker, a human voice training never hears
    tts_share:       share of the training sentences no human reads that ttskit's speakers read
    mbrola_share:    share of the training sentences left that MBROLA's cn1 reads (make mbrola)
    random_voices:   random espeak-ng voice variants (pitch, formants, breath, tilt) added to training
    """

    human_share: float = 0.3
    world_share: float = 0.75
    dev_human_share: float = 0.5
    tts_share: float = 0.0
    mbrola_share: float = 0.0
    random_voices: int = 0

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name.endswith("_share"):
                check_range(f.name, getattr(self, f.name), "[0, 1]")
        why = "espeak-ng lists at most 349 voices"
        check_range("random_voices", self.random_voices, f"[0, {MAX_RANDOM_VOICES}]", whole=True, why=why)

    def describe(self, name: str) -> str:
        """The line of this class's docstring that explains field `name` (the CLI's help text)."""
        for line in (type(self).__doc__ or "").splitlines():
            key, _, text = line.strip().partition(":")
            if key == name:
                return text.strip()
        raise KeyError(name)


MAX_RANDOM_VOICES = 200  # espeak-ng lists at most 349 voices: Mandarin, its variants and these
