"""How many CPU threads inference should use: the cores this process may run on, less those that
other processes keep busy. Light on purpose (no torch): the CLI samples the load before its
imports and again before the model runs."""

from __future__ import annotations

import math
import os
from pathlib import Path

_seen: list[int] = []  # other processes' runnable threads at each sample


CGROUP = Path("/sys/fs/cgroup")  # where Linux shows this process's control group's limits


def usable_cores() -> int:
    """CPU cores this process may run on: its affinity mask (which taskset and cpusets narrow),
    and no more than its control group's CPU quota (a container's CPU limit), rounded up."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = cpu_quota()
    return max(1, min(cores, math.ceil(quota))) if quota else cores


def cpu_quota() -> float | None:
    """The CPUs' worth of time this process's control group may use (cgroup v2 cpu.max, or v1
    cpu.cfs_quota_us over cpu.cfs_period_us); None without a limit, or off Linux."""
    try:
        if (CGROUP / "cpu.max").is_file():
            quota, period = (CGROUP / "cpu.max").read_text().split()[:2]
        else:
            v1 = CGROUP / "cpu"
            quota, period = ((v1 / f).read_text().strip() for f in ("cpu.cfs_quota_us", "cpu.cfs_period_us"))
        return None if quota in ("max", "-1") else int(quota) / int(period)
    except (OSError, ValueError, ZeroDivisionError):
        return None


def other_running() -> int | None:
    """Threads of other processes running or waiting for a CPU right now (Linux: /proc/loadavg's
    runnable count less this process's own runnable threads); None where that cannot be read.
    Each reading is also kept for cpu_threads."""
    try:
        runnable = int(Path("/proc/loadavg").read_text().split()[3].split("/")[0])
        own = sum(
            (task / "stat").read_text().rsplit(")", 1)[1].split()[0] == "R"
            for task in Path("/proc/self/task").iterdir()
        )
    except (OSError, ValueError, IndexError):
        return None
    _seen.append(max(0, runnable - own))
    return _seen[-1]


def cpu_threads(requested: int = 0) -> int:
    """Intra-op threads for CPU inference: `requested` (> 0), or the usable cores less the threads
    other processes kept running in every reading so far (one is taken now; a process that ran
    for a moment in one reading does not count), at least 1.

    Why: PyTorch's OpenMP threads spin at the barrier of every small operation, so one that shares
    its core with another busy process stalls the others: on a 2-core machine kept busy by two
    other processes, 2 threads transcribed an hour of audio 1.9x slower than 1 (bench/RESULTS.md)."""
    if requested > 0:
        return requested
    other_running()
    return max(1, usable_cores() - min(_seen)) if _seen else usable_cores()
