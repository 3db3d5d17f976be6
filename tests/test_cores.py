"""CPU threads for inference: the cores less those other processes keep busy."""

import math
import subprocess
import sys
from pathlib import Path

import pytest

from asr import cores


def test_an_explicit_count_is_taken_as_given():
    assert cores.cpu_threads(3) == 3


@pytest.mark.skipif(not Path("/proc/loadavg").exists(), reason="reads Linux's /proc")
def test_busy_processes_are_counted_and_the_quietest_reading_wins(monkeypatch):
    monkeypatch.setattr(cores, "_seen", [])
    code = "print('spinning', flush=True)\nwhile True: pass"
    spin = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        for p in spin:
            p.stdout.readline()  # it is in its loop now: runnable (running or waiting for a core) from here on
        busy = cores.other_running()
    finally:
        for p in spin:
            p.kill()
            p.wait()
    assert busy >= 2
    monkeypatch.setattr(cores, "other_running", lambda: None)  # no further readings
    assert cores.cpu_threads() == max(1, cores.usable_cores() - busy)  # 1 on a 2-core machine
    cores._seen.append(0)  # one reading with nobody else running: every core
    assert cores.cpu_threads() == cores.usable_cores()


@pytest.mark.parametrize(
    "files, quota",
    [
        ({"cpu.max": "150000 100000\n"}, 1.5),  # cgroup v2: 1.5 CPUs
        ({"cpu.max": "max 100000\n"}, None),  # v2, no limit
        ({"cpu/cpu.cfs_quota_us": "50000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 0.5),  # v1
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),  # v1, no limit
        ({}, None),  # no control group files (off Linux)
    ],
)
def test_a_containers_cpu_limit_bounds_the_usable_cores(tmp_path, monkeypatch, files, quota):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    monkeypatch.setattr(cores, "CGROUP", tmp_path)
    monkeypatch.setattr(cores.os, "sched_getaffinity", lambda pid: set(range(64)))  # a big machine
    assert cores.cpu_quota() == quota
    assert cores.usable_cores() == (64 if quota is None else max(1, math.ceil(quota)))
