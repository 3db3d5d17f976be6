"""Human syllable sources of the demo corpus: the right recording for a character, converted
alike (mono, silence trimmed, any rate), held-out recordings never in train or dev, and a source
that cannot be had left out with one line."""

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asr.corpora import syllables
from asr.corpora.demo.generate import generate
from asr.corpora.demo.grammar import INVENTORY
from asr.corpora.demo.mix import DemoMix
from asr.corpora.demo.plan import plan
from asr.corpora.demo.render import recordings
from asr.corpora.demo.speakers import HELDOUT_GCIN_SPEAKER
from asr.corpora.syllables import (
    BOPOMOFO,
    GCIN_DIR,
    PINYIN,
    read_syllable,
    syllable_path,
    trim,
    yanyu_ready,
)
from asr.datadir import read_data_dir
from asr.errors import UserError

SR = 44100


def _tone_hz(pinyin: str) -> float:
    """A frequency of its own for each of the inventory's syllables (the fake recordings' content)."""
    return 200.0 + 40.0 * sorted(PINYIN.values()).index(pinyin)


@pytest.fixture(scope="module")
def real_yanyu(tmp_path_factory) -> Path:
    """yanyu's recordings as `asr prepare demo` fetches them (npm pack from the registry)."""
    try:
        return syllables.fetch_yanyu(tmp_path_factory.mktemp("sources"))
    except UserError as e:
        pytest.skip(f"yanyu cannot be fetched here: {e}")


@pytest.fixture(scope="module")
def fake_yanyu(tmp_path_factory) -> Path:
    """A yanyu-shaped folder: stereo 44.1 kHz MP3s named <pinyin><tone>.mp3, each a sine of the
    syllable's own frequency between 0.2 s of silence either side, and decoys: 八 and 号 in
    their other tones."""
    folder = tmp_path_factory.mktemp("yanyu") / "pinyin-syllables"
    folder.mkdir()
    t = np.arange(int(0.3 * SR)) / SR
    silence = np.zeros(int(0.2 * SR))
    for pinyin in [*PINYIN.values(), "ba2", "ba3", "ba4", "hao1", "hao2"]:
        tone = 0.5 * np.sin(2 * np.pi * (_tone_hz(pinyin) if pinyin in PINYIN.values() else 100.0) * t)
        mono = np.concatenate([silence, tone, silence])
        sf.write(str(folder / f"{pinyin}.mp3"), np.stack([mono, mono], axis=1), SR, format="MP3")
    return folder


def test_the_tables_cover_the_inventory_with_the_same_tones():
    assert set(PINYIN) == set(BOPOMOFO) == set(INVENTORY)
    for ch, bopomofo in BOPOMOFO.items():
        tone = bopomofo[-1] if bopomofo[-1].isdigit() else "1"  # gcin-voice: no digit is the first tone
        assert PINYIN[ch][-1] == tone, ch
    assert len(set(PINYIN.values())) == len(PINYIN) and len(set(BOPOMOFO.values())) == len(BOPOMOFO)


def test_a_character_reads_its_own_pinyin_and_tone(fake_yanyu):
    for ch in "八四好号":
        wave, sr = read_syllable("yanyu", ch, fake_yanyu)
        assert sr == SR and wave.ndim == 1 and wave.dtype == np.float32
        # silence trimmed: 0.3 s of tone (plus the MP3 decoder's delay and 2 x 400 samples kept)
        assert 0.29 < len(wave) / sr < 0.38
        spectrum = np.abs(np.fft.rfft(wave))
        assert np.fft.rfftfreq(len(wave), 1 / sr)[spectrum.argmax()] == pytest.approx(_tone_hz(PINYIN[ch]), abs=5)
    assert syllable_path("yanyu", "好", fake_yanyu).name == "hao3.mp3"
    assert syllable_path("yanyu", "号", fake_yanyu).name == "hao4.mp3"
    assert syllable_path("gcin5", "好") == GCIN_DIR / "ㄏㄠ3" / "5.ogg"


