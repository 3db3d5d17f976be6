"""Training-time augmentation, drawn afresh for every utterance in every epoch.

Waveform steps (each a small callable `(wave, rng) -> wave` with its own probability and ranges):
speed perturbation, pitch shift, room reverberation, random EQ and band limits, babble from other
training utterances, white noise, telephone bandwidth, gain. Then the frontend: a random
vocal-tract-length warp of the mel filterbank (VTLP) and SpecAugment masks on the log-mel bands,
before the DCT, as Park et al. (2019) mask filterbanks, not cepstra.

Every step draws from a generator of its own, seeded by (seed, epoch, utterance, step), so a run
is reproducible in any DataLoader worker, a resumed run repeats it exactly, and switching one step
on or off leaves the other steps' draws unchanged (ablations compare like with like).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch
import torchaudio.functional as AF

from asr.audio import SAMPLE_RATE, load_audio, resample
from asr.errors import AudioError, UserError, check_range, check_ranges
from asr.features import WARP_RANGE, FeatureConfig, cepstra, finish, log_mel

# What each value of a list setting may be (the others: any finite number). Speed and warp
# factors are perturbations near 1 (0.9-1.1 in Ko et al., 0.8-1.25 in the demo recipe); past a
# factor of 2 the audio is no longer the speech it is labelled with.
ELEMENTS = {"reverb_rt60": "(0, inf)", "babble_voices": "[1, inf)", "vtlp_warp": WARP_RANGE}


@dataclass(frozen=True)
class AugmentConfig:
    """The recipe's `augment:` section. Every probability is the share of training utterances
    (per epoch) that get the step; ranges are [low, high] drawn uniformly."""

    speeds: tuple[float, ...] = (1.0,)  # speed factors drawn uniformly, e.g. [0.9, 1.0, 1.1] (Ko et al. 2015)
    pitch_prob: float = 0.0  # pitch shift without tempo change (librosa's phase vocoder + resampling)
    pitch_semitones: tuple[float, float] = (-3.0, 3.0)
    reverb_prob: float = 0.0  # a simulated room (pyroomacoustics image source model) of random size and RT60
    reverb_rt60: tuple[float, float] = (0.15, 0.7)  # seconds
    eq_prob: float = 0.0  # random microphone colouring: 1-3 peaking filters, and a band limit half the time
    eq_gain_db: float = 10.0  # peaking filter gains drawn from [-eq_gain_db, eq_gain_db]
    babble_prob: float = 0.0  # other training utterances mixed in underneath
    babble_snr_db: tuple[float, float] = (10.0, 25.0)
    babble_voices: tuple[int, int] = (1, 3)  # how many other utterances
    noise_prob: float = 0.0  # white noise
    noise_snr_db: tuple[float, float] = (10.0, 30.0)
    narrowband_prob: float = 0.0  # through 8 kHz and back (telephone bandwidth)
    gain_prob: float = 0.0  # level change (clipped at full scale)
    gain_db: tuple[float, float] = (-20.0, 6.0)
    vtlp_prob: float = 0.0  # mel filterbank warped by a random factor (Jaitly and Hinton 2013)
    vtlp_warp: tuple[float, float] = (0.9, 1.1)
    freq_masks: int = 0  # SpecAugment: masks over log-mel bands per utterance
    freq_width: int = 4  # ... each up to this many bands wide
    time_masks: int = 0  # masks over frames per utterance
    time_width: int = 40  # ... each up to this many frames wide
    time_ratio: float = 0.1  # ... and at most this share of the utterance in all
    # Epochs of clean audio first: CTC starts out emitting only blanks, and heavy augmentation
    # makes that start last longer; once the model aligns on clean audio, augmentation begins.
    start_epoch: int = 0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_prob") and not 0.0 <= value <= 1.0:
                raise UserError(f"augment.{f.name}: a probability in [0, 1], got {value}")
            if isinstance(value, tuple) and f.name != "speeds":
                for v in value:
                    check_range(f"augment.{f.name}", v, ELEMENTS.get(f.name, "[-inf, inf]"), whole=isinstance(v, int))
            if isinstance(value, tuple) and len(value) == 2 and f.name != "speeds" and value[0] > value[1]:
                raise UserError(f"augment.{f.name}: expected [low, high], got {list(value)}")
        if not self.speeds or not all(0.5 <= s <= 2.0 for s in self.speeds):
            raise UserError(f"augment.speeds: positive factors in [0.5, 2], got {list(self.speeds)}")
        check_ranges(
            "augment",
            self,
            eq_gain_db="[0, inf)",
            freq_masks="[0, inf)",
            freq_width="[0, inf)",
            time_masks="[0, inf)",
            time_width="[0, inf)",
            time_ratio="[0, 1]",
            start_epoch="[0, inf)",
        )

    @property
    def speed(self) -> bool:
        return any(s != 1.0 for s in self.speeds)

    @property
    def waveform(self) -> bool:
        """Some step changes the audio: features must be computed on the fly."""
        return self.speed or any(
            getattr(self, f.name) > 0 for f in fields(self) if f.name.endswith("_prob") and f.name != "vtlp_prob"
        )

    @property
    def on_the_fly(self) -> bool:
        """Features of training utterances differ from epoch to epoch (cannot be cached)."""
        return self.waveform or self.vtlp_prob > 0

    @property
    def speed_only(self) -> bool:
        """Speed perturbation is the only step that changes the audio or the filterbank: an
        utterance's log mels are one of len(speeds) versions, which a cache can keep."""
        return self.speed and not any(getattr(self, f.name) > 0 for f in fields(self) if f.name.endswith("_prob"))

    @property
    def masks(self) -> bool:
        return self.freq_masks > 0 or self.time_masks > 0


