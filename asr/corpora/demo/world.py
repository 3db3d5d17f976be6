"""WORLD re-synthesis: a human voice's recorded syllables read as another speaker (another F0
and vocal-tract length), so that one recorded speaker stands for many."""

from __future__ import annotations

import numpy as np

from asr.audio import SAMPLE_RATE, resample
from asr.corpora.demo.speakers import SPEAKER_KINDS
from asr.corpora.syllables import read_syllable
from asr.errors import UserError

FRAME_MS = 5.0
# The frequency map is built piecewise over these knots (Hz): the corpus was first rendered that
# way, and rebuilding it as one product would change the audio in its last bits.
_KNOTS_HZ = (0.0, 400.0, 1000.0, 1800.0, 2800.0, 4000.0, 8000.0)
_cache: dict[tuple[str, str, str | None], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def import_pyworld():
    """pyworld, or a one-line error saying how to install it."""
    import warnings

    try:
        with warnings.catch_warnings():  # pyworld 0.3.5 imports the deprecated pkg_resources
            warnings.simplefilter("ignore")
            import pyworld
    except ImportError as e:
        raise UserError(f"WORLD re-synthesis of the human voice needs pyworld ({e}): pip install 'asr[demo]'") from e
    return pyworld


def _analysis(voice: str, ch: str, yanyu_dir: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """WORLD's F0 contour, spectral envelope and aperiodicity of one syllable (cached per process)."""
    key = (voice, ch, yanyu_dir)
    if key not in _cache:
        pw = import_pyworld()
        x = resample(*read_syllable(voice, ch, yanyu_dir)).astype(np.float64)
        f0, t = pw.dio(x, SAMPLE_RATE, f0_floor=50.0, f0_ceil=500.0, frame_period=FRAME_MS)
        f0 = pw.stonemask(x, f0, t, SAMPLE_RATE)
        _cache[key] = (f0, pw.cheaptrick(x, f0, t, SAMPLE_RATE), pw.d4c(x, f0, t, SAMPLE_RATE))
    return _cache[key]


def _source_bins(bins: int, tract: float) -> np.ndarray:
    """For each of `bins` envelope bins (0 to Nyquist), the source bin it takes its value from:
    frequencies scaled by `tract`. Past the source's top it holds the top."""
    edges = np.array(_KNOTS_HZ) / _KNOTS_HZ[-1] * (bins - 1)
    slopes = tract * np.ones(edges.size - 1)
    targets = np.concatenate([[0.0], np.cumsum(np.diff(edges) * slopes)])
    out = np.arange(bins, dtype=np.float64)
    src = np.interp(out, targets, edges)
    beyond = out > targets[-1]
    src[beyond] = edges[-1] + (out[beyond] - targets[-1]) / slopes[-1]
    return np.minimum(src, bins - 1)


def warp_envelope(env: np.ndarray, scale: float) -> np.ndarray:
    """Move a (frames, bins) spectral envelope's features up in frequency by `scale`:
    env'(f) = env(f / scale), linearly interpolated between bins."""
    src = _source_bins(env.shape[1], scale)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, env.shape[1] - 1)
    frac = src - lo
    return np.ascontiguousarray(env[:, lo] * (1 - frac) + env[:, hi] * frac)


def world_resynthesize(
    text: str, voice: str, f0_median: float, tract: float, f0_spread: float = 1.0, yanyu_dir: str | None = None
) -> list[tuple[np.ndarray, int]]:
    """The syllables of `text` read by `voice`, re-synthesized by WORLD as another speaker: the
    F0 contour moved to median `f0_median` Hz (tone shapes kept, their range in log F0 scaled by
    `f0_spread`) and the spectral envelope stretched by the vocal-tract scale `tract` (formants x
    `tract`). Returns (wave, sample rate) per syllable, each as long as its source."""
    pw = import_pyworld()
    frames = [_analysis(voice, ch, yanyu_dir) for ch in text]
    voiced = np.concatenate([f0[f0 > 0] for f0, _, _ in frames])
    median = float(np.median(voiced)) if voiced.size else f0_median
    out = []
    for f0, sp, ap in frames:
        new_f0 = np.where(f0 > 0, f0_median * (np.maximum(f0, 1.0) / median) ** f0_spread, 0.0)
        y = pw.synthesize(new_f0, warp_envelope(sp, tract), warp_envelope(ap, tract), SAMPLE_RATE, FRAME_MS)
        out.append((y.astype(np.float32), SAMPLE_RATE))
    return out


def random_speaker(
    text: str, voice: str, rng: np.random.Generator, yanyu_dir: str | None = None
) -> list[tuple[np.ndarray, int]]:
    """world_resynthesize as a random speaker of SPEAKER_KINDS (tone range scaled by 0.8-1.25)."""
    shares = np.array([w for w, _, _ in SPEAKER_KINDS.values()])
    _, f0_range, tract_range = list(SPEAKER_KINDS.values())[rng.choice(len(shares), p=shares / shares.sum())]
    f0, tract, spread = rng.uniform(*f0_range), rng.uniform(*tract_range), rng.uniform(0.8, 1.25)
    return world_resynthesize(text, voice, f0, tract, spread, yanyu_dir)
