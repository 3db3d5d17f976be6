"""The one way audio reaches a recognizer: sources (paths, standard input, open files, bytes,
arrays, clips of files) read and checked, long audio read block by block and cut at pauses,
pieces of similar length batched, the batches shared among forked processes, and the pieces'
results joined into one Transcript per input. evaluate, align and lm tune read audio here too."""

from __future__ import annotations

import io
import itertools
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
import torch

from asr.audio import (
    SAMPLE_RATE,
    array_blocks,
    as_source,
    check_audio,
    check_usable,
    load_audio,
    stream_audio,
    worth_decoding,
)
from asr.errors import AudioError, UserError, check_range
from asr.features import WARP_RANGE
from asr.forked import Forked
from asr.segment import cut_at_pauses
from asr.transcript import Transcript, joined

if TYPE_CHECKING:
    from asr.recognizer import DecodeOverrides, Recognizer

WINDOW_SECONDS = 300.0  # a long file's pieces sorted by length this much audio at a time (memory)
Batch = tuple[list[tuple[int, int]], list[np.ndarray]]  # ((start, length) in samples, pieces)
Decode = Callable[..., list[Transcript]]  # Recognizer.decode_waves's signature: (waves, times, warp, options)


@dataclass(frozen=True)
class Clip:
    """Part of an audio file (a Kaldi `segments` entry): from `start` to `end` seconds (None: its end)."""

    path: str
    start: float = 0.0
    end: float | None = None


Source = str | Path | BinaryIO | bytes | np.ndarray | torch.Tensor | Clip


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


def source_blocks(source: Source, name: str | None, sample_rate: int) -> tuple[str, Iterator[np.ndarray]]:
    """(name, 16 kHz mono blocks) of a path, "-" (standard input), an open file, a file's bytes,
    a Clip or an array of samples at `sample_rate`; AudioError for anything else (as_source)."""
    if isinstance(source, Clip):
        name = name or source.path
        return name, stream_audio(source.path, name=name, start=source.start, end=source.end)
    readable, name = as_source(source, name)
    if isinstance(readable, (np.ndarray, torch.Tensor)):
        return name, array_blocks(readable, sample_rate, name)
    stdin = isinstance(readable, str) and readable == "-"
    return name, stream_audio(io.BytesIO(sys.stdin.buffer.read()) if stdin else readable, name=name)


def cut(
    rec: Recognizer, source: Source, name: str | None = None, sample_rate: int = SAMPLE_RATE, max_seconds=None
) -> tuple[str, Heard, Iterator[tuple[int, np.ndarray]]]:
    """A source as transcribe decodes it: (name, what has been heard so far, its pieces (start
    sample, samples) cut at pauses, at most rec.max_segment_seconds each, read as they are asked
    for). Pieces too short or too quiet to decode are among them (sorted_batches leaves them out)."""
    name, blocks = source_blocks(source, name, sample_rate)
    heard = Heard()
    return name, heard, cut_at_pauses(watched(blocks, heard, name, max_seconds), rec.max_segment_seconds)


def _pieces(rec: Recognizer, task: tuple[list, list[np.ndarray], bool, float, DecodeOverrides, Decode | None]):
    """A batch of a long input's pieces decoded (what Forked.map runs): (spans, Transcripts)."""
    spans, waves, times, warp, options, decode = task
    return spans, (decode or rec.decode_waves)(waves, times=times, warp=warp, options=options)


def _options(
    rec: Recognizer, options: DecodeOverrides | None, decoding: dict, batch_size: int, warp: float
) -> DecodeOverrides:
    """The call's decoding options, checked before any audio is read, with its batch size and warp."""
    check_range("batch_size", batch_size, "[1, inf)", whole=True)
    check_range("warp", warp, WARP_RANGE, why="the filterbank's VTLN warp; 1: none")
    if options is not None and decoding:
        raise UserError(f"give decoding options as `options` or as keywords ({', '.join(decoding)}), not both")
    if options is not None:
        return options
    made = rec.overrides(**decoding)
    if made.warning:  # hotwords the model cannot spell: said once, as load_model says its own
        warnings.warn(made.warning, UserWarning, stacklevel=3)
    return made