# A waveform perturbation: (float32 samples at 16 kHz, the generator to draw from) -> samples.
Step = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def _power(x: np.ndarray) -> float:
    """Mean power of a signal, accumulated in float64."""
    return float(np.mean(x.astype(np.float64) ** 2))


def _snr_scale(signal: np.ndarray, noise: np.ndarray, snr_db: float) -> float:
    """Factor that puts `noise` at `snr_db` below `signal` (mean powers)."""
    return float(np.sqrt((_power(signal) + 1e-10) / (_power(noise) + 1e-10) / 10 ** (snr_db / 10)))


class Speed:
    """Resampling: tempo and pitch change together, as Kaldi's `sox speed` (Ko et al. 2015)."""

    def __init__(self, speeds: tuple[float, ...]) -> None:
        self.speeds = speeds

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return at_speed(x, self.draw(rng))

    def draw(self, rng: np.random.Generator) -> float:
        return float(rng.choice(self.speeds))


def at_speed(x: np.ndarray, speed: float) -> np.ndarray:
    """`x` played `speed` times as fast (and as high)."""
    return x if speed == 1.0 else resample(x, round(SAMPLE_RATE * speed), SAMPLE_RATE)


class Pitch:
    """Pitch (and formants) shifted by a random number of semitones, tempo kept."""

    def __init__(self, prob: float, semitones: tuple[float, float]) -> None:
        self.prob, self.semitones = prob, semitones

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if rng.random() >= self.prob:
            return x
        import librosa.effects  # imported on first use: numba compiles it (cached afterwards)

        steps = float(rng.uniform(*self.semitones))
        y = librosa.effects.pitch_shift(x, sr=SAMPLE_RATE, n_steps=steps, n_fft=512, res_type="soxr_hq")
        return y.astype(np.float32, copy=False)


class Reverb:
    """The utterance played in a random shoebox room: impulse responses from pyroomacoustics'
    image source model for random RT60s, room sizes and source/microphone placements; the output
    is aligned on the direct path and keeps the input's length and level.

    Simulating a room costs more than convolving with it, so each utterance picks one of `bank`
    rooms, room k being a function of (seed, k) alone, simulated on first use in each worker.
    """

    def __init__(self, prob: float, rt60: tuple[float, float], seed: int = 0, bank: int = 500) -> None:
        self.prob, self.rt60, self.seed, self.bank = prob, rt60, seed, bank
        self._rooms: dict[int, np.ndarray | None] = {}

    @staticmethod
    def impulse_response(rng: np.random.Generator, rt60: float) -> np.ndarray | None:
        """A room's impulse response from the direct path on, or None when no room fits `rt60`."""
        import pyroomacoustics as pra

        for _ in range(5):  # a small room cannot ring for long: draw again
            dims = rng.uniform([3.0, 3.0, 2.4], [10.0, 8.0, 4.0])
            try:
                absorption, order = pra.inverse_sabine(rt60, dims)
            except ValueError:
                continue
            room = pra.ShoeBox(dims, fs=SAMPLE_RATE, materials=pra.Material(absorption), max_order=min(order, 17))
            room.add_source(rng.uniform(0.5, dims - 0.5))
            room.add_microphone(rng.uniform(0.5, dims - 0.5))
            room.compute_rir()
            rir = np.asarray(room.rir[0][0], dtype=np.float32)
            return np.ascontiguousarray(rir[int(np.argmax(np.abs(rir))) :])
        return None

    def room(self, k: int) -> np.ndarray | None:
        if k not in self._rooms:
            rng = np.random.default_rng([self.seed, k])
            self._rooms[k] = self.impulse_response(rng, float(rng.uniform(*self.rt60)))
        return self._rooms[k]

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if rng.random() >= self.prob:
            return x
        rir = self.room(int(rng.integers(self.bank)))
        if rir is None:
            return x
        y = AF.fftconvolve(torch.from_numpy(x), torch.from_numpy(rir)).numpy()[: x.shape[0]]
        return (y * np.sqrt((_power(x) + 1e-12) / (_power(y) + 1e-12))).astype(np.float32)


