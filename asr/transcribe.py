"""A recognizer over long audio and many files: reading block by block, cutting at pauses,
batching pieces of similar length, sharing the batches among forked processes, joining the
pieces' results into one Transcript per input."""

from __future__ import annotations

import io
import itertools
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
import torch

from asr.audio import SAMPLE_RATE, array_blocks, check_audio, check_usable, stream_audio, worth_decoding
from asr.errors import AudioError
from asr.forked import Forked
from asr.segment import cut_at_pauses
from asr.transcript import Transcript, joined

if TYPE_CHECKING:
    from asr.recognizer import Recognizer

WINDOW_SECONDS = 300.0  # a long file's pieces sorted by length this much audio at a time (memory)
Batch = tuple[list[tuple[int, int]], list[np.ndarray]]  # ((start, length) in samples, pieces)


@dataclass
class Heard:
    """What has gone by of a stream: samples and the loudest one (for the usability check)."""

    samples: int = 0
    peak: float = 0.0


def watched(blocks: Iterable[np.ndarray], heard: Heard, name: str, max_seconds: float | None) -> Iterator[np.ndarray]:
    """`blocks` as they come, counted into `heard`; AudioError once they pass `max_seconds`."""
    for b in blocks:
        if len(b):
            heard.peak = max(heard.peak, float(np.abs(b).max()))
        heard.samples += len(b)
        if max_seconds is not None and heard.samples > max_seconds * SAMPLE_RATE:
            raise AudioError(f"{name}: audio longer than the limit of {max_seconds:g} s")
        yield b


def longest_first(window: list[tuple[int, np.ndarray]], batch_size: int) -> Iterator[Batch]:
    """A window of (start, piece) sorted longest first, `batch_size` pieces a batch."""
    window = sorted(window, key=lambda piece: -len(piece[1]))
    for k in range(0, len(window), batch_size):
        part = window[k : k + batch_size]
        yield [(start, len(seg)) for start, seg in part], [seg for _, seg in part]


def sorted_batches(pieces: Iterable[tuple[int, np.ndarray]], batch_size: int) -> Iterator[Batch]:
    """Pieces (start, samples) as they are cut -> batches of `batch_size`: a window of up to 8
    batches (at most WINDOW_SECONDS of audio) is sorted by length first, so that a batch pads
    little (consecutive pieces padded 2.2x the audio of a 30-minute file; sorted windows 1.2x).
    Pieces too short to decode are left out."""
    window: list[tuple[int, np.ndarray]] = []
    held = 0
    for start, seg in pieces:
        if not worth_decoding(seg):
            continue
        window.append((start, seg))
        held += len(seg)
        if len(window) == 8 * batch_size or held >= WINDOW_SECONDS * SAMPLE_RATE:
            yield from longest_first(window, batch_size)
            window, held = [], 0
    yield from longest_first(window, batch_size)


def source_blocks(
    source: str | Path | BinaryIO | np.ndarray | torch.Tensor, name: str | None, sample_rate: int
) -> tuple[str, Iterator[np.ndarray]]:
    """(name, 16 kHz mono blocks) of a path, "-" (standard input), an open file or an array."""
    if isinstance(source, (np.ndarray, torch.Tensor)):
        name = name or f"<array {tuple(source.shape)}>"
        return name, array_blocks(source, sample_rate, name)
    name = name or str(source)
    return name, stream_audio(io.BytesIO(sys.stdin.buffer.read()) if name == "-" else source, name=name)


