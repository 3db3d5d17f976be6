import io
from wave import open as open_wav

import numpy as np
import pytest
import soundfile as sf
import torch

from asr.audio import array_blocks, as_source, load_audio, open_audio, pcm_to_float, stream_audio
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
    assert str(info.value).count(str(path)) == 1  # libsndfile's "Error opening <path>:" dropped


def test_an_empty_file_object_is_empty_not_unreadable():
    """Standard input with nothing in it reads as empty, as an empty file does."""
    with pytest.raises(AudioError, match=r"^-: empty \(0 bytes\)$"):
        open_audio(io.BytesIO(b""), "-")
    half_read = io.BytesIO(b"RIFF")
    half_read.read()
    with pytest.raises(AudioError, match="empty"):
        open_audio(half_read, "<upload>")


class _SeekSaysNothing(io.RawIOBase):
    """A file-like wrapper whose seek returns None (allowed of wrappers, not of io's files)."""

    def __init__(self, data: bytes):
        self.inner = io.BytesIO(data)

    def readable(self):
        return True

    def seekable(self):
        return True

    def seek(self, offset, whence=0):
        self.inner.seek(offset, whence)

    def tell(self):
        return self.inner.tell()

    def readinto(self, b):
        return self.inner.readinto(b)


def test_a_wrapper_whose_seek_returns_nothing_is_read_or_refused_cleanly():
    buf = io.BytesIO()
    sf.write(buf, tone(1600), 16000, format="WAV")
    with open_audio(_SeekSaysNothing(buf.getvalue()), "<wrapped>") as f:
        assert f.frames == 1600
    with pytest.raises(AudioError, match="empty"):
        open_audio(_SeekSaysNothing(b""), "<wrapped>")


def test_a_path_with_a_colon_keeps_its_reason(tmp_path):
    path = tmp_path / "a: b.wav"
    path.write_text("hello, I am text\n" * 50)
    with pytest.raises(AudioError) as info:
        open_audio(path, str(path))
    assert str(info.value) == f"{path}: not a readable audio file (Format not recognised.)"


def test_8_bit_pcm_is_unsigned_and_centred_on_128(tmp_path):
    path = tmp_path / "u8.wav"
    sf.write(path, tone(16000), 16000, subtype="PCM_U8")
    with open_wav(str(path)) as w:  # the file's own bytes: 8-bit WAV samples are unsigned
        raw = np.frombuffer(w.readframes(w.getnframes()), dtype=np.uint8)
    ours = pcm_to_float(raw)
    assert np.array_equal(ours, sf.read(path, dtype="float32")[0])  # as libsndfile reads the file
    assert pcm_to_float(np.array([0, 128, 255], np.uint8)).tolist() == [-1.0, 0.0, 127 / 128]
    got = np.concatenate(list(array_blocks(raw, 16000, "<array>")))
    assert np.isfinite(got).all() and np.abs(got - tone(16000)).max() <= 1 / 128  # not NaN, not a DC offset


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32])
def test_signed_pcm_is_scaled_by_its_range(dtype):
    full = -np.iinfo(dtype).min
    samples = np.array([-full, -full // 2, 0, full // 2], dtype=dtype)
    assert pcm_to_float(samples).tolist() == [-1.0, -0.5, 0.0, 0.5]
    assert pcm_to_float(samples).dtype == np.float32


def test_sources_the_api_takes(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, tone(16000), 16000)
    data = path.read_bytes()
    for given in (data, bytearray(data), memoryview(data)):
        source, name = as_source(given)
        assert name == "<bytes>" and isinstance(source, io.BytesIO)
        assert np.array_equal(np.concatenate(list(stream_audio(source, name=name))), load_audio(path).numpy())
    assert as_source(data, name="upload.wav")[1] == "upload.wav"
    assert as_source(str(path)) == (str(path), str(path)) and as_source(path) == (path, str(path))
    assert as_source("-") == ("-", "-")  # standard input: the caller reads it
    with open(path, "rb") as f:
        assert as_source(f) == (f, str(path))
    samples = np.zeros((16000, 2), np.float32)
    assert as_source(samples)[1] == "<array (16000, 2)>" and as_source(torch.zeros(5))[1] == "<array (5,)>"


@pytest.mark.parametrize(
    "source,words",
    [
        ([0.0] * 2_500_000, "cannot transcribe a list: give a path, an open binary file, bytes, or a NumPy array"),
        ({"audio": b"RIFF"}, "cannot transcribe a dict: give"),
        (16000, "cannot transcribe an int: give"),
        (None, "cannot transcribe None: give"),
        (b"", "<bytes>: empty (0 bytes)"),
        ("x" * 5000, "cannot transcribe a string of 5000 characters: not a path"),
        (io.StringIO("RIFF"), "a text-mode file; open it with open(path, 'rb')"),
    ],
    ids=["list", "dict", "int", "none", "empty-bytes", "long-string", "text-file"],
)
def test_other_sources_are_refused_in_one_short_line(source, words):
    with pytest.raises(AudioError) as info:
        as_source(source)
    message = str(info.value)
    assert words in message and "\n" not in message and len(message) < 200, message


@pytest.mark.parametrize(
    "start, end, words",
    [
        (-1.0, 2.0, "starts before its recording (from -1 s to 2 s)"),
        (float("nan"), None, "starts before its recording"),
        (2.0, 1.0, "is empty (from 2 s to 1 s: the end is not after the start)"),
        (9.0, None, "past the end of its recording (from 9 s to the end; the recording: 5.31744 s)"),
    ],
)
def test_a_segment_outside_its_recording_is_one_line_naming_the_file(start, end, words):
    """What a data dir's check says of a segment, the reader says too: a Clip of the Python API
    reaches it unchecked (a negative start was libsndfile's 'psf_fseek() failed')."""
    path = SAMPLES / "test-belinda-00054.wav"  # 5.31744 s
    with pytest.raises(AudioError) as err:
        list(stream_audio(path, start=start, end=end))
    assert str(err.value).startswith(f"{path}: segment ") and words in str(err.value)


def test_a_segment_to_past_the_end_or_infinity_reads_to_the_end():
    path = SAMPLES / "test-belinda-00054.wav"
    whole = load_audio(path).numpy()
    for end in (9.0, float("inf")):
        assert np.array_equal(np.concatenate(list(stream_audio(path, start=1.0, end=end))), whole[16000:])
