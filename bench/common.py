"""Helpers shared by the benchmarks: machine description and RESULTS.md sections."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from contextlib import contextmanager
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", no GPU"
    return f"{cpu}, {os.cpu_count()} cores{gpu}; Python {platform.python_version()}, torch {torch.__version__}"


def commit_of(checkout: Path | None = None) -> str:
    """The short commit a checkout (default: the current folder's) is at, or its path where git cannot say."""
    res = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=checkout, capture_output=True, text=True)
    return res.stdout.strip() or str(checkout or Path.cwd())


@contextmanager
def patched(module, **values):
    """`module`'s attributes `values` replaced inside the block and restored after it (a process
    pool started inside the block forks with them)."""
    kept = {name: getattr(module, name) for name in values}
    for name, value in values.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for name, value in kept.items():
            setattr(module, name, value)


def chosen_model(exp: Path, best_cer: float) -> tuple[Path, float]:
    """The model a training run in `exp` hands on, and its dev CER: avg.pt (the average of the last
    epochs, `train.average_last`) where its dev CER beats best.pt's, else best.pt."""
    from asr.checkpoint import load_checkpoint

    avg = exp / "avg.pt"
    avg_cer = load_checkpoint(avg)["train_state"]["dev_cer"] if avg.is_file() else float("inf")
    return (avg, avg_cer) if avg_cer < best_cer else (exp / "best.pt", best_cer)


def write_section(name: str, body: str) -> None:
    """Replace (or append) the section between <!-- name:begin --> and <!-- name:end -->."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    block = f"{begin}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(text, encoding="utf-8")


def section_note(name: str) -> str:
    """The prose of section `name` in RESULTS.md: the lines between its heading and the line
    that starts "Machine:" ("" when there is no such section), so a rerun that adds rows keeps it."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
    m = re.search(re.escape(f"<!-- {name}:begin -->") + r"\n##[^\n]*\n(.*?)^Machine:", text, re.S | re.M)
    return m.group(1).strip() if m else ""


def pick_rows(text: str, allowed) -> list[str]:
    """The comma-separated rows of --rows, each checked against `allowed`."""
    rows = [r.strip() for r in text.split(",") if r.strip()]
    unknown = [r for r in rows if r not in allowed]
    if unknown:
        raise SystemExit(f"error: unknown row(s) {', '.join(unknown)}; choose from {', '.join(allowed)}")
    return rows


def read_results(path: Path) -> dict[str, dict]:
    """Rows already measured, by name, from a results.jsonl (empty when there is none)."""
    if not path.is_file():
        return {}
    return {r["row"]: r for r in map(json.loads, path.read_text().splitlines())}


def append_result(path: Path, row: dict) -> None:
    with path.open("a") as f:
        f.write(json.dumps(row) + "\n")


def transcribed(rec, data: Path) -> list[tuple[str, str]]:
    """(reference, transcript) of each utterance of a data dir, as recognizer `rec` reads it."""
    from asr.data import read_data_dir

    utts = read_data_dir(data)
    hyps = rec.transcribe_many([str(u.path) for u in utts])
    return [(u.text, h.text or "") for u, h in zip(utts, hyps)]


def greedy_rates(model: Path, data: Path) -> dict:
    """error_rates (cer, wer, ...) of `model` decoding a data dir greedily."""
    from asr.evaluate import error_rates
    from asr.recognizer import Recognizer

    pairs = transcribed(Recognizer(model, decoder="greedy"), data)
    return error_rates([ref for ref, _ in pairs], [hyp for _, hyp in pairs])
