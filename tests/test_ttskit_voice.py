"""ttskit's speakers as demo training voices: which utterances they read (never the held-out
speaker, never outside train, the rest of the corpus unchanged), their audio converted like every
other source's, and a missing install left out with one line."""

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asr.corpora import ttskit_voice
from asr.corpora.demo.generate import generate
from asr.corpora.demo.mix import DemoMix
from asr.corpora.demo.plan import plan
from asr.corpora.demo.speakers import TTS_PREFIX
from asr.datadir import read_data_dir

SIZES = {"train": 400, "dev": 30, "test": 20}


def test_ttskit_speakers_read_a_share_of_train_only():
    plain = plan(Path("/nowhere"), SIZES, 3, True, DemoMix(tts_share=0))
    jobs = plan(Path("/nowhere"), SIZES, 3, True, DemoMix(tts_share=0.3))
    tts = [j for j in jobs["train"] if j.voice.startswith(TTS_PREFIX)]
    speakers = Counter(j.voice.removeprefix(TTS_PREFIX) for j in tts)
    assert 0.15 < len(tts) / len(jobs["train"]) < 0.35  # 30% of the 70% no human reads
    assert set(speakers) <= set(ttskit_voice.SPEAKERS) and len(speakers) > 15
    assert ttskit_voice.HELDOUT_SPEAKER not in ttskit_voice.SPEAKERS
    for split in ("dev", "test", "test_unheard"):
        assert jobs[split] == plain[split]
    # each training sentence keeps its text, seed and human voice; only espeak-ng readings move
    for a, b in zip(plain["train"], jobs["train"]):
        assert (a.text, a.seed) == (b.text, b.seed)
        assert a.voice == b.voice or (b.voice.startswith(TTS_PREFIX) and not a.voice.startswith("gcin"))


def test_the_held_out_speaker_is_refused():
    with pytest.raises(ValueError, match="not a ttskit training voice"):
        ttskit_voice.synthesize("七点", ttskit_voice.HELDOUT_SPEAKER, seed=0)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (make setup installs it)")
def test_a_missing_ttskit_is_left_out_with_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(ttskit_voice, "missing", lambda: "ttskit, aukit not installed (make setup)")
    said = []
    counts = generate(tmp_path, 6, 2, 2, 1, DemoMix(dev_human_share=0, tts_share=1.0), human=False, notice=said.append)
    assert counts == {"test": 2, "dev": 2, "train": 6}
    assert said == [
        "left out ttskit (training voices; train is espeak-ng and gcin-voice only): ttskit, aukit not installed (make setup)"
    ]
    assert not any(TTS_PREFIX + s in u.id for u in read_data_dir(tmp_path / "train") for s in ttskit_voice.SPEAKERS)


@pytest.mark.skipif(ttskit_voice.missing() is not None, reason="needs ttskit (make setup)")
def test_ttskit_speech_converts_alike_and_is_reproducible():
    a, sr = ttskit_voice.synthesize("二月十四号", "Aibao", seed=5)
    assert sr == 22050 and a.dtype == np.float32 and a.ndim == 1
    assert 0.6 < len(a) / sr < 4.0  # five syllables, read
    peak = np.abs(a).max()  # trimmed: sound within the first and last 30 ms
    assert np.abs(a[: int(0.03 * sr)]).max() > 0.02 * peak and np.abs(a[-int(0.03 * sr) :]).max() > 0.02 * peak
    again, _ = ttskit_voice.synthesize("二月十四号", "Aibao", seed=5)
    assert np.array_equal(a, again)  # the seed fixes Mellotron's prenet dropout
    other, _ = ttskit_voice.synthesize("二月十四号", "Xiaogang", seed=5)
    assert not (len(other) == len(a) and np.allclose(other, a))


@pytest.mark.skipif(ttskit_voice.missing() is not None, reason="needs ttskit (make setup)")
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (make setup installs it)")
def test_ttskit_utterances_in_the_corpus(tmp_path):
    generate(tmp_path, 6, 2, 2, 1, DemoMix(dev_human_share=0, tts_share=1.0), human=False, workers=1)
    train = read_data_dir(tmp_path / "train")
    assert all(u.id.split("-")[1].removeprefix(TTS_PREFIX) in ttskit_voice.SPEAKERS for u in train)
    for u in train:  # 16 kHz mono, as long as a reading of the sentence
        wave, sr = sf.read(str(u.path))
        assert sr == 16000 and wave.ndim == 1 and len(wave) / sr > 0.15 * len(u.text)
