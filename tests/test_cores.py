"""CPU threads for inference: the cores less those other processes keep busy."""

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