def transcribe(
    rec: Recognizer,
    source: Source,
    progress: Callable[[float], None] | None = None,
    times: bool = True,
    name: str | None = None,
    max_seconds: float | None = None,
    batch_size: int = 8,
    jobs: int = 1,
    sample_rate: int = SAMPLE_RATE,
    warp: float = 1.0,
    options: DecodeOverrides | None = None,
    decode: Decode | None = None,
    **decoding,
) -> Transcript:
    """Transcribe one file (or "-" for standard input), a file's bytes, a Clip of a file, or a
    waveform in memory, of any length.

    The audio is read block by block and cut at pauses into pieces of at most
    rec.max_segment_seconds, each decoded as it would be alone, `batch_size` pieces at a time:
    memory does not grow with the file. With `jobs` > 1 on the CPU and more than one batch of
    pieces, the batches are shared among that many forked one-thread processes (asr/forked.py)
    while this one reads and cuts on. `progress` is called with the seconds done after every
    batch of pieces. `times`: per-character times and confidence from a forced alignment.
    `source` may be an open binary file (`name` then names it in messages), or an array of
    samples at `sample_rate` Hz ((N,), or (N, C) / (C, N) channels; float in [-1, 1] or integer
    PCM, 8-bit unsigned); `max_seconds` refuses longer audio (AudioError) before decoding past it;
    `warp`: the filterbank's VTLN warp (Recognizer.choose_warp). Decoding options: `decoding`
    keywords (nbest, decoder, beam, alpha, beta, hotwords, hotword_boost, ...: Recognizer.overrides)
    or one `options` made by it, checked before any audio is read (UserError). `decode`: what
    decodes a batch of pieces instead of rec.decode_waves, with its signature (the server's
    batcher, which decodes concurrent requests' pieces together); it runs here (jobs 1).
    Raises AudioError.
    """
    opts = _options(rec, options, decoding, batch_size, warp)
    name, heard, cut_pieces = cut(rec, source, name, sample_rate, max_seconds)
    cut_batches = sorted_batches(cut_pieces, batch_size)
    head = list(itertools.islice(cut_batches, 2))  # one batch (a short file) is not worth a fork
    tasks = ((spans, waves, times, warp, opts, decode) for spans, waves in itertools.chain(head, cut_batches))
    pieces: list[tuple[float, float, Transcript]] = []
    reached = 0.0  # reached: the end of the latest piece decoded, what progress reports
    with Forked(rec, jobs if len(head) > 1 and decode is None else 1) as pool:
        for spans, results in pool.map(_pieces, tasks):
            for (start, length), result in zip(spans, results):
                pieces.append((start / SAMPLE_RATE, (start + length) / SAMPLE_RATE, result))
                reached = max(reached, pieces[-1][1])
            if progress:
                progress(reached)
    pieces.sort(key=lambda piece: piece[0])
    out = joined(name, pieces, heard.samples, SAMPLE_RATE, rec.joiner)
    out.warning = check_usable(name, heard.samples, heard.peak)
    return out


def _name(source: str | Clip) -> str:
    """An input's name in results and messages: its file's path."""
    return source.path if isinstance(source, Clip) else str(source)


def read_whole(source: str | Clip) -> tuple[str, torch.Tensor, float, str | None]:
    """A short input read whole and checked: (name, 16 kHz wave, peak, warning: digital silence).
    AudioError when it cannot be read or is shorter than one frame."""
    name = _name(source)
    clip = source if isinstance(source, Clip) else Clip(name)
    wave = load_audio(clip.path, start=clip.start, end=clip.end)
    peak = float(wave.abs().max())
    return name, wave, peak, check_usable(name, len(wave), peak)


def read_waves(
    sources: Iterable[str | Clip], on_error: Callable[[int, str], None] | None = None
) -> Iterator[tuple[int, torch.Tensor]]:
    """(index, wave) of each usable input, read whole in order (what choose_warp and lm tune
    decode: digital silence too, as a file of it is transcribed); an unreadable one goes to
    on_error(index, why)."""
    for i, source in enumerate(sources):
        try:
            _, wave, _, _ = read_whole(source)
        except AudioError as exc:
            if on_error:
                on_error(i, str(exc))
            continue
        yield i, wave


def _files(rec: Recognizer, task: tuple[list[tuple[int, str | Clip]], bool, float, DecodeOverrides]):
    """Short inputs (index, source) read and decoded together (what Forked.map runs) ->
    (index, Transcript) each; an unreadable one's Transcript holds its error."""
    batch, times, warp, options = task
    out, ready = [], []
    for i, source in batch:
        try:
            name, wave, peak, silent = read_whole(source)
        except AudioError as exc:
            out.append((i, Transcript(_name(source), error=str(exc))))
            continue
        if silent:
            out.append((i, _whole(rec, name, len(wave), None, silent)))
        else:
            ready.append((i, name, wave))
    if ready:
        results = rec.decode_waves([w for _, _, w in ready], times=times, warp=warp, options=options)
        out += [(i, _whole(rec, name, len(wave), r, None)) for (i, name, wave), r in zip(ready, results)]
    return out


def _whole(rec: Recognizer, name: str, samples: int, piece: Transcript | None, warning: str | None) -> Transcript:
    """An input decoded in one piece (None: nothing worth decoding) as its Transcript."""
    pieces = [] if piece is None else [(0.0, samples / SAMPLE_RATE, piece)]
    out = joined(name, pieces, samples, SAMPLE_RATE, rec.joiner)
    out.warning = warning
    return out


