"""Streaming recognition state for one connection: raw audio chunks in, what to decode out.

The model is bidirectional: it needs a segment's whole audio, so a partial result is the open
segment decoded again from its start, every `partial_every` seconds of new audio. A segment
closes at a pause (a run of quiet 10 ms frames, the rule asr/segment.py cuts files with) or when
it reaches `max_segment` seconds (cut at its quietest 200 ms, as files are); its final result is
decoded once. The decisions are made 10 ms frame by frame, so they do not depend on how the
audio was chunked. Nothing here decodes: `push` and `finish` say which audio to decode, and the
server runs the model off its event loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import soxr

from asr.audio import SAMPLE_RATE, check_rate, worth_decoding
from asr.errors import AudioError
from asr.segment import HOP, frame_energy_db, quiet_threshold, quietest_point

FORMATS: dict[str, np.dtype] = {"pcm16": np.dtype("<i2"), "float32": np.dtype("<f4")}


class StreamTooLong(AudioError):
    """More audio than the stream's limit."""


@dataclass(frozen=True)
class StreamConfig:
    sample_rate: int
    format: str = "pcm16"  # pcm16 (little-endian int16) | float32 (little-endian, -1..1)
    partial_every: float = 0.5  # seconds of new audio between partial results (0: none)
    endpoint_pause: float = 0.5  # seconds of quiet that close a segment
    min_segment: float = 0.5  # a segment is at least this long before a pause may close it
    max_segment: float = 20.0  # a segment longer than this is cut at its quietest 200 ms
    max_seconds: float = 3600.0  # the whole stream

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise AudioError(f"format: expected {' or '.join(FORMATS)}, got {self.format!r}")
        check_rate("sample_rate", self.sample_rate)


@dataclass
class Piece:
    """Audio to decode: a partial (the open segment so far) or a final (a closed segment)."""

    kind: str  # "partial" | "final"
    segment: int  # 0, 1, ... in stream order
    start: float  # seconds from the start of the stream
    audio: np.ndarray  # float32 at 16 kHz

    @property
    def end(self) -> float:
        return self.start + len(self.audio) / SAMPLE_RATE


class Stream:
    """Raw chunks -> 16 kHz audio -> segments. `push(chunk)` and `finish()` return the Pieces to
    decode, in order; a segment with no speech in it yields no final."""

    def __init__(self, cfg: StreamConfig) -> None:
        self.cfg = cfg
        self._dtype = FORMATS[cfg.format]
        self._rest = b""  # bytes of an incomplete sample carried to the next chunk
        self._resampler = (
            soxr.ResampleStream(cfg.sample_rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
            if cfg.sample_rate != SAMPLE_RATE
            else None
        )
        self.segment = 0
        self._buf = np.zeros(0, np.float32)  # the open segment
        self._start = 0  # its first sample, counted from the start of the stream
        self._since_partial = 0
        self._energy: list[float] = []  # dB of the open segment's 10 ms frames judged so far
        self._scanned = 0  # samples of the open segment judged
        self._quiet_from: int | None = None  # the frame where the current quiet run began
        self.received = 0.0  # seconds of audio received

    def push(self, chunk: bytes) -> list[Piece]:
        data = self._rest + chunk
        usable = len(data) - len(data) % self._dtype.itemsize
        self._rest = data[usable:]
        raw = np.frombuffer(data[:usable], self._dtype)
        wave = raw.astype(np.float32) / 32768.0 if self._dtype.kind == "i" else raw.astype(np.float32)
        if not np.isfinite(wave).all():
            raise AudioError("audio contains NaN or infinite samples")
        self.received += len(raw) / self.cfg.sample_rate
        if self.received > self.cfg.max_seconds:
            raise StreamTooLong(f"stream longer than the limit of {self.cfg.max_seconds:g} s")
        if self._resampler:
            wave = self._resampler.resample_chunk(wave, last=False)
        return self._add(wave)

    def finish(self) -> list[Piece]:
        """The end of the stream: the open segment's final (if it holds speech)."""
        tail = self._resampler.resample_chunk(np.zeros(0, np.float32), last=True) if self._resampler else None
        pieces = self._add(tail) if tail is not None and len(tail) else []
        return pieces + self._close(len(self._buf))

    def _add(self, wave: np.ndarray) -> list[Piece]:
        """Judge the new audio 10 ms frame by frame, as it would be judged had it come in any
        other chunking: the same audio always gives the same segments."""
        cfg, pieces = self.cfg, []
        self._buf = np.concatenate([self._buf, wave]) if len(self._buf) else wave.astype(np.float32)
        self._since_partial += len(wave)
        max_len, min_len = int(cfg.max_segment * SAMPLE_RATE), int(cfg.min_segment * SAMPLE_RATE)
        need = max(1, int(cfg.endpoint_pause * SAMPLE_RATE) // HOP)
        while self._scanned + HOP <= len(self._buf):
            self._energy.append(float(frame_energy_db(self._buf[self._scanned : self._scanned + HOP])[0]))
            self._scanned += HOP
            if self._energy[-1] < quiet_threshold(self._energy):  # judged against the segment so far
                if self._quiet_from is None:
                    self._quiet_from = len(self._energy) - 1
                if len(self._energy) - self._quiet_from >= need and self._quiet_from * HOP >= min_len:
                    pieces += self._close((self._quiet_from + need // 2) * HOP)
                    continue
            else:
                self._quiet_from = None
            if self._scanned >= max_len:
                pieces += self._close(max_len // 2 + quietest_point(self._buf[max_len // 2 : max_len]))
        if cfg.partial_every and self._since_partial >= cfg.partial_every * SAMPLE_RATE and self._speech(self._buf):
            self._since_partial = 0
            pieces.append(Piece("partial", self.segment, self._start / SAMPLE_RATE, self._buf.copy()))
        return pieces

    def _close(self, cut: int) -> list[Piece]:
        """Close the open segment at sample `cut`; the rest opens the next one."""
        audio, self._buf = self._buf[:cut], self._buf[cut:]
        pieces = []
        if self._speech(audio):
            pieces.append(Piece("final", self.segment, self._start / SAMPLE_RATE, audio))
            self.segment += 1
        self._start += cut
        self._since_partial = len(self._buf)
        self._energy, self._scanned, self._quiet_from = [], 0, None  # the rest is judged afresh
        return pieces

    @staticmethod
    def _speech(audio: np.ndarray) -> bool:
        return worth_decoding(audio)  # as a long file's pieces are judged
