"""The decoding threads: a bounded pool that refuses instead of letting requests pile up."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from asr.serve.errors import Busy


class Pool:
    """Decoding threads with a bounded queue: `run` refuses (Busy) when workers + queue jobs are
    already in flight, instead of letting them pile up."""

    def __init__(self, workers: int, queue: int) -> None:
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="asr-decode")
        self.limit = workers + queue
        self.in_flight = 0
        self._lock = threading.Lock()

    async def run(self, fn, *args, wait: bool = False, **kwargs):
        """fn(*args, **kwargs) in a decoding thread. `wait`: take a slot even when full (a
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