def file_batches(durations: list[float], short: list[int], window: int, batch_size: int) -> list[list[int]]:
    """Batches of the inputs `short` (indices into `durations`): taken `window` at a time, each
    window sorted by duration (longest first, so that parallel processes finish together)."""
    batches = []
    for k in range(0, len(short), window):
        part = sorted(short[k : k + window], key=lambda i: -durations[i])
        batches += [part[j : j + batch_size] for j in range(0, len(part), batch_size)]
    return batches


def _duration(source: str | Clip) -> tuple[float, str | None]:
    """An input's seconds from its header (a clip's own length), or (0.0, why it cannot be read)."""
    if isinstance(source, Clip):
        seconds, why = check_audio(source.path)
        end = seconds if source.end is None else min(source.end, seconds)
        return (max(end - source.start, 0.0), None) if why is None else (0.0, why)
    return check_audio(source)


def transcribe_many(
    rec: Recognizer,
    sources: Iterable[str | Path | Clip | tuple[str, str | None]],
    batch_size: int = 8,
    progress: Callable[[str, float, float], None] | None = None,
    times: bool = True,
    jobs: int = 1,
    window: int = 256,
    warp: float = 1.0,
    options: DecodeOverrides | None = None,
    **decoding,
) -> Iterator[Transcript]:
    """Transcribe many inputs (paths, "-", Clips of files); results come in the order given,
    failures as Transcript.error. Decoding options as in `transcribe`, checked before any audio
    is read (UserError).

    Inputs up to rec.max_segment_seconds are decoded in batches of similar length (file_batches:
    `window` inputs at a time, sorted by the duration in their headers). Results are handed out
    as soon as they and all before them are done, so output keeps pace with decoding instead of
    waiting for the last batch. Longer inputs, and standard input, are decoded piece by piece
    after the batches. With `jobs` > 1 on the CPU, the batches are shared among that many forked
    processes of one thread each (asr/forked.py), and so are the pieces of a long input; the rest
    runs here with torch's threads. `warp`: the filterbank's VTLN warp for all of them
    (Recognizer.choose_warp). A source may be a (name, error) pair from asr.audio.expand_inputs.
    """
    opts = _options(rec, options, decoding, batch_size, warp)
    check_range("window", window, "[1, inf)", whole=True)
    if isinstance(sources, (str, Path, bytes)):
        raise UserError("transcribe_many takes a list of inputs; for one, call transcribe")
    items = [_item(k, s) for k, s in enumerate(sources)]
    return _many(rec, items, batch_size, progress, times, jobs, window, warp, opts)


def _item(k: int, source) -> tuple[str | Clip, str | None]:
    """transcribe_many's input `k` as (path, "-" or Clip; error or None); UserError for any
    other kind of source, before any audio is read."""
    if isinstance(source, tuple):
        return source
    if isinstance(source, (str, os.PathLike, Clip)):
        return (source if isinstance(source, Clip) else os.fspath(source)), None
    raise UserError(
        f"transcribe_many: input {k} is {type(source).__name__}: give paths, '-' or Clips "
        "(bytes, arrays and open files go to transcribe, one at a time)"
    )


def _many(rec: Recognizer, items: list, batch_size, progress, times, jobs, window, warp, opts) -> Iterator[Transcript]:
    """transcribe_many's work, once its options are checked."""
    durations = [_duration(s)[0] if err is None and s != "-" else 0.0 for s, err in items]
    short = [
        i
        for i, (s, err) in enumerate(items)
        if err is None and s != "-" and 0 < durations[i] <= rec.max_segment_seconds
    ]
    batches = [[(i, items[i][0]) for i in b] for b in file_batches(durations, short, window, batch_size)]
    done: dict[int, Transcript] = {}
    nxt = 0  # the first input not yet handed out
    with Forked(rec, jobs if len(batches) >= 2 * jobs else 1) as pool:
        for results in pool.map(_files, ((b, times, warp, opts) for b in batches)):
            done.update(results)
            while nxt < len(items) and (items[nxt][1] is not None or nxt in done):
                yield done.pop(nxt) if nxt in done else Transcript(_name(items[nxt][0]), error=items[nxt][1])
                nxt += 1
    for i in range(nxt, len(items)):  # long inputs, standard input: here, each as it comes
        yield (
            done.pop(i)
            if i in done
            else _long(rec, items[i], durations[i], progress, times, batch_size, jobs, warp, opts)
        )


def _long(rec: Recognizer, item, total: float, progress, times, batch_size, jobs, warp, opts) -> Transcript:
    """One input of transcribe_many decoded piece by piece (or its error)."""
    source, err = item
    name = _name(source)
    if err is not None:
        return Transcript(name, error=err)
    cb = (lambda s: progress(name, s, total)) if progress else None
    try:
        return transcribe(
            rec, source, progress=cb, times=times, name=name, batch_size=batch_size, jobs=jobs, warp=warp, options=opts
        )
    except AudioError as exc:
        return Transcript(name, error=str(exc))
