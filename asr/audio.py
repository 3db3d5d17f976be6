"""Reading audio: any file libsndfile reads -> mono float32 waveform at the model's rate."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, cast

import numpy as np
import soundfile as sf
import soxr
import torch

from asr.errors import AudioError
from asr.features import FRAME_LENGTH

SAMPLE_RATE = 16000
# The sample rates any input may have (a file, an array, an upload, a stream): below 4 kHz no
# speech band survives; 768 kHz is the highest rate audio interfaces record at.
MIN_RATE, MAX_RATE = 4000, 768000


def check_rate(name: str, rate: object) -> None:
    """AudioError unless `rate` is a whole number of Hz from MIN_RATE to MAX_RATE."""
    if not isinstance(rate, int) or isinstance(rate, bool):
        raise AudioError(f"{name}: sample_rate must be a whole number of Hz, got {rate!r}")
    if not MIN_RATE <= rate <= MAX_RATE:
        raise AudioError(f"{name}: sample rate outside {MIN_RATE}-{MAX_RATE} Hz ({rate} Hz)")


SILENCE_PEAK = 1e-3  # -60 dBFS: audio whose loudest sample stays below this holds no speech


def too_short(name: str, samples: int) -> AudioError:
    return AudioError(f"{name}: audio shorter than one 25 ms frame ({samples} samples at 16 kHz)")


def check_usable(name: str, samples: int, peak: float) -> str | None:
    """The one rule for a whole input, on every path (command line, Python API, server,
    evaluation, align): AudioError when it is shorter than one 25 ms frame; a warning when it
    is digital silence (it is transcribed, to an empty text); else None. What cannot be read
    at all (missing, empty, truncated, damaged, NaN) is refused by open_audio / stream_audio."""
    if samples < FRAME_LENGTH:
        raise too_short(name, samples)
    return f"{name}: silent (peak below -60 dBFS); empty transcript" if peak < SILENCE_PEAK else None


def worth_decoding(piece: np.ndarray) -> bool:
    """A piece of a long file or a stream: at least one frame, and not digital silence (nothing
    to hear, and nothing for the model to hallucinate on)."""
    return len(piece) >= FRAME_LENGTH and float(np.abs(piece).max()) >= SILENCE_PEAK


def resample(wave: np.ndarray, orig_sr: int, target_sr: int = SAMPLE_RATE) -> np.ndarray:
    """Resample a (N,) or (N, C) float array with soxr (band-limited, no numba start-up cost)."""
    if orig_sr == target_sr:
        return wave
    return soxr.resample(wave, orig_sr, target_sr, quality="HQ")


def to_mono(wave: np.ndarray) -> np.ndarray:
    """(N,) or (N, C) -> (N,) by averaging channels (a single channel is returned as it is)."""
    if wave.ndim == 1:
        return wave
    return wave[:, 0] if wave.shape[1] == 1 else wave.mean(axis=1)


def load_audio(
    path: str | Path, sample_rate: int = SAMPLE_RATE, start: float = 0.0, end: float | None = None
) -> torch.Tensor:
    """Read `path` (from `start` to `end` seconds: a segment; default all of it) and return a
    mono float32 waveform of shape (N,) in [-1, 1] at `sample_rate`.

    Integer PCM of any width is scaled by libsndfile; channels are averaged before resampling.
    The same reader as stream_audio, so whole files and streamed ones give the same samples.
    Raises AudioError with a one-line reason for a missing, unreadable, empty or non-finite file.
    """
    blocks = list(stream_audio(path, block_seconds=60.0, sample_rate=sample_rate, start=start, end=end))
    wave = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
    return torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))


AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".au", ".caf", ".w64", ".sph"}


def open_audio(source: str | Path | BinaryIO, name: str) -> sf.SoundFile:
    """An open libsndfile reader of `source` (a path or a binary file object named `name` in
    messages); AudioError for a missing, empty or unreadable one."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise AudioError(f"{name}: file not found")
        if path.is_dir():
            raise AudioError(f"{name}: is a directory, not an audio file")
        if path.stat().st_size == 0:
            raise AudioError(f"{name}: empty file (0 bytes)")
        source = str(path)
    elif _left(source) == 0:  # standard input or a file object with nothing (left) in it
        raise AudioError(f"{name}: empty (0 bytes)")
    try:
        f = sf.SoundFile(source)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        # libsndfile's message names what it opened (a path, or <_io.BytesIO ...>): `name` says it
        if isinstance(source, str):
            reason = reason.removeprefix(f"Error opening {source!r}: ")
        else:
            reason = re.sub(r"^Error opening .*?: ", "", reason)
        raise AudioError(f"{name}: not a readable audio file ({reason})") from None
    cut = truncation(f)
    if cut:
        f.close()
        raise AudioError(f"{name}: truncated file (its header declares {cut[0]} bytes of audio, it holds {cut[1]})")
    try:
        check_rate(name, f.samplerate)
    except AudioError:
        f.close()
        raise
    return f


