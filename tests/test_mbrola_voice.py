"""MBROLA's cn1 as an opt-in demo training voice: pinyin to cn1's units, tones as pitch
contours, which utterances it reads (train only, the rest of the corpus unchanged), its audio
converted like every other source's, and a missing install left out with one line."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asr.corpora import mbrola_voice
from asr.corpora.demo.espeak import TRAIN_VOICES
from asr.corpora.demo.generate import generate
from asr.corpora.demo.mix import DemoMix
from asr.corpora.demo.plan import plan
from asr.corpora.demo.speakers import MBROLA_VOICE
from asr.corpora.syllables import PINYIN
from asr.datadir import read_data_dir
from asr.errors import UserError

SIZES = {"train": 400, "dev": 30, "test": 20}
needs_mbrola = pytest.mark.skipif(mbrola_voice.missing() is not None, reason="needs mbrola and cn1 (make mbrola)")


def test_every_syllable_of_the_inventory_has_cn1_units():
    for syllable in PINYIN.values():
        initial, final = mbrola_voice.split_syllable(syllable[:-1])
        assert final in mbrola_voice.FINALS and (initial == "" or initial in mbrola_voice.INITIALS), syllable
    cases = {
        "qian": ("qi", "an"),  # a compound final's first vowel goes to the initial
        "guang": ("gu", "ang"),
        "xuan": ("xu", "an"),
        "liu": ("l", "iu"),  # a final of its own
        "shi": ("sh", "ll"),  # the apical vowels
        "si": ("s", "ii"),
        "qu": ("q", "v"),  # u after j, q, x, y is ü
        "yue": ("y", "ue"),
        "er": ("", "er"),
    }
    assert {p: mbrola_voice.split_syllable(p) for p in cases} == cases
    with pytest.raises(UserError, match="no cn1 units"):
        mbrola_voice.split_syllable("ng")


def _pitch(line: str) -> list[float]:
    return [float(v) for v in line.split()[3::2]]


def test_tones_become_pitch_contours_and_readings_vary():
    # 三 (1) 十 (2) 五 (3) 四 (4): a final per syllable, each after its initial
    lines = mbrola_voice.pho("三十五四", np.random.default_rng(0)).splitlines()
    finals = [line for line in lines if line.split()[0] in mbrola_voice.FINALS]
    assert [f.split()[0] for f in finals] == ["an", "ll", "u", "ii"]
    flat, rising, dipping, falling = (_pitch(f) for f in finals)
    assert flat[0] == flat[-1] == max(flat + rising + dipping + falling)
    assert rising[-1] > rising[0] and falling[-1] < falling[0] and min(dipping) < dipping[0]
    assert lines[0].startswith("_ ") and lines[-1].startswith("_ ")
    # third tone before a third tone is read as the second: 五 in 五五 rises
    first = [line for line in mbrola_voice.pho("五五", np.random.default_rng(0)).splitlines() if line.startswith("u ")]
    assert _pitch(first[0])[-1] > _pitch(first[0])[0] and min(_pitch(first[1])) < _pitch(first[1])[0]
    same = mbrola_voice.pho("三十五四", np.random.default_rng(0))
    assert same == "\n".join(lines) + "\n" and mbrola_voice.pho("三十五四", np.random.default_rng(1)) != same


def test_mbrola_reads_a_share_of_train_only():
    plain = plan(Path("/nowhere"), SIZES, 3, True, DemoMix(tts_share=0.2))
    jobs = plan(Path("/nowhere"), SIZES, 3, True, DemoMix(tts_share=0.2, mbrola_share=0.5))
    read = [j for j in jobs["train"] if j.voice == MBROLA_VOICE]
    assert 0.15 < len(read) / len(jobs["train"]) < 0.4  # half of the ~55% no human or ttskit reads
    for split in ("dev", "test", "test_unheard"):
        assert jobs[split] == plain[split]
    for a, b in zip(plain["train"], jobs["train"]):  # only espeak-ng readings move
        assert (a.text, a.seed) == (b.text, b.seed)
        assert a.voice == b.voice or (b.voice == MBROLA_VOICE and a.voice in TRAIN_VOICES)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (make setup installs it)")
def test_a_missing_mbrola_is_left_out_with_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(mbrola_voice, "find", lambda: None)
    said = []
    counts = generate(
        tmp_path, 6, 2, 2, 1, DemoMix(dev_human_share=0, mbrola_share=1.0), human=False, notice=said.append
    )
    assert counts == {"test": 2, "dev": 2, "train": 6}
    assert said == [f"left out MBROLA cn1 (a training voice): {mbrola_voice.missing()}"]
    assert "make mbrola" in said[0]
    assert not any(MBROLA_VOICE in u.id for u in read_data_dir(tmp_path / "train"))


@needs_mbrola
def test_mbrola_speech_converts_alike_and_is_reproducible():
    a, sr = mbrola_voice.synthesize("二月十四号", seed=5)
    assert sr == 22050 and a.dtype == np.float32 and a.ndim == 1
    assert 0.5 < len(a) / sr < 2.5  # five syllables at 0.75-1.3 times cn1's pace
    peak = np.abs(a).max()  # trimmed: sound within the first and last 30 ms
    assert np.abs(a[: int(0.03 * sr)]).max() > 0.02 * peak and np.abs(a[-int(0.03 * sr) :]).max() > 0.02 * peak
    assert np.array_equal(a, mbrola_voice.synthesize("二月十四号", seed=5)[0])
    other = mbrola_voice.synthesize("二月十四号", seed=6)[0]
    assert not (len(other) == len(a) and np.allclose(other, a))


@needs_mbrola
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (make setup installs it)")
def test_mbrola_utterances_in_the_corpus(tmp_path):
    generate(tmp_path, 6, 2, 2, 1, DemoMix(dev_human_share=0, mbrola_share=1.0), human=False, workers=1)
    train = read_data_dir(tmp_path / "train")
    assert all(f"-{MBROLA_VOICE}-" in u.id for u in train)
    for u in train:  # 16 kHz mono, as long as a reading of the sentence
        wave, sr = sf.read(str(u.path))
        assert sr == 16000 and wave.ndim == 1 and len(wave) / sr > 0.15 * len(u.text)
