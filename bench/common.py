"""Helpers shared by the benchmarks: the machine, the code measured (this checkout or another),
timing, peak memory, and RESULTS.md sections."""

from __future__ import annotations

import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"


def machine() -> str:
    info = Path("/proc/cpuinfo")
    m = re.search(r"^model name\s*:(.*)$", info.read_text(), re.M) if info.is_file() else None
    cpu = m.group(1).strip() if m else platform.processor() or platform.machine()
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", no GPU"
    return f"{cpu}, {os.cpu_count()} cores{gpu}; Python {platform.python_version()}, torch {torch.__version__}"


def commit_of(checkout: Path | None = None) -> str:
    """The short commit a checkout (default: the current folder's) is at, with "+changes" when its
    package or recipes differ from that commit, or its path where git cannot say."""
    res = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=checkout, capture_output=True, text=True)
    if not res.stdout.strip():
        return str(checkout or Path.cwd())
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", ":/asr", ":/recipes"], cwd=checkout, capture_output=True, text=True
    )
    return res.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def checkout(code: Path | None = None, import_here: bool = False) -> Path:
    """The root of the asr checkout `code` measures (default: this one; another is typically a
    `git worktree add DIR COMMIT`). Its package is the one imported: with `import_here`, by this
    process (call it before anything imports asr), and always by `asr_command`'s children."""
    root = (code or ROOT).resolve()
    if not (root / "asr" / "__init__.py").is_file():
        raise SystemExit(f"error: {root} is not an asr checkout (no asr/__init__.py); give --code the root of one")
    if import_here and root != ROOT:
        if (loaded := sys.modules.get("asr")) and Path(loaded.__file__).resolve().parents[1] != root:
            raise RuntimeError(f"asr already imported from {loaded.__file__}, not from {root}")
        sys.path.insert(0, str(root))  # ahead of the editable install, which Python consults last
    return root


def asr_command(root: Path, *args: str, **popen) -> subprocess.Popen:
    """`python -m asr ARGS` on checkout `root`'s package (run in `root`, which -m puts first on sys.path)."""
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    return subprocess.Popen([sys.executable, "-m", "asr", *args], cwd=root, **{**pipes, **popen})


def run_asr(root: Path, *args: str) -> str:
    """`asr_command` run to its end: its stdout, or a one-line error with the end of its stderr."""
    proc = asr_command(root, *args)
    out, err = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"asr {' '.join(args[:4])}...: exit {proc.returncode}: {err.strip()[-300:]}")
    return out


@dataclass(frozen=True)
class Timing:
    seconds: list[float]  # wall-clock duration of each timed call
    best: float
    mean: float
    median: float
    result: Any  # the last call's return value


def timed(fn: Callable[[], Any], repeat: int = 1, warmup: int = 0) -> Timing:
    """Calls `fn` `warmup` times untimed, then `repeat` times, each timed on its own."""
    for _ in range(warmup):
        fn()
    seconds, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - start)
    return Timing(seconds, min(seconds), statistics.fmean(seconds), statistics.median(seconds), result)


def peak_rss_mib(child: subprocess.Popen | None = None, wait: bool = False) -> float:
    """Peak resident memory in MiB since the start of this process or of a running `child`; with
    `wait`, sampled until the child exits (send its output to files: a full pipe would stall it)."""
    # VmHWM, the kernel's high-water mark of the process's own pages: every allocation counts
    # (torch's native ones too, unseen by tracemalloc) and no peak slips between two samples, as
    # with psutil's RSS; a waited-for child can only rise unseen in its last 20 ms. Not ru_maxrss
    # (getrusage, wait4): a child's starts at its parent's high-water mark, which vfork and exec
    # carry over, so a child of a bench that imported torch reads at least the bench's size.
    peak = 0.0
    while True:
        peak = max(peak, _high_water_mib(child.pid if child else "self"))
        if not wait or child.poll() is not None:
            return peak
        time.sleep(0.02)


def forked_peak_rss_mib(child: subprocess.Popen) -> list[float]:
    """Peak resident memory in MiB of each running process that `child` forked (a server's
    decoding processes). Pages they still share with `child` count in both."""
    forked = Path(f"/proc/{child.pid}/task/{child.pid}/children").read_text().split()
    return [_high_water_mib(pid) for pid in forked]


def _high_water_mib(pid: int | str) -> float:
    """VmHWM of a process in MiB; 0 once it has exited."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:  # reaped
        return 0.0
    m = re.search(r"^VmHWM:\s*(\d+) kB", status, re.M)  # none once it has exited
    return int(m.group(1)) / 1024 if m else 0.0


def write_section(name: str, body: str, results: Path = RESULTS) -> None:
    """Replace (or append) the section of `results` between <!-- name:begin --> and <!-- name:end -->."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    text = results.read_text(encoding="utf-8") if results.exists() else f"# {results.stem}\n"
    block = f"{begin}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    results.write_text(text, encoding="utf-8")


def table(head: str, rows: Iterable[Iterable[object]]) -> list[str]:
    """A markdown table's lines: `head` the header's cells joined by " | ", each row's cells formatted."""
    return [f"| {head} |", "|" + "---|" * (head.count(" | ") + 1), *(f"| {' | '.join(map(str, r))} |" for r in rows)]


def report(section: str, lines: list[str], write: bool = True) -> None:
    """Print a section and (`write`) put it in RESULTS.md."""
    print("\n".join(lines))
    if write:
        write_section(section, "\n".join(lines))