def _left(f: BinaryIO) -> int | None:
    """Bytes from a seekable file object's position to its end, its position kept (None when it
    cannot tell: not seekable, or a wrapper whose seek and tell do not behave like a file's)."""
    try:
        if not f.seekable():
            return None
        here = f.tell()
        try:
            f.seek(0, io.SEEK_END)
            end = f.tell()
        finally:
            f.seek(here)
        return end - here if isinstance(end, int) and isinstance(here, int) else None
    except (OSError, ValueError, AttributeError, TypeError):
        return None


# A WAV header written before its length was known (a pipe: ffmpeg, sox) declares a placeholder
# size near 2^32 or 2^31; such a file is whole, not cut.
UNKNOWN_LENGTH = 0x7FFF0000


def truncation(f: sf.SoundFile) -> tuple[int, int] | None:
    """(declared, present) bytes of audio data when the file ends before its header says it
    does (a cut-off download or copy), else None. libsndfile reads what such a WAV holds and
    says so only in its log ("data : N (should be M)"), so every reader checks here: a cut-off
    file is refused the same way on the command line, in Python and by the server."""
    found = re.search(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", f.extra_info, re.M)
    if not found:
        return None
    declared, present = int(found.group(1)), int(found.group(2))
    return (declared, present) if present < declared < UNKNOWN_LENGTH else None


def segment_problem(start: float, end: float | None) -> str | None:
    """Why a segment from `start` to `end` seconds (None: to the recording's end) cannot be an
    utterance, before the recording's length is known (None: it can). Written so that NaN fails
    each test."""
    if not start >= 0:
        return f"segment starts before its recording ({_span(start, end)})"
    if end is not None and not end > start:
        return f"segment is empty ({_span(start, end)}: the end is not after the start)"
    return None


def past_the_end(start: float, end: float | None, seconds: float) -> str:
    return f"segment past the end of its recording ({_span(start, end)}; the recording: {seconds:g} s)"


def _span(start: float, end: float | None) -> str:
    return f"from {start:g} s to {'the end' if end is None else f'{end:g} s'}"


def stream_audio(
    source: str | Path | BinaryIO,
    block_seconds: float = 10.0,
    sample_rate: int = SAMPLE_RATE,
    name: str | None = None,
    start: float = 0.0,
    end: float | None = None,
) -> Iterator[np.ndarray]:
    """Read any libsndfile format block by block: yields mono float32 arrays at `sample_rate`.

    Memory stays at one block whatever the file's length: channels are averaged and the rate is
    converted with soxr's streaming resampler, so block seams leave no trace. AudioError (one
    line, naming the file) for a missing, empty, unreadable or non-finite file.
    """
    name = name or str(source)
    with open_audio(source, name) as f:
        if f.frames == 0:
            raise AudioError(f"{name}: contains no audio samples")
        seconds = f.frames / f.samplerate
        if why := segment_problem(start, end):
            raise AudioError(f"{name}: {why}")
        first = round(start * f.samplerate)
        last = f.frames if end is None or end >= seconds else round(end * f.samplerate)
        if first >= last:
            raise AudioError(f"{name}: {past_the_end(start, end, seconds)}")
        if first:
            f.seek(first)
        frames = -1 if end is None and not first else last - first  # -1: to the end (also pipes)
        yield from resampled(
            _mono_blocks(f, max(1, int(block_seconds * f.samplerate)), frames, name), f.samplerate, sample_rate
        )


def _mono_blocks(f: sf.SoundFile, size: int, frames: int, name: str) -> Iterator[np.ndarray]:
    """`frames` samples (-1: to the end) of an open file as mono float32 blocks of `size`."""
    try:
        for block in f.blocks(blocksize=size, frames=frames, dtype="float32", always_2d=True):
            if not np.isfinite(block).all():
                raise AudioError(f"{name}: contains NaN or infinite samples")
            yield to_mono(block)
    except sf.LibsndfileError as exc:
        raise AudioError(f"{name}: audio data is damaged ({str(exc).splitlines()[0]})") from None


def resampled(blocks: Iterable[np.ndarray], rate: int, target: int = SAMPLE_RATE) -> Iterator[np.ndarray]:
    """Mono float32 blocks at `rate` -> the same audio at `target` Hz, through soxr's streaming
    resampler (block seams leave no trace); unchanged when the rates are equal."""
    if rate == target:
        yield from blocks
        return
    stream = soxr.ResampleStream(rate, target, 1, dtype="float32", quality="HQ")
    for block in blocks:
        yield stream.resample_chunk(block, last=False)
    yield stream.resample_chunk(np.zeros(0, np.float32), last=True)


def pcm_to_float(wave: np.ndarray) -> np.ndarray:
    """Integer PCM samples -> float in [-1, 1), same shape. Signed types are two's complement
    (int16: x / 32768); unsigned ones are offset binary, centred on half their range, as 8-bit
    PCM (WAV's uint8) is: (x - 128) / 128."""
    info = np.iinfo(wave.dtype)
    half = float(int(info.max) - int(info.min) + 1) / 2  # a power of two: scaling by it is exact
    work = wave.astype(np.float32)
    if info.min == 0:
        work -= np.float32(half)
    return work / np.float32(half)


def array_blocks(
    wave: np.ndarray | torch.Tensor, sample_rate: int, name: str, block_seconds: float = 10.0
) -> Iterator[np.ndarray]:
    """An in-memory waveform -> mono float32 blocks at SAMPLE_RATE, as stream_audio gives a file's.

    `wave`: (N,), or (N, C) / (C, N) with C <= 8 channels (the shorter axis), float in [-1, 1]
    or integer PCM (pcm_to_float: signed types scaled by their range, unsigned ones, as 8-bit
    PCM is, centred on half their range). AudioError (one line) for anything else.
    """
    if isinstance(wave, torch.Tensor):
        wave = wave.detach().cpu()
        wave = (wave.float() if wave.dtype == torch.bfloat16 else wave).numpy()  # NumPy has no bfloat16
    wave = np.asarray(wave)
    if wave.ndim == 2 and min(wave.shape) <= 8:
        wave = wave.T if wave.shape[0] < wave.shape[1] else wave  # channels last, as soundfile reads
    elif wave.ndim != 1:
        raise AudioError(f"{name}: expected a (samples,) or (samples, channels) array, got shape {wave.shape}")
    if np.issubdtype(wave.dtype, np.integer):
        wave = pcm_to_float(wave)
    elif not np.issubdtype(wave.dtype, np.floating):
        raise AudioError(f"{name}: expected float or integer samples, got {wave.dtype}")
    check_rate(name, sample_rate)
    if len(wave) == 0:
        raise AudioError(f"{name}: contains no audio samples")
    if not np.isfinite(wave).all():
        raise AudioError(f"{name}: contains NaN or infinite samples")
    mono = to_mono(wave.astype(np.float32, copy=False))
    step = int(block_seconds * sample_rate)
    blocks = (np.ascontiguousarray(mono[k : k + step]) for k in range(0, len(mono), step))
    yield from resampled(blocks, sample_rate)


PATH_MAX = 4096  # Linux's longest path: a longer string is something else (a file's contents, say)
SOURCES = "a path, an open binary file, bytes, or a NumPy array / torch tensor of samples"


def as_source(source: object, name: str | None = None) -> tuple[str | Path | BinaryIO | np.ndarray | torch.Tensor, str]:
    """(what the readers take, its name in messages) for a source of audio given to the Python
    API, checked before anything is read:

    - a path (str, Path or other os.PathLike; "-" is standard input, which the caller reads):
      itself, named by itself;
    - an open binary file (has .read): itself, named by its .name when that is a string, else "<file>";
    - bytes, bytearray or memoryview, a file's contents: an io.BytesIO that libsndfile (stream_audio)
      reads, named "<bytes>";
    - a NumPy array or torch tensor of samples (array_blocks reads it): itself, named "<array (N, C)>".

    `name` names any of them instead. AudioError, one short line that names the type and never
    holds the object's contents, for anything else (a list, a dict, a number, None), a text-mode
    file, empty bytes, and a string too long to be a path.
    """
    if isinstance(source, (np.ndarray, torch.Tensor)):
        return source, name or f"<array {tuple(source.shape)}>"
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = source if isinstance(source, bytes) else bytes(source)
        if not data:
            raise AudioError(f"{name or '<bytes>'}: empty (0 bytes)")
        return io.BytesIO(data), name or "<bytes>"
    if isinstance(source, os.PathLike) and not isinstance(source, Path):
        source = Path(os.fsdecode(source))
    if isinstance(source, str) and (len(source) > PATH_MAX or "\0" in source):
        raise AudioError(
            f"cannot transcribe a string of {len(source)} characters: not a path (a file's contents go as bytes)"
        )
    if isinstance(source, (str, Path)):
        return source, name or str(source)
    if isinstance(source, io.TextIOBase):
        raise AudioError(
            f"{name or getattr(source, 'name', '<file>')}: a text-mode file; open it with open(path, 'rb')"
        )
    if callable(getattr(source, "read", None)):
        own = getattr(source, "name", None)
        # cast: duck typing, as the readers take any object with .read as a binary file
        return cast(BinaryIO, source), name or (own if isinstance(own, str) else "<file>")
    kind = type(source).__name__
    what = "None" if source is None else f"{'an' if kind[0].lower() in 'aeiou' else 'a'} {kind}"
    raise AudioError(f"cannot transcribe {what}: give {SOURCES}")


def check_audio(path: str | Path) -> tuple[float, str | None]:
    """(seconds, None) for a file with audio, from its header alone; else (0.0, why not) in the
    words load_audio would use: file not found, empty file (0 bytes), not a readable audio file
    (...), contains no audio samples."""
    try:
        with open_audio(path, "") as f:
            if f.frames == 0:
                return 0.0, "contains no audio samples"
            return f.frames / f.samplerate, None
    except AudioError as exc:
        return 0.0, str(exc).removeprefix(": ")
    except OSError as exc:
        return 0.0, f"not a readable audio file ({exc.strerror or type(exc).__name__})"


def expand_inputs(items: Iterable[str]) -> list[tuple[str, str | None]]:
    """Files, directories (searched recursively for audio), @lists (one path per line) and "-"
    (standard input) -> [(name, error or None)] in the order given."""
    out: list[tuple[str, str | None]] = []
    for item in items:
        if item == "-":
            out.append(("-", None))
        elif item.startswith("@"):
            listing = Path(item[1:])
            if not listing.is_file():
                out.append((item, f"{listing}: list file not found"))
                continue
            lines = listing.read_text(encoding="utf-8").splitlines()
            out += expand_inputs(line.strip() for line in lines if line.strip() and not line.startswith("#"))
        elif Path(item).is_dir():
            found = sorted(p for p in Path(item).rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
            out += [(str(p), None) for p in found] or [(item, f"{item}: no audio files in this directory")]
        else:
            out.append((item, None))
    return out