class Equalizer:
    """A random microphone/channel colouring: 1-3 peaking biquads (100 Hz-6 kHz, +-gain dB) and,
    half the time, a band limit (high-pass 50-400 Hz, low-pass 3-7.5 kHz)."""

    def __init__(self, prob: float, gain_db: float) -> None:
        self.prob, self.gain_db = prob, gain_db

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if rng.random() >= self.prob:
            return x
        y = torch.from_numpy(x).double()
        for _ in range(int(rng.integers(1, 4))):
            centre = float(np.exp(rng.uniform(np.log(100.0), np.log(6000.0))))
            gain = float(rng.uniform(-self.gain_db, self.gain_db))
            y = AF.equalizer_biquad(y, SAMPLE_RATE, centre, gain, float(rng.uniform(0.5, 2.0)))
        if rng.random() < 0.5:
            y = AF.highpass_biquad(y, SAMPLE_RATE, float(rng.uniform(50.0, 400.0)))
            y = AF.lowpass_biquad(y, SAMPLE_RATE, float(rng.uniform(3000.0, 7500.0)))
        # lfilter clamps to [-1, 1]; a boosted band may reach it, which a real microphone does too
        return y.float().numpy()


class Babble:
    """Other training utterances (1..n, looped or cut to length, random offsets) mixed in at a
    random SNR: competing speech, the noise a recognizer is least prepared for."""

    def __init__(
        self, prob: float, snr_db: tuple[float, float], voices: tuple[int, int], paths: Sequence[Path]
    ) -> None:
        self.prob, self.snr_db, self.voices, self.paths = prob, snr_db, voices, paths

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if rng.random() >= self.prob or not self.paths:
            return x
        mix = np.zeros_like(x)
        for _ in range(int(rng.integers(self.voices[0], self.voices[1] + 1))):
            try:
                other = load_audio(self.paths[int(rng.integers(len(self.paths)))]).numpy()
            except AudioError:
                continue  # an unreadable file is reported where it is the utterance itself
            if other.shape[0] == 0:
                continue
            other = np.roll(np.resize(other, x.shape[0]), int(rng.integers(x.shape[0])))
            mix += other / (np.sqrt(_power(other)) + 1e-6)
        if not mix.any():
            return x
        return (x + mix * _snr_scale(x, mix, float(rng.uniform(*self.snr_db)))).astype(np.float32)


class Noise:
    """White noise at a random SNR."""

    def __init__(self, prob: float, snr_db: tuple[float, float]) -> None:
        self.prob, self.snr_db = prob, snr_db

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if rng.random() >= self.prob:
            return x
        noise = rng.standard_normal(len(x)).astype(np.float32)
        return (x + noise * _snr_scale(x, noise, float(rng.uniform(*self.snr_db)))).astype(np.float32)


class Narrowband:
    """Telephone bandwidth: resampled to 8 kHz and back."""

    def __init__(self, prob: float) -> None:
        self.prob = prob

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if rng.random() >= self.prob:
            return x
        return resample(resample(x, SAMPLE_RATE, 8000), 8000, SAMPLE_RATE)


class Gain:
    """A level change in dB, clipped at full scale as a recording would be."""

    def __init__(self, prob: float, gain_db: tuple[float, float]) -> None:
        self.prob, self.gain_db = prob, gain_db

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if rng.random() >= self.prob:
            return x
        return np.clip(x * 10 ** (float(rng.uniform(*self.gain_db)) / 20), -1.0, 1.0).astype(np.float32)


def spec_augment(logmel: torch.Tensor, cfg: AugmentConfig, rng: np.random.Generator) -> torch.Tensor:
    """SpecAugment frequency and time masks on (T, n_mels) log mel energies; returns a new tensor.

    A masked band takes its own mean over the utterance, a masked frame the utterance's mean
    log-mel vector: what zero is after per-utterance mean normalization, with no information left.
    """
    out = logmel.clone()
    t, bands = out.shape
    mean = logmel.mean(0)
    for _ in range(cfg.freq_masks):
        w = int(rng.integers(0, min(cfg.freq_width, bands) + 1))
        f0 = int(rng.integers(0, bands - w + 1))
        out[:, f0 : f0 + w] = mean[f0 : f0 + w]
    budget = int(cfg.time_ratio * t)
    for _ in range(cfg.time_masks):
        w = min(int(rng.integers(0, cfg.time_width + 1)), budget)
        budget -= w
        t0 = int(rng.integers(0, t - w + 1))
        out[t0 : t0 + w] = mean
    return out


