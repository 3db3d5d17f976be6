"""Who speaks in the demo corpus: voice names and the kinds of random speaker."""

from __future__ import annotations

# Speaker 3 is the only gcin-voice speaker training hears. Speaker 5 is the held-out human test:
# never in train or dev (and never tuned on); it reads the test sentences as the test_unheard split.
TRAIN_GCIN_SPEAKERS = ("3",)
HELDOUT_GCIN_SPEAKER = "5"
# yanyu's speaker reads a share of dev (when npm can fetch it): a human voice training never
# hears, so that dev sees what helps human voices.
DEV_HUMAN_VOICE = "yanyu"
# ttskit's speakers (asr.corpora.ttskit_voice) are named "tts" + speaker; MBROLA's cn1 "mbrola".
TTS_PREFIX = "tts"
MBROLA_VOICE = "mbrola"
# A human voice re-synthesized by WORLD as a random other speaker carries this suffix ("gcin3w").
WORLD_SUFFIX = "w"

# Random speakers, for espeak-ng variants and for WORLD re-synthesis of the human recordings:
# kind -> (share, F0 range in Hz, vocal-tract scale range: formants relative to an adult man's).
# Ranges follow typical speakers: F0 65-130 Hz (men), 150-240 Hz (women), 230-400 Hz (children),
# formants up to ~35% higher for the shorter vocal tracts.
SPEAKER_KINDS = {
    "male": (0.4, (65, 130), (0.82, 1.08)),
    "female": (0.4, (150, 240), (1.0, 1.25)),
    "child": (0.2, (230, 400), (1.15, 1.35)),
}


def human_voice(voice: str) -> str | None:
    """The voice of asr.corpora.syllables a job's voice reads with ("gcin3w" -> "gcin3", "yanyuw"
    -> "yanyu"), or None for a synthetic voice. Rendering and recordings() both ask it, so they
    cannot disagree."""
    return voice.removesuffix(WORLD_SUFFIX) if voice.startswith(("gcin", DEV_HUMAN_VOICE)) else None
