"""The request threads: a bounded pool that refuses instead of letting requests pile up, and a
batcher that decodes the pieces of concurrent requests together, in forked decoding processes.

On a CPU a batch of pieces costs less than the pieces one by one: eight 3 s pieces took 49 ms
as one batch and 76 ms one at a time (the demo model's size, one thread, a 2-core AMD EPYC);
under load, the batcher is what keeps latency down. The batches are decoded in forked
processes of one thread each (asr.forked) where `asr serve` has them: the Python around the
model's arithmetic (features, search, character times) then runs beside the server's HTTP
work instead of waiting for the one interpreter lock."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from asr.forked import Forked
from asr.recognizer import DecodeOverrides, Recognizer
from asr.serve.errors import Busy
from asr.transcript import Transcript


class Pool:
    """Threads for requests with a bounded queue: `run` refuses (Busy) when `workers + queue`
    jobs are already in flight, instead of letting them pile up. Every admitted job runs at once
    (reading and cutting its audio); their decoding goes through one Batcher of `workers` slots."""

    def __init__(self, workers: int, queue: int) -> None:
        self.limit = workers + queue
        self.executor = ThreadPoolExecutor(max_workers=self.limit, thread_name_prefix="asr-request")
        self.in_flight = 0
        self._lock = threading.Lock()

    async def run(self, fn, *args, wait: bool = False, **kwargs):
        """fn(*args, **kwargs) in a request thread. `wait`: take a slot even when full (a
        stream's final result must not be dropped; its partials may be)."""
        with self._lock:
            if self.in_flight >= self.limit and not wait:
                raise Busy()
            self.in_flight += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self.executor, lambda: fn(*args, **kwargs))
        finally:
            with self._lock:
                self.in_flight -= 1


@dataclass(eq=False)
class _Job:
    waves: list[np.ndarray]
    times: bool
    warp: float
    options: DecodeOverrides
    results: list[Transcript] | None = None
    error: BaseException | None = None
    done: bool = False

    def same_call(self, other: _Job) -> bool:
        return (self.times, self.warp, self.options) == (other.times, other.warp, other.options)


@dataclass(eq=False)
class Batcher:
    """`decode` has Recognizer.decode_waves's signature and results; called from many threads, it
    decodes what they asked for in batches of up to `max_pieces` pieces that share their options,
    at most `workers` batches at a time. No thread waits for a batch to fill: a batch is what is
    waiting when a slot frees, so one request alone is decoded at once. A thread whose job is
    in another's batch waits for it, and a batch that fails is decoded again one job at a time,
    so that a bad piece fails only its own call. With `decoders`, each batch is decoded in one of
    its processes (as many processes as `workers`); without, in the calling thread."""

    rec: Recognizer
    workers: int = 2
    max_pieces: int = 16
    decoders: Forked | None = None
    _queue: list[_Job] = field(default_factory=list, init=False)
    _busy: int = field(default=0, init=False)
    _cond: threading.Condition = field(default_factory=threading.Condition, init=False)

    def decode(
        self,
        waves: Sequence[np.ndarray],
        times: bool = False,
        warp: float = 1.0,
        options: DecodeOverrides | None = None,
    ) -> list[Transcript]:
        job = _Job(list(waves), times, warp, options or DecodeOverrides())
        with self._cond:
            self._queue.append(job)
            while job in self._queue:  # not yet taken: take a batch (the oldest, perhaps others') when a slot is free
                if self._busy < self.workers:
                    self._run(self._take())
                else:
                    self._cond.wait()
            while not job.done:  # in a batch another thread decodes
                self._cond.wait()
        if job.error is not None:
            raise job.error
        assert job.results is not None
        return job.results

    def _take(self) -> list[_Job]:
        """The oldest job and those after it asking the same, up to max_pieces pieces (under the lock)."""
        first, pieces = self._queue[0], 0
        batch: list[_Job] = []
        for job in list(self._queue):
            if job.same_call(first) and (not batch or pieces + len(job.waves) <= self.max_pieces):
                batch.append(job)
                pieces += len(job.waves)
                self._queue.remove(job)
        return batch

    def _run(self, batch: list[_Job]) -> None:
        """Decode `batch` outside the lock (entered and left holding it); hand out the results,
        whatever happens, and wake the threads that wait for them."""
        self._busy += 1
        self._cond.release()
        try:
            self._decode(batch)
        finally:
            self._cond.acquire()
            self._busy -= 1
            for job in batch:
                job.done = True
            self._cond.notify_all()

    def _decode(self, batch: list[_Job]) -> None:
        first = batch[0]
        try:
            call = ([w for job in batch for w in job.waves], first.times, first.warp, first.options)
            decoders = self.decoders
            results = decoders.call(_decode_waves, call) if decoders is not None else _decode_waves(self.rec, call)
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error = exc
                return
            for job in batch:  # which call's piece failed: each alone, its own error
                self._decode([job])
            return
        k = 0
        for job in batch:
            job.results = results[k : k + len(job.waves)]
            k += len(job.waves)


def _decode_waves(rec: Recognizer, call: tuple) -> list[Transcript]:
    """rec.decode_waves(waves, times, warp, options), a module-level function a forked decoding
    process finds by name."""
    waves, times, warp, options = call
    return rec.decode_waves(waves, times=times, warp=warp, options=options)
