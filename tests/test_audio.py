import numpy as np
import pytest
import soundfile as sf
import torch

from asr.audio import load_audio
from asr.errors import AudioError
from asr.features import compute_features
from conftest import SAMPLES

ORIGINAL = SAMPLES / "test-belinda-00062.wav"


def tone(sr: int, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


@pytest.mark.parametrize("sr", [8000, 22050, 44100, 48000])
def test_any_rate_is_resampled_to_16k(tmp_path, sr):
    path = tmp_path / "a.wav"
    sf.write(path, tone(sr), sr)
    wave = load_audio(path)
    assert wave.dtype == torch.float32 and abs(wave.shape[0] - 16000) <= 1
    spectrum = np.abs(np.fft.rfft(wave.numpy()))
    assert abs(np.argmax(spectrum) - 440) <= 1  # 1 Hz bins over one second: the pitch survived


def test_stereo_24bit_flac_and_ogg_match_the_original(tmp_path):
    wave, sr = sf.read(ORIGINAL, dtype="float32")
    ref = compute_features(load_audio(ORIGINAL))
    for name, subtype in [("a.flac", "PCM_24"), ("a.wav", "PCM_24"), ("a.ogg", "VORBIS")]:
        path = tmp_path / name
        sf.write(path, np.stack([wave, wave], axis=1), sr, subtype=subtype)
        got = load_audio(path)
        assert got.shape[0] == wave.shape[0]
        if subtype != "VORBIS":  # lossless: the same samples up to 16-bit quantization
            assert np.abs(got.numpy() - wave).max() < 1e-4
            assert torch.allclose(compute_features(got), ref, atol=1e-2)


@pytest.mark.parametrize(
    "make,reason",
    [
        (lambda p: None, "file not found"),
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_text("hello, I am text\n" * 50), "not a readable audio file"),
        (lambda p: sf.write(p, np.zeros(0, np.float32), 16000), "no audio samples"),
        (lambda p: sf.write(p, np.full(1600, np.nan, np.float32), 16000, subtype="FLOAT"), "NaN"),
    ],
    ids=["missing", "empty", "text", "zero-length", "nan"],
)
def test_bad_files_give_one_line_errors(tmp_path, make, reason):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(AudioError, match=reason) as info:
        load_audio(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)
