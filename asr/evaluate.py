"""Scoring: CER and WER with jiwer on normalized text, and per-utterance reports."""

from __future__ import annotations

import json
from pathlib import Path

import jiwer

from asr.vocab import normalize_text


def error_rates(refs: list[str], hyps: list[str]) -> dict[str, float]:
    """Corpus-level {"cer", "wer"} over normalized texts.

    Unsegmented Mandarin has one "word" per sentence, so its WER is the sentence error
    rate and CER is the metric to read. Utterances with an empty reference are skipped by
    jiwer's definition (no errors can be normalized by zero reference length).
    """
    pairs = [(normalize_text(r), normalize_text(h)) for r, h in zip(refs, hyps, strict=True)]
    pairs = [(r, h) for r, h in pairs if r]
    if not pairs:
        return {"cer": 0.0, "wer": 0.0}
    r, h = [p[0] for p in pairs], [p[1] for p in pairs]
    return {"cer": float(jiwer.cer(r, h)), "wer": float(jiwer.wer(r, h))}


def write_report(path: str | Path, rows: list[dict], rates: dict[str, float], failed: dict[str, str]) -> None:
    """JSON report: cer, wer, utterance count and per-utterance id/ref/hyp (+ files that failed)."""
    report = {
        "cer": rates["cer"],
        "wer": rates["wer"],
        "utterances": rows,
        "num_utterances": len(rows),
        "failed": [{"id": k, "error": v} for k, v in failed.items()],
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
