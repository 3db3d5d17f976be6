"""Decoding in forked processes of one thread each, for many short files or the pieces of a long one.

Why not torch's threads: the demo model's matrices are small, so at every time step the threads
of one process meet at a barrier; separate processes share nothing and also read, featurize and
decode in parallel (bench/RESULTS.md, end-to-end transcription). The children are forked after
the model is loaded and inherit it with its decoder: nothing is copied but the audio sent and the
transcripts returned. A child that dies (killed for memory, say) does not hang the command: what
it had not returned is decoded in the main process, with a warning.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from asr.recognizer import Recognizer
    from asr.transcript import Transcript

# The recognizer a child decodes with, set in the child by _init (a forked process inherits the
# pool's initializer arguments without pickling them: the loaded model is not copied).
_child_rec: Recognizer | None = None


def _init(rec: Recognizer) -> None:
    global _child_rec
    _child_rec = rec
    torch.set_num_threads(1)


def _files(args: tuple[list[tuple[int, str]], bool, int, float]) -> list[tuple[int, Transcript]]:
    return _child_rec.decode_files(*args)


def _waves(args: tuple[list, dict]) -> list[Transcript]:
    waves, options = args
    return _child_rec.decode_waves(waves, **options)


class Forked:
    """`jobs` forked one-thread processes decoding with `rec`, for the span of a `with` block.
    With jobs <= 1, or a recognizer off the CPU, there are none: the same calls decode here."""

    def __init__(self, rec: Recognizer, jobs: int) -> None:
        self.rec, self.pool, self.broken = rec, None, False
        self.jobs = jobs if jobs > 1 and rec.device.type == "cpu" else 1

    def __enter__(self) -> Forked:
        if self.jobs > 1:
            context = multiprocessing.get_context("fork")
            self.pool = ProcessPoolExecutor(self.jobs, mp_context=context, initializer=_init, initargs=(self.rec,))
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def _died(self) -> None:
        if not self.broken:
            print("warning: a decoding process died; decoding the rest in this one", file=sys.stderr)
        self.broken = True

    def files(
        self, batches: list[list[tuple[int, str]]], times: bool, nbest: int, warp: float = 1.0
    ) -> Iterator[list[tuple[int, Transcript]]]:
        """Recognizer.decode_files of each batch, in order, one batch at a time per process."""
        done = 0
        if self.pool is not None:
            try:
                for results in self.pool.map(_files, [(b, times, nbest, warp) for b in batches]):
                    done += 1
                    yield results
            except BrokenProcessPool:
                self._died()
        for batch in batches[done:]:  # no processes, or what a dead one left
            yield self.rec.decode_files(batch, times, nbest, warp)

    def waves(self, batches: Iterable[tuple[Any, list]], **options) -> Iterator[tuple[Any, list[Transcript]]]:
        """(key, Recognizer.decode_waves(waves, **options)) for each (key, waves), in order.
        `batches` is read as the processes need it, at most two per process ahead of the results
        handed out (none ahead without processes), so a long file streams through in bounded memory."""
        ahead: deque = deque()
        limit = 2 * self.jobs if self.pool is not None else 0

        def result(key, waves, future):
            if future is not None:
                try:
                    return key, future.result()
                except BrokenProcessPool:
                    self._died()
            return key, self.rec.decode_waves(waves, **options)

        for key, waves in batches:
            future = None
            if self.pool is not None and not self.broken:
                try:
                    future = self.pool.submit(_waves, (waves, options))
                except BrokenProcessPool:
                    self._died()
            ahead.append((key, waves, future))
            while len(ahead) > limit:
                yield result(*ahead.popleft())
        while ahead:
            yield result(*ahead.popleft())
