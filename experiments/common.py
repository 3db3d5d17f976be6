"""Helpers shared by the experiments: each writes its table into its own results file."""

from __future__ import annotations

import json
from pathlib import Path

from bench.common import commit_of, machine, write_section  # noqa: F401  (re-exported for the experiments)

HERE = Path(__file__).resolve().parent


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


def transcribed(rec, data: Path, **options) -> list[tuple[str, str]]:
    """(reference, transcript) of each utterance of a data dir, as recognizer `rec` reads it
    (`options`: Recognizer.transcribe_many's, e.g. options=rec.overrides(alpha=...))."""
    from asr.datadir import read_data_dir
    from asr.transcribe import Clip

    utts = read_data_dir(data)
    hyps = rec.transcribe_many([Clip(str(u.path), u.start, u.end) for u in utts], **options)
    return [(u.text, h.text or "") for u, h in zip(utts, hyps)]


def greedy_rates(model: Path, data: Path) -> dict:
    """error_rates (cer, wer, ...) of `model` decoding a data dir greedily."""
    from asr.evaluate import error_rates
    from asr.recognizer import Recognizer

    pairs = transcribed(Recognizer(model, decoder="greedy"), data)
    return error_rates([ref for ref, _ in pairs], [hyp for _, hyp in pairs])
