"""A manifest file -> a Kaldi-style data dir: CSV, TSV or JSON Lines with `path` and `text`
columns (fields), and optionally `id`, `speaker`, and `start`/`end` (seconds: a segment of a
longer file, written as Kaldi `segments`). Relative paths are read relative to the
manifest's folder; ids default to the audio file's name (made unique by the entry's number,
counted from 1, where a name repeats)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from asr.corpora.common import Entry, Report, write_corpus
from asr.errors import UserError

FORMATS = {".csv": ",", ".tsv": "\t", ".jsonl": None, ".json": None}


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, mapping) for each entry of the manifest (JSON's values: of any JSON type)."""
    sep = FORMATS.get(path.suffix.lower())
    if path.suffix.lower() not in FORMATS:
        raise UserError(f"{path}: expected a .csv, .tsv or .jsonl manifest")
    with open(path, newline="", encoding="utf-8") as f:
        if sep is None:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise UserError(f"{path}:{n}: not valid JSON ({exc.msg})") from None
                if not isinstance(row, dict):
                    raise UserError(f"{path}:{n}: expected a JSON object per line")
                yield n, row
            return
        reader = csv.DictReader(f, delimiter=sep)
        missing = {"path", "text"} - set(reader.fieldnames or ())
        if missing:
            raise UserError(f"{path}: no {' or '.join(sorted(missing))} column in the header line")
        for n, row in enumerate(reader, 2):
            yield n, row


def prepare_manifest(manifest: str | Path, out_dir: str | Path) -> Report:
    path = Path(manifest)
    if not path.is_file():
        raise UserError(f"{path}: manifest not found")
    report = Report(Path(out_dir))
    entries, seen = [], set()
    for k, (n, row) in enumerate(_rows(path), 1):
        audio, text = row.get("path"), row.get("text")
        if not audio or text is None:
            report.skip(str(row.get("id") or f"line{n}"), audio or "", f"line {n}: no path or text")
            continue
        audio = Path(str(audio))
        audio = audio if audio.is_absolute() else path.parent / audio
        uid = str(row.get("id") or audio.stem)
        if not row.get("id") and uid in seen:
            uid = f"{uid}-{k}"
        seen.add(uid)
        try:
            start = float(row.get("start") or 0.0)
            end = float(row["end"]) if row.get("end") not in (None, "") else None
        except (TypeError, ValueError):
            report.skip(uid, audio, f"line {n}: start/end not numbers ({row.get('start')!r}, {row.get('end')!r})")
            continue
        speaker = str(row["speaker"]) if row.get("speaker") else None
        entries.append(Entry(uid, audio, str(text), speaker, start, end))
    return write_corpus(out_dir, entries, report)
