"""Cutting long audio into pieces at pauses (energy-based voice activity detection), with memory
bounded by the longest piece."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np

HOP = 160  # 10 ms energy frames at 16 kHz
SMOOTH = 20  # 200 ms: the fallback cut goes in the quietest stretch this long


def frame_energy_db(wave: np.ndarray) -> np.ndarray:
    n = len(wave) // HOP
    power = (wave[: n * HOP].reshape(n, HOP).astype(np.float64) ** 2).mean(axis=1)
    return 10 * np.log10(power + 1e-12)


def quiet_threshold(energy_db: np.ndarray | Sequence[float]) -> float:
    """The level (dB) below which a 10 ms frame is a pause: 35 dB under the loud frames (the 95th
    percentile of `energy_db`), or under -60 dBFS."""
    return _quiet_under(float(np.percentile(energy_db, 95)))


def _quiet_under(loud_db: float) -> float:
    """quiet_threshold of a signal whose loud frames (95th percentile) are at `loud_db`."""
    return max(loud_db - 35.0, -60.0)


def levels(energy_db: np.ndarray) -> tuple[float, float]:
    """The levels (dB) of a signal's quiet frames (the 10th percentile of `energy_db`) and of its
    loud ones (the 95th)."""
    low, high = np.percentile(energy_db, [10, 95]) if len(energy_db) else (0.0, 0.0)
    return float(low), float(high)


def loud_frames(
    energy_db: np.ndarray, loudness: float = 1 / 3, quiet_loud: tuple[float, float] | None = None
) -> np.ndarray:
    """Which 10 ms frames (frame_energy_db) hold speech: louder than `loudness` of the way from
    the quiet frames to the loud ones (`quiet_loud`: levels(energy_db), computed here unless
    given), and than quiet_threshold, in runs of 30 ms or more. Stricter than the pauses cut at:
    it bounds character times (asr.chartimes)."""
    if len(energy_db) < 3:
        return np.ones(len(energy_db), bool)
    low, high = quiet_loud or levels(energy_db)
    loud = energy_db > max(low + (high - low) * loudness, _quiet_under(high))
    # runs of 30 ms at least: a click (or noise's edge at the end of a file) is not speech
    core = np.zeros_like(loud)
    core[1:-1] = loud[:-2] & loud[1:-1] & loud[2:]  # the middles of loud 30 ms
    out = core.copy()
    out[:-1] |= core[1:]
    out[1:] |= core[:-1]
    return out


def quietest_point(wave: np.ndarray) -> int:
    """Sample index at the centre of the quietest 200 ms stretch of `wave`."""
    energy = frame_energy_db(wave)
    if len(energy) <= SMOOTH:
        return len(wave) // 2
    smooth = np.convolve(energy, np.ones(SMOOTH) / SMOOTH, mode="valid")
    return int(np.argmin(smooth) + SMOOTH // 2) * HOP


def first_pause(wave: np.ndarray, min_piece: int, min_pause: int, final: bool) -> int | None:
    """Centre (in samples) of the first pause of at least min_pause samples that starts after
    min_piece samples: a run of 10 ms frames 35 dB below the loud frames (or under -60 dBFS).
    A pause still running at the end of `wave` counts only when `final`."""
    energy = frame_energy_db(wave)
    if len(energy) == 0:
        return None
    quiet = energy < quiet_threshold(energy)
    need = max(1, min_pause // HOP)
    run_start = None
    for i, q in enumerate(np.append(quiet, False)):
        if q and run_start is None:
            run_start = i
        elif not q and run_start is not None:
            if i - run_start >= need and run_start * HOP >= min_piece and (i < len(quiet) or final):
                return (run_start + i) // 2 * HOP
            run_start = None
    return None


def cut_at_pauses(
    blocks: Iterable[np.ndarray],
    max_seconds: float = 20.0,
    min_seconds: float = 1.0,
    min_pause_seconds: float = 0.5,
    sample_rate: int = 16000,
) -> Iterator[tuple[int, np.ndarray]]:
    """Group a stream of waveform blocks into (start_sample, piece) pairs.

    A stream of at most max_seconds is one piece, whole (as a batch of short files is decoded).
    A longer one is cut: a piece ends in the middle of the first pause (min_pause_seconds of
    quiet) after at least min_seconds of audio, so pieces follow the utterances and no
    character is split; a piece that reaches max_seconds without a pause is cut at its quietest
    200 ms instead. Only the unfinished piece is buffered, so memory does not grow with the stream.
    """
    max_len, min_len = int(max_seconds * sample_rate), int(min_seconds * sample_rate)
    min_pause = int(min_pause_seconds * sample_rate)
    buf = np.zeros(0, np.float32)
    offset = 0

    def pieces(final: bool) -> Iterator[tuple[int, np.ndarray]]:
        nonlocal buf, offset
        if offset == 0 and len(buf) <= max_len:  # the stream may yet end short: keep it whole
            if final and len(buf):
                yield 0, buf
                offset, buf = len(buf), buf[:0]
            return
        while len(buf):
            cut = first_pause(buf[:max_len], min_len, min_pause, final or len(buf) > max_len)
            if cut is None:
                if len(buf) < max_len:
                    if final:
                        cut = len(buf)
                    else:
                        return
                else:
                    cut = max_len // 2 + quietest_point(buf[max_len // 2 : max_len])
            yield offset, buf[:cut]
            offset += cut
            buf = buf[cut:]

    for block in blocks:
        buf = np.concatenate([buf, block]) if len(buf) else block
        yield from pieces(final=False)
    yield from pieces(final=True)
