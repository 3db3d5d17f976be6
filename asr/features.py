"""The 100 Hz MFCC frontend (Kaldi-compatible), deltas, per-utterance and global CMVN statistics.

All functions are pure: waveform tensors in, feature tensors out. The MFCC is computed in two
halves, wave -> log-mel (where vocal-tract-length warping and SpecAugment act during training)
and log-mel -> cepstra.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch
import torchaudio.compliance.kaldi as kaldi
import torchaudio.functional as AF

from asr.errors import UserError, check_choice, check_range, check_ranges

FRAME_SHIFT = 160  # 10 ms at 16 kHz: 100 frames per second
FRAME_LENGTH = 400  # 25 ms at 16 kHz
# A filterbank warp (VTLN, VTLP) is a perturbation near 1: past a factor of 2 the audio is no
# longer the speech it is labelled with.
WARP_RANGE = "[0.5, 2]"
FFT_SIZE = 512  # Kaldi rounds the window up to a power of two
PREEMPHASIS = 0.97
EPS = torch.finfo(torch.float32).eps
VTLN_BAND = (100.0, 7500.0)  # Kaldi's vtln-low and vtln-high (Nyquist - 500 Hz): the warp's fixed points
INT16_SCALE = 32768.0  # Kaldi works on int16-valued samples; the log floor depends on that scale


@dataclass(frozen=True)
class FeatureConfig:
    """Frontend settings. They travel inside every checkpoint so inference uses the same ones."""

    sample_rate: int = 16000
    n_mels: int = 23
    n_mfcc: int = 13
    low_freq: float = 20.0
    high_freq: float = 0.0  # <= 0 means offset from Nyquist, as in Kaldi
    cepstral_lifter: float = 22.0
    deltas: bool = True
    # Added to the mel energies (int16 scale) before the log. 0 is Kaldi's (with dither 0): exact
    # compatibility, but silent or band-limited regions (8 kHz audio above 4 kHz) then give
    # log(~0), far outside anything seen in training. 1e5, about -70 dBFS white noise, keeps them
    # at a steady, speech-free level instead, as Kaldi's default dither does at random.
    mel_floor: float = 0.0
    # Per-utterance normalization before the global CMVN: "none", "mean" (cepstral mean
    # subtraction: removes a fixed channel/microphone colouring) or "mean_var".
    utterance_norm: str = "none"

    def __post_init__(self) -> None:
        if self.sample_rate != 16000:
            raise UserError(
                f"features.sample_rate: expected 16000 (audio of any rate, 4-768 kHz, is resampled to 16 kHz as it is "
                f"read), got {self.sample_rate!r}"
            )
        # Kaldi's filterbank needs more than 3 bands; a cepstrum has at most as many coefficients.
        check_ranges("features", self, n_mels=f"[4, {FFT_SIZE // 2}]", mel_floor="[0, inf)", cepstral_lifter="(0, inf)")
        check_range("features.n_mfcc", self.n_mfcc, f"[1, {self.n_mels}]", whole=True, why="at most n_mels")
        check_range(
            "features.high_freq",
            self.high_freq,
            f"(-{self.nyquist}, {self.nyquist}]",
            why="Hz; 0 or below: that far below Nyquist",
        )
        check_range("features.low_freq", self.low_freq, f"[0, {self.band[1]:g})", why="Hz, below the high edge")
        check_choice("features.utterance_norm", self.utterance_norm, ("none", "mean", "mean_var"))
        empty = _empty_band(self, self.n_mels)
        if empty:
            fit = next((n for n in range(self.n_mels - 1, 3, -1) if not _empty_band(self, n)), 0)
            fix = f"use at most {fit}" if fit else "widen the band (features.low_freq, features.high_freq)"
            raise UserError(
                f"features.n_mels: {self.n_mels} bands over {self.band[0]:g}-{self.band[1]:g} Hz leave band "
                f"{empty} narrower than one bin of the {FFT_SIZE}-point FFT (it would hold nothing): {fix}"
            )

    @property
    def nyquist(self) -> int:
        return self.sample_rate // 2

    @property
    def band(self) -> tuple[float, float]:
        """(low, high) edges of the mel filterbank in Hz: high_freq <= 0 is an offset below Nyquist."""
        return self.low_freq, self.high_freq if self.high_freq > 0 else self.nyquist + self.high_freq

    @property
    def dim(self) -> int:
        return self.n_mfcc * (3 if self.deltas else 1)


def num_frames(num_samples: int) -> int:
    """Frames produced for `num_samples` (Kaldi's snip_edges=false): round(N / 160), 100 per second."""
    return (num_samples + FRAME_SHIFT // 2) // FRAME_SHIFT


@lru_cache(maxsize=8)
def _tables(cfg: FeatureConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    if cfg.sample_rate != 16000:
        raise ValueError("the frontend is defined at 16 kHz; resample the audio first")
    window = torch.hann_window(FRAME_LENGTH, periodic=False).pow(0.85)  # Kaldi's "povey" window
    dct = AF.create_dct(cfg.n_mels, cfg.n_mels, "ortho")
    dct[:, 0] = math.sqrt(1.0 / cfg.n_mels)  # Kaldi's C0 scaling
    dct = dct[:, : cfg.n_mfcc].contiguous()  # (n_mels, n_mfcc)
    i = torch.arange(cfg.n_mfcc, dtype=torch.float32)
    lifter = 1.0 + 0.5 * cfg.cepstral_lifter * torch.sin(math.pi * i / cfg.cepstral_lifter)
    return window, dct, lifter


def _empty_band(cfg: FeatureConfig, n_mels: int) -> int:
    """The first of `n_mels` bands (1-based) over cfg.band that no FFT bin falls in, else 0."""
    banks, _ = kaldi.get_mel_banks(n_mels, FFT_SIZE, float(cfg.sample_rate), *cfg.band, *VTLN_BAND, 1.0)
    empty = (banks.sum(1) == 0).nonzero()
    return int(empty[0, 0]) + 1 if len(empty) else 0


@lru_cache(maxsize=256)
def _mel_banks(cfg: FeatureConfig, warp: float) -> torch.Tensor:
    """(FFT_SIZE // 2 + 1, n_mels) filterbank; warp != 1 moves its centre frequencies by Kaldi's
    piecewise-linear VTLN warp (100 Hz .. Nyquist - 500 Hz scaled by `warp`)."""
    banks, _ = kaldi.get_mel_banks(cfg.n_mels, FFT_SIZE, float(cfg.sample_rate), *cfg.band, *VTLN_BAND, warp)
    return torch.nn.functional.pad(banks, (0, 1)).T.contiguous()


def _frame(wave: torch.Tensor) -> torch.Tensor:
    """(N,) -> (T, 400) frames centred every 160 samples, edges reflected as Kaldi does."""
    n = wave.shape[0]
    t = num_frames(n)
    left = FRAME_LENGTH // 2 - FRAME_SHIFT // 2  # 120 samples before the first frame's centre
    right = max(0, (t - 1) * FRAME_SHIFT + FRAME_LENGTH - left - n)
    # Kaldi mirrors sample -1 to 0 and sample N to N-1; both pads are shorter than N >= 400.
    padded = torch.cat([wave[:left].flip(0), wave, wave.flip(0)[:right]])
    return padded.unfold(0, FRAME_LENGTH, FRAME_SHIFT)


def log_mel(wave: torch.Tensor, cfg: FeatureConfig = FeatureConfig(), warp: float = 1.0) -> torch.Tensor:
    """Kaldi log mel energies of a mono waveform in [-1, 1] at 16 kHz: (N,) -> (T, n_mels), T = round(N / 160).

    `warp` is a vocal-tract-length warp factor of the filterbank (1.0: none; training draws it
    at random, VTLP). Needs at least one frame (400 samples).
    """
    if wave.dim() != 1:
        raise ValueError(f"expected a (N,) waveform, got shape {tuple(wave.shape)}")
    if wave.shape[0] < FRAME_LENGTH:
        raise ValueError(f"audio shorter than one 25 ms frame ({wave.shape[0]} samples)")
    window, _, _ = _tables(cfg)
    frames = _frame(wave.float() * INT16_SCALE)
    frames = frames - frames.mean(dim=1, keepdim=True)  # remove DC offset per frame
    shifted = torch.cat([frames[:, :1], frames[:, :-1]], dim=1)
    frames = (frames - PREEMPHASIS * shifted) * window
    spec = torch.fft.rfft(frames, n=FFT_SIZE)  # (T, 257) complex
    power = spec.real.square() + spec.imag.square()  # |X|^2 without abs()'s square root
    mel = power @ _mel_banks(cfg, round(float(warp), 4))  # (T, n_mels)
    return (mel + cfg.mel_floor).log() if cfg.mel_floor > 0 else mel.clamp_min(EPS).log()


def cepstra(logmel: torch.Tensor, cfg: FeatureConfig = FeatureConfig()) -> torch.Tensor:
    """(T, n_mels) log mel energies -> (T, n_mfcc) liftered cepstra (DCT-II, Kaldi's scaling)."""
    _, dct, lifter = _tables(cfg)
    return (logmel @ dct) * lifter


def mfcc(wave: torch.Tensor, cfg: FeatureConfig = FeatureConfig()) -> torch.Tensor:
    """Kaldi MFCC of a mono waveform in [-1, 1] at 16 kHz.

    wave: (N,) float -> (T, n_mfcc) with T = round(N / 160), i.e. 100 frames per second.
    Matches torchaudio.compliance.kaldi.mfcc(wave * 32768, snip_edges=False, dither=0) when
    cfg.mel_floor is 0.
    Needs at least one frame (400 samples).
    """
    return cepstra(log_mel(wave, cfg), cfg)


def _delta(x: torch.Tensor) -> torch.Tensor:
    """(T, F) -> (T, F): sum_k k (x[t+k] - x[t-k]) / 10 for k = 1, 2, edges replicated: what
    torchaudio's compute_deltas(win_length=5) computes, without its grouped convolution
    (a few slices are ~3x faster on utterance-sized inputs)."""
    p = torch.cat([x[:1], x[:1], x, x[-1:], x[-1:]])
    return ((p[3:-1] - p[1:-3]) + 2 * (p[4:] - p[:-4])) / 10


def add_deltas(feats: torch.Tensor) -> torch.Tensor:
    """(T, F) -> (T, 3F): features, deltas and delta-deltas (Kaldi's window of 2 frames)."""
    d1 = _delta(feats)
    return torch.cat([feats, d1, _delta(d1)], dim=1)


def finish(ceps: torch.Tensor, cfg: FeatureConfig = FeatureConfig()) -> torch.Tensor:
    """(T, n_mfcc) cepstra -> (T, cfg.dim): deltas and per-utterance normalization as configured."""
    feats = add_deltas(ceps) if cfg.deltas else ceps
    if cfg.utterance_norm != "none":
        feats = feats - feats.mean(0)
        if cfg.utterance_norm == "mean_var" and feats.shape[0] > 1:
            feats = feats / feats.std(0).clamp_min(1e-3)
    return feats


def compute_features(wave: torch.Tensor, cfg: FeatureConfig = FeatureConfig(), warp: float = 1.0) -> torch.Tensor:
    """The full frontend without the global CMVN: (N,) waveform -> (T, cfg.dim) at 100 Hz.
    `warp`: the mel filterbank's VTLN warp (log_mel)."""
    return finish(cepstra(log_mel(wave, cfg, warp), cfg), cfg)


class CMVNAccumulator:
    """Global mean and variance over many (T, F) feature matrices, accumulated in float64."""

    def __init__(self, dim: int) -> None:
        self.count = 0
        self.sum = torch.zeros(dim, dtype=torch.float64)
        self.sq = torch.zeros(dim, dtype=torch.float64)

    def add(self, feats: torch.Tensor) -> None:
        f = feats.double()
        self.count += f.shape[0]
        self.sum += f.sum(0)
        self.sq += (f * f).sum(0)

    def stats(self, floor: float = 1e-8) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (mean, std), each (F,) float32."""
        if self.count == 0:
            raise ValueError("no frames accumulated")
        mean = self.sum / self.count
        var = (self.sq / self.count - mean * mean).clamp_min(floor)
        return mean.float(), var.sqrt().float()
