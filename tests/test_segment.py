"""Cutting audio at pauses: short streams stay whole, long ones are cut inside pauses, nothing lost."""

import numpy as np
import pytest

from asr.segment import cut_at_pauses

SR = 16000


def speech_and_pauses(spans: list[tuple[float, float]], total: float, seed: int = 0) -> np.ndarray:
    """Noise bursts (speech stand-ins) at the given (start, end) seconds, silence elsewhere."""
    rng = np.random.default_rng(seed)
    wave = np.zeros(int(total * SR), np.float32)
    for start, end in spans:
        wave[int(start * SR) : int(end * SR)] = 0.3 * rng.standard_normal(int(end * SR) - int(start * SR))
    return wave


def blocks_of(wave: np.ndarray, seconds: float):
    n = int(seconds * SR)
    return (wave[i : i + n] for i in range(0, len(wave), n))


@pytest.mark.parametrize("block", [0.37, 10.0])
def test_a_short_stream_is_one_piece_whatever_its_pauses(block):
    wave = speech_and_pauses([(0.2, 2.0), (3.0, 5.0), (6.5, 9.0)], 10.0)
    pieces = list(cut_at_pauses(blocks_of(wave, block), max_seconds=20.0))
    assert len(pieces) == 1 and pieces[0][0] == 0
    assert np.array_equal(pieces[0][1], wave)


@pytest.mark.parametrize("block", [0.37, 10.0])
def test_a_long_stream_is_cut_inside_its_pauses(block):
    spans = [(0.2 + 3.0 * k, 2.2 + 3.0 * k) for k in range(10)]  # 2 s of speech, 1 s of pause
    wave = speech_and_pauses(spans, 30.0)
    pieces = list(cut_at_pauses(blocks_of(wave, block), max_seconds=20.0))
    assert np.array_equal(np.concatenate([p for _, p in pieces]), wave)  # nothing lost or doubled
    assert [s for s, _ in pieces] == list(np.cumsum([0] + [len(p) for _, p in pieces[:-1]]))
    voiced = [p for _, p in pieces if np.abs(p).max() > 0]  # the trailing pause may be a piece of its own
    assert len(voiced) == len(spans)  # a piece per burst: every pause is longer than 0.5 s
    for start, piece in pieces:
        assert all(not (start < s * SR < start + len(piece) < e * SR) for s, e in spans)  # no burst split


def test_a_long_stream_without_pauses_is_cut_at_the_cap():
    wave = speech_and_pauses([(0.0, 45.0)], 45.0)
    pieces = list(cut_at_pauses(blocks_of(wave, 10.0), max_seconds=20.0))
    assert all(len(p) <= 20 * SR for _, p in pieces) and len(pieces) == 3
    assert np.array_equal(np.concatenate([p for _, p in pieces]), wave)
