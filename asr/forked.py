"""Decoding in forked processes of one thread each, for many short files or the pieces of a long one.

Why not torch's threads: the demo model's matrices are small, so at every time step the threads
of one process meet at a barrier; separate processes share nothing and also read, featurize and
decode in parallel (bench/RESULTS.md, end-to-end transcription). The children are forked after
the model is loaded and inherit it with its decoder: nothing is copied but the audio sent and the
transcripts returned. A child that dies (killed for memory, say) does not hang the command: what
it had not returned is decoded in the main process, with a warning (the pool stops its other
processes then: the rest is decoded in the main process). Linux only: elsewhere forking a process
that has loaded torch is not safe (macOS) or not possible (Windows), and the calls run here.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import pickle
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any, TypeVar

import torch

if TYPE_CHECKING:
    from asr.recognizer import Recognizer

CAN_FORK = sys.platform.startswith("linux")

# The recognizer a child decodes with, set in the child by _init (a forked process inherits the
# pool's initializer arguments without pickling them: the loaded model is not copied).
_child_rec: Recognizer | None = None

T = TypeVar("T")
R = TypeVar("R")


def _init(rec: Recognizer, parent: int) -> None:
    global _child_rec
    _child_rec = rec
    torch.set_num_threads(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it shuts the pool down
    _die_with(parent)


def _die_with(parent: int) -> None:
    """End this process when the thread of `parent` that forked it ends, even killed outright
    (SIGKILL, the OOM killer): it would otherwise wait for work forever, holding what it inherited
    (a server's listening socket). Linux's PR_SET_PDEATHSIG."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
    if os.getppid() != parent:  # it ended before the line above
        os._exit(0)


def _call(task: tuple[Callable[[Recognizer, Any], Any], Any]) -> Any:
    fn, item = task
    assert _child_rec is not None, "called outside a forked decoding process"
    try:
        return fn(_child_rec, item)
    except Exception as exc:  # one the parent cannot rebuild would break the whole pool
        try:
            pickle.loads(pickle.dumps(exc))
        except Exception:
            raise RuntimeError(f"{type(exc).__name__}: {exc}") from None
        raise


class Forked:
    """`jobs` forked one-thread processes decoding with `rec`, for the span of a `with` block.
    With jobs <= 1, a recognizer off the CPU, or off Linux, there are none: the same calls run here.
    `fork_one`: one job is a forked process too (a server, whose own process has requests to
    read and answer meanwhile)."""

    def __init__(self, rec: Recognizer, jobs: int, fork_one: bool = False) -> None:
        self.rec, self.broken = rec, False
        self.pool: ProcessPoolExecutor | None = None
        self.forks = CAN_FORK and rec.device.type == "cpu" and (jobs > 1 or (fork_one and jobs == 1))
        self.jobs = jobs if self.forks else 1
        self._lock = threading.Lock()

    def __enter__(self) -> Forked:
        if self.forks:
            context = multiprocessing.get_context("fork")
            self.pool = ProcessPoolExecutor(
                self.jobs, mp_context=context, initializer=_init, initargs=(self.rec, os.getpid())
            )
            # The first call forks every process: now, before this process starts any thread of its own
            self.pool.submit(int).result()
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    @property
    def running(self) -> int:
        """The decoding processes at work: 0 without them, or after one died."""
        return self.jobs if self.pool is not None and not self.broken else 0

    def _died(self) -> None:
        with self._lock:  # many threads may find it out at once: one says it
            said, self.broken = self.broken, True
        if not said:
            print("warning: a decoding process died; decoding the rest in this one", file=sys.stderr)

    def call(self, fn: Callable[[Recognizer, T], R], item: T) -> R:
        """fn(rec, item) in one of the processes (here without them, or after one died): its
        result, or the exception it raised. Many threads may call at once."""
        return next(self.map(fn, [item]))

    def map(self, fn: Callable[[Recognizer, T], R], items: Iterable[T]) -> Iterator[R]:
        """fn(rec, item) for each item, in order; `fn` is a module-level function (the children
        find it by name). `items` is read as the processes need it, at most two per process ahead
        of the results handed out (none ahead without processes), so a long file streams through
        in bounded memory. What a dead process had not returned is done here."""
        ahead: deque = deque()
        limit = 2 * self.jobs if self.pool is not None else 0

        def result(item, future):
            if future is not None:
                try:
                    return future.result()
                except BrokenProcessPool:
                    self._died()
            return fn(self.rec, item)

        for item in items:
            future = None
            if self.pool is not None and not self.broken:
                try:
                    future = self.pool.submit(_call, (fn, item))
                except BrokenProcessPool:
                    self._died()
            ahead.append((item, future))
            while len(ahead) > limit:
                yield result(*ahead.popleft())
        while ahead:
            yield result(*ahead.popleft())
