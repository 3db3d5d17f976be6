"""Training-time augmentation: speed perturbation, telephone bandwidth and additive noise on
waveforms, SpecAugment on features. Every random choice comes from a generator seeded by
(seed, epoch, utterance) or (seed, step), so a run is reproducible and a resumed run repeats it
exactly."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from asr.audio import SAMPLE_RATE, resample


@dataclass(frozen=True)
class AugmentConfig:
    speeds: tuple[float, ...] = (1.0,)  # speed factors drawn uniformly, e.g. [0.9, 1.0, 1.1]
    noise_prob: float = 0.0  # share of utterances that get white noise added
    noise_snr_db: tuple[float, float] = (10.0, 30.0)  # SNR range of that noise
    narrowband_prob: float = 0.0  # share of utterances sent through 8 kHz (telephone bandwidth)
    freq_masks: int = 0  # SpecAugment: masks over feature dimensions per utterance
    freq_width: int = 4  # ... each up to this many dimensions wide
    time_masks: int = 0  # masks over frames per utterance
    time_width: int = 40  # ... each up to this many frames wide
    time_ratio: float = 0.1  # ... and at most this share of the utterance in all

    @property
    def waveform(self) -> bool:
        return any(s != 1.0 for s in self.speeds) or self.noise_prob > 0 or self.narrowband_prob > 0


def item_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, epoch, index])


@dataclass(frozen=True)
class Perturbation:
    speed: float = 1.0
    snr: float | None = None  # white noise at this SNR in dB
    narrowband: bool = False  # through 8 kHz and back

    @property
    def identity(self) -> bool:
        return self.speed == 1.0 and self.snr is None and not self.narrowband


def draw_perturbation(cfg: AugmentConfig, rng: np.random.Generator) -> Perturbation:
    """What to do to one utterance (drawn in a fixed order, so the draws are reproducible)."""
    speed = float(rng.choice(cfg.speeds))
    snr = float(rng.uniform(*cfg.noise_snr_db)) if cfg.noise_prob > 0 and rng.random() < cfg.noise_prob else None
    narrow = bool(cfg.narrowband_prob > 0 and rng.random() < cfg.narrowband_prob)
    return Perturbation(speed, snr, narrow)


def perturb_waveform(wave: torch.Tensor, p: Perturbation, rng: np.random.Generator) -> torch.Tensor:
    """Speed perturbation (resampling: tempo and pitch together, as Kaldi's sox speed), telephone
    bandwidth (resampled to 8 kHz and back) and white noise at p.snr dB."""
    x = wave.numpy()
    speed, snr = p.speed, p.snr
    if speed != 1.0:
        x = resample(x, round(SAMPLE_RATE * speed), SAMPLE_RATE)
    if p.narrowband:
        x = resample(resample(x, SAMPLE_RATE, 8000), 8000, SAMPLE_RATE)
    if snr is not None:
        noise = rng.standard_normal(x.shape[0]).astype(np.float32)
        power = float(np.mean(x.astype(np.float64) ** 2)) + 1e-10
        x = x + noise * np.sqrt(power / 10 ** (snr / 10))
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


class SpecAugment(nn.Module):
    """Frequency and time masks on a padded batch (B, T, F); the identity in eval mode.

    Masked values are set to `fill` (the CMVN mean, i.e. zero after normalization).
    """

    def __init__(self, cfg: AugmentConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def forward(
        self, feats: torch.Tensor, lengths: torch.Tensor, fill: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        cfg = self.cfg
        if not self.training or (cfg.freq_masks == 0 and cfg.time_masks == 0):
            return feats
        feats = feats.clone()
        bsz, _, dim = feats.shape
        g = generator

        def randint(high: int) -> int:
            return int(torch.randint(0, max(high, 1), (1,), generator=g))

        for b in range(bsz):
            n = int(lengths[b])
            for _ in range(cfg.freq_masks):
                w = randint(cfg.freq_width + 1)
                f0 = randint(dim - w + 1)
                feats[b, :n, f0 : f0 + w] = fill[f0 : f0 + w]
            budget = int(cfg.time_ratio * n)
            for _ in range(cfg.time_masks):
                w = min(randint(cfg.time_width + 1), budget)
                budget -= w
                t0 = randint(n - w + 1)
                feats[b, t0 : t0 + w] = fill
        return feats
