"""Reading audio: any file libsndfile reads -> mono float32 waveform at the model's rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
import torch

from asr.errors import AudioError

SAMPLE_RATE = 16000


def resample(wave: np.ndarray, orig_sr: int, target_sr: int = SAMPLE_RATE) -> np.ndarray:
    """Resample a (N,) or (N, C) float array with soxr (band-limited, no numba start-up cost)."""
    if orig_sr == target_sr:
        return wave
    return soxr.resample(wave, orig_sr, target_sr, quality="HQ")


def to_mono(wave: np.ndarray) -> np.ndarray:
    """(N,) or (N, C) -> (N,) by averaging channels."""
    return wave.mean(axis=1) if wave.ndim == 2 else wave


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """Read `path` and return a mono float32 waveform of shape (N,) in [-1, 1] at `sample_rate`.

    Integer PCM of any width is scaled by libsndfile; channels are averaged before resampling.
    Raises AudioError with a one-line reason for a missing, unreadable, empty or non-finite file.
    """
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: file not found")
    if path.is_dir():
        raise AudioError(f"{path}: is a directory, not an audio file")
    try:
        wave, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AudioError(f"{path}: not a readable audio file ({reason})") from None
    if wave.shape[0] == 0:
        raise AudioError(f"{path}: contains no audio samples")
    if not np.isfinite(wave).all():
        raise AudioError(f"{path}: contains NaN or infinite samples")
    mono = resample(to_mono(wave), sr, sample_rate)
    return torch.from_numpy(np.ascontiguousarray(mono, dtype=np.float32))