# Stream ids: each step's generator is seeded by (seed, epoch, utterance, stream id). Fixed
# numbers, so adding a step never shifts another's draws.
_SPEED, _PITCH, _REVERB, _EQ, _BABBLE, _NOISE, _NARROW, _GAIN, _VTLP, _MASKS, _MASKS_B = range(1, 12)


class Augmenter:
    """The recipe's augmentation as one callable: (waveform, epoch, utterance index) -> features.

    `paths` are the training utterances babble is drawn from.
    """

    def __init__(self, cfg: AugmentConfig, feat_cfg: FeatureConfig, seed: int, paths: Sequence[Path] = ()) -> None:
        self.cfg, self.feat_cfg, self.seed = cfg, feat_cfg, seed
        candidates: list[tuple[int, bool, Step]] = [
            (_SPEED, cfg.speed, Speed(cfg.speeds)),
            (_PITCH, cfg.pitch_prob > 0, Pitch(cfg.pitch_prob, cfg.pitch_semitones)),
            (_REVERB, cfg.reverb_prob > 0, Reverb(cfg.reverb_prob, cfg.reverb_rt60, seed)),
            (_EQ, cfg.eq_prob > 0, Equalizer(cfg.eq_prob, cfg.eq_gain_db)),
            (_BABBLE, cfg.babble_prob > 0, Babble(cfg.babble_prob, cfg.babble_snr_db, cfg.babble_voices, paths)),
            (_NOISE, cfg.noise_prob > 0, Noise(cfg.noise_prob, cfg.noise_snr_db)),
            (_NARROW, cfg.narrowband_prob > 0, Narrowband(cfg.narrowband_prob)),
            (_GAIN, cfg.gain_prob > 0, Gain(cfg.gain_prob, cfg.gain_db)),
        ]
        self.steps = [(stream, step) for stream, on, step in candidates if on]

    def rng(self, epoch: int, index: int, stream: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, epoch, index, stream])

    def waveform(self, wave: torch.Tensor, epoch: int, index: int) -> torch.Tensor:
        """(N,) -> (N',) the perturbed waveform (N' != N only with speed perturbation)."""
        x = wave.numpy()
        for stream, step in self.steps:
            x = step(x, self.rng(epoch, index, stream))
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))

    def speed_factor(self, epoch: int, index: int) -> float:
        """The speed factor `waveform` applies to utterance `index` in `epoch`."""
        return Speed(self.cfg.speeds).draw(self.rng(epoch, index, _SPEED))

    def warp(self, epoch: int, index: int) -> float:
        rng = self.rng(epoch, index, _VTLP)
        if self.cfg.vtlp_prob > 0 and rng.random() < self.cfg.vtlp_prob:
            return float(rng.uniform(*self.cfg.vtlp_warp))
        return 1.0

    def masked(self, logmel: torch.Tensor, epoch: int, index: int, view: int = 0) -> torch.Tensor:
        """SpecAugment's masks on (T, n_mels); `view` 1 draws another set (CR-CTC's second view)."""
        if not self.cfg.masks:
            return logmel
        return spec_augment(logmel, self.cfg, self.rng(epoch, index, _MASKS if view == 0 else _MASKS_B))

    def active(self, epoch: int) -> bool:
        return epoch >= self.cfg.start_epoch

    def features(self, wave: torch.Tensor, epoch: int, index: int) -> torch.Tensor:
        """(N,) clean waveform -> (T, feat_cfg.dim) augmented features (before global CMVN)."""
        return self.views(wave, epoch, index, 1)[0]

    def views(self, wave: torch.Tensor, epoch: int, index: int, n: int) -> torch.Tensor:
        """(N,) clean waveform -> (n, T, feat_cfg.dim): `n` views of one perturbed audio (CR-CTC:
        2), which differ by their SpecAugment masks."""
        wave = self.waveform(wave, epoch, index)
        logmel = log_mel(wave, self.feat_cfg, self.warp(epoch, index))
        return torch.stack(
            [finish(cepstra(self.masked(logmel, epoch, index, v), self.feat_cfg), self.feat_cfg) for v in range(n)]
        )