def test_trim_keeps_the_sound_and_a_margin():
    wave = np.concatenate([np.zeros(5000), np.ones(1000), np.zeros(5000)]).astype(np.float32)
    assert 1000 + 2 * 400 - 1 <= len(trim(wave)) <= 1000 + 2 * 400
    assert len(trim(np.zeros(10, np.float32))) == 10


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (make setup installs it)")
def test_the_human_dev_voice_reads_part_of_dev_only(tmp_path, fake_yanyu):
    counts = generate(
        tmp_path / "c", 8, 12, 2, seed=4, mix=DemoMix(dev_human_share=0.5), human=False, yanyu_dir=fake_yanyu
    )
    assert counts == {"test": 2, "dev": 13, "train": 8}  # 12 + 1 in other orders
    dev = read_data_dir(tmp_path / "c" / "dev")
    human = [u for u in dev if "-yanyu-" in u.id]
    assert 0 < len(human) < len(dev)
    for u in human:  # 16 kHz mono, as long as its syllables and pauses
        wave, sr = sf.read(str(u.path))
        assert sr == 16000 and wave.ndim == 1 and len(wave) / sr > 0.25 * len(u.text)
    for split in ("train", "test"):
        assert not any("yanyu" in u.id for u in read_data_dir(tmp_path / "c" / split))
    # the other utterances are the same as without the human dev voice
    plain = plan(Path("/nowhere"), {"train": 8, "dev": 12, "test": 2}, seed=4, human=False)
    with_it = plan(Path("/nowhere"), {"train": 8, "dev": 12, "test": 2}, seed=4, human=False, yanyu_dir=str(fake_yanyu))
    assert [(j.text, j.seed) for j in with_it["dev"]] == [(j.text, j.seed) for j in plain["dev"]]
    assert with_it["train"] == plain["train"]


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (make setup installs it)")
def test_a_missing_source_is_left_out_with_one_line(tmp_path, monkeypatch):
    which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda cmd, *a, **k: None if cmd == "npm" else which(cmd, *a, **k))
    said = []
    counts = generate(tmp_path, 4, 4, 2, seed=1, human=False, notice=said.append)
    assert counts == {"test": 2, "dev": 4, "train": 4}
    assert len(said) == 1 and "left out yanyu" in said[0] and "apt-get install npm" in said[0]
    assert "\n" not in said[0]
    assert not any("yanyu" in u.id for u in read_data_dir(tmp_path / "dev"))
    with pytest.raises(UserError, match="not yanyu's pinyin-syllables folder"):
        generate(tmp_path / "x", 4, 4, 2, human=False, yanyu_dir=tmp_path)


def test_a_failed_fetch_is_one_line(tmp_path, monkeypatch):
    npm = tmp_path / "bin" / "npm"
    npm.parent.mkdir()
    npm.write_text("#!/bin/sh\necho 'npm error 404 Not Found' >&2\nexit 1\n")
    npm.chmod(0o755)
    monkeypatch.setenv("PATH", f"{npm.parent}:/usr/bin:/bin")
    with pytest.raises(UserError, match=r"npm pack yanyu@0\.1\.4 failed \(npm error 404 Not Found\)"):
        syllables.fetch_yanyu(tmp_path / "sources")


def _content_hashes(paths) -> set[str]:
    return {hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths}


def test_yanyu_recordings_convert_alike(real_yanyu):
    for ch in INVENTORY:
        wave, sr = read_syllable("yanyu", ch, real_yanyu)
        assert sr == SR and wave.ndim == 1 and 0.15 < len(wave) / sr < 1.2, ch
        peak = np.abs(wave).max()
        # trimmed: sound within the first and last 30 ms (400 samples of margin kept)
        assert (
            np.abs(wave[: int(0.03 * sr)]).max() > 0.02 * peak and np.abs(wave[-int(0.03 * sr) :]).max() > 0.02 * peak
        )


@pytest.mark.skipif(not GCIN_DIR.is_dir(), reason="needs gcin-voice (make setup installs it)")
def test_no_held_out_recording_is_in_train_or_dev(real_yanyu):
    sizes = {"train": 2400, "dev": 300, "test": 200}
    jobs = plan(Path("/nowhere"), sizes, 2026, True, DemoMix(world_share=0.5), yanyu_dir=str(real_yanyu))
    heard = _content_hashes({p for split in ("train", "dev") for j in jobs[split] for p in recordings(j)})
    assert len(heard) == 2 * len(PINYIN)  # every syllable of gcin-voice speaker 3 and of yanyu
    held_out = _content_hashes(GCIN_DIR.glob(f"*/{HELDOUT_GCIN_SPEAKER}.ogg"))
    assert len(held_out) > 1000 and not heard & held_out
    assert _content_hashes(p for j in jobs["test_unheard"] for p in recordings(j)) <= held_out


def test_fetched_yanyu_is_reused(tmp_path, fake_yanyu, monkeypatch):
    dest = tmp_path / "sources"
    shutil.copytree(fake_yanyu, dest / "yanyu" / "pinyin-syllables")
    monkeypatch.setattr(shutil, "which", lambda cmd, *a, **k: None)  # no npm needed when it is there
    assert syllables.fetch_yanyu(dest) == dest / "yanyu" / "pinyin-syllables"
    assert yanyu_ready(fake_yanyu) and not yanyu_ready(tmp_path)