def transcribe(
    rec: Recognizer,
    source: str | Path | BinaryIO | np.ndarray | torch.Tensor,
    nbest: int = 1,
    progress: Callable[[float], None] | None = None,
    times: bool = True,
    name: str | None = None,
    max_seconds: float | None = None,
    batch_size: int = 8,
    jobs: int = 1,
    sample_rate: int = SAMPLE_RATE,
    warp: float = 1.0,
    **options,
) -> Transcript:
    """Transcribe one file (or "-" for standard input), or a waveform in memory, of any length.

    The audio is read block by block and cut at pauses into pieces of at most
    rec.max_segment_seconds, each decoded as it would be alone, `batch_size` pieces at a time:
    memory does not grow with the file. With `jobs` > 1 on the CPU and more than one batch of
    pieces, the batches are shared among that many forked one-thread processes (asr/forked.py)
    while this one reads and cuts on. `progress` is called with the seconds done after every
    batch of pieces. `times`: per-character times and confidence from a forced alignment.
    `source` may be an open binary file (`name` then names it in messages), or an array of
    samples at `sample_rate` Hz ((N,), or (N, C) / (C, N) channels; float in [-1, 1] or integer
    PCM); `max_seconds` refuses longer audio (AudioError) before decoding past it; `warp`: the
    filterbank's VTLN warp (Recognizer.choose_warp); `options` go to Recognizer.decode_log_probs
    (hotwords, DecodeConfig keys). Raises AudioError.
    """
    name, blocks = source_blocks(source, name, sample_rate)
    heard = Heard()
    cut = sorted_batches(cut_at_pauses(watched(blocks, heard, name, max_seconds), rec.max_segment_seconds), batch_size)
    head = list(itertools.islice(cut, 2))  # one batch (a short file) is not worth a fork
    pieces, reached = [], 0.0  # reached: the end of the latest piece decoded, what progress reports
    with Forked(rec, jobs if len(head) > 1 else 1) as pool:
        for spans, results in pool.waves(itertools.chain(head, cut), times=times, nbest=nbest, warp=warp, **options):
            for (start, length), result in zip(spans, results):
                pieces.append((start / SAMPLE_RATE, (start + length) / SAMPLE_RATE, result))
                reached = max(reached, pieces[-1][1])
            if progress:
                progress(reached)
    pieces.sort(key=lambda piece: piece[0])
    out = joined(name, pieces, heard.samples, SAMPLE_RATE, rec.joiner)
    out.warning = check_usable(name, heard.samples, heard.peak)
    return out


def file_batches(durations: list[float], short: list[int], window: int, batch_size: int) -> list[list[int]]:
    """Batches of the inputs `short` (indices into `durations`): taken `window` at a time, each
    window sorted by duration (longest first, so that parallel processes finish together)."""
    batches = []
    for k in range(0, len(short), window):
        part = sorted(short[k : k + window], key=lambda i: -durations[i])
        batches += [part[j : j + batch_size] for j in range(0, len(part), batch_size)]
    return batches


def transcribe_many(
    rec: Recognizer,
    sources: Iterable[str | Path | tuple[str, str | None]],
    batch_size: int = 8,
    nbest: int = 1,
    progress: Callable[[str, float, float], None] | None = None,
    times: bool = True,
    jobs: int = 1,
    window: int = 256,
    warp: float = 1.0,
) -> Iterator[Transcript]:
    """Transcribe many files; results come in the order given, failures as Transcript.error.

    Files up to rec.max_segment_seconds are decoded in batches of similar length (file_batches:
    `window` files at a time, sorted by the duration in their headers). Results are handed out
    as soon as they and all before them are done, so output keeps pace with decoding instead of
    waiting for the last batch. Longer files, and standard input, are decoded piece by piece
    after the batches. With `jobs` > 1 on the CPU, the batches are shared among that many forked
    processes of one thread each (asr/forked.py), and so are the pieces of a long file; the rest
    runs here with torch's threads. `warp`: the filterbank's VTLN warp for all of them
    (Recognizer.choose_warp). A source may be a (name, error) pair from asr.audio.expand_inputs.
    """
    items = [(str(s), None) if not isinstance(s, tuple) else s for s in sources]
    durations = [check_audio(n)[0] if err is None and n != "-" else 0.0 for n, err in items]
    short = [
        i
        for i, (n, err) in enumerate(items)
        if err is None and n != "-" and 0 < durations[i] <= rec.max_segment_seconds
    ]
    batches = [[(i, items[i][0]) for i in b] for b in file_batches(durations, short, window, batch_size)]
    done: dict[int, Transcript] = {}
    nxt = 0  # the first input not yet handed out
    with Forked(rec, jobs if len(batches) >= 2 * jobs else 1) as pool:
        for results in pool.files(batches, times, nbest, warp):
            done.update(results)
            while nxt < len(items) and (items[nxt][1] is not None or nxt in done):
                yield done.pop(nxt) if nxt in done else Transcript(items[nxt][0], error=items[nxt][1])
                nxt += 1
    for i in range(nxt, len(items)):  # long files, standard input: here, each as it comes
        name, err = items[i]
        if err is not None:
            yield Transcript(name, error=err)
        elif i in done:
            yield done.pop(i)
        else:
            cb = (lambda s, name=name, total=durations[i]: progress(name, s, total)) if progress else None
            try:
                yield transcribe(
                    rec, name, nbest=nbest, progress=cb, times=times, batch_size=batch_size, jobs=jobs, warp=warp
                )
            except AudioError as exc:
                yield Transcript(name, error=str(exc))
