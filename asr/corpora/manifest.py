"""A manifest file -> a Kaldi-style data dir: CSV, TSV or JSON Lines with `path` and `text`
columns (fields), and optionally `id`, `speaker`, and `start`/`end` (seconds: a segment of a
longer file, written as Kaldi `segments`). Relative paths are read relative to the
manifest's folder; ids default to the audio file's name (made unique by the entry's number,
counted from 1, where a name repeats)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from asr.corpora.common import Entry, Report, write_corpus
from asr.errors import UserError

FORMATS = {".csv": ",", ".tsv": "\t", ".jsonl": None, ".json": None}
EXTRA = " fields beyond the header"  # where csv puts a row's fields that the header has no name for


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, mapping) for each entry of the manifest (JSON's values: of any JSON type)."""
    sep = FORMATS.get(path.suffix.lower())
    if path.suffix.lower() not in FORMATS:
        raise UserError(f"{path}: expected a .csv, .tsv or .jsonl manifest")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark (as spreadsheet programs write) is not a column's name
    except UnicodeDecodeError as exc:
        at = exc.object[: exc.start].count(b"\n") + 1  # (what was decoded: after a byte-order mark)
        raise UserError(f"{path}:{at}: not UTF-8 text; save the manifest as UTF-8") from None
    with io.StringIO(text, newline="") as f:
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
        reader = csv.DictReader(f, delimiter=sep, restkey=EXTRA)
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
        why = None
        if not audio or text is None:
            why = f"no path or text (line {n})"
        elif any(str(v).strip() for v in row.get(EXTRA) or ()):  # (a trailing separator adds an empty one)
            why = f"more fields than the header (line {n}: quote a text that holds the separator)"
        elif not isinstance(text, str):
            why = f"text is not a string (line {n}: {text!r})"
        if why:
            report.skip(str(row.get("id") or f"line{n}"), str(audio or ""), why)
            continue
        audio = Path(str(audio))
        audio = audio if audio.is_absolute() else path.parent / audio
        # an id made from the file's name loses its spaces (a Kaldi id is one word); a given id is checked as given
        uid = str(row.get("id") or "_".join(audio.stem.split()))
        if not row.get("id") and uid in seen:
            uid = f"{uid}-{k}"
        seen.add(uid)
        try:
            start = float(row.get("start") or 0.0)
            end = float(row["end"]) if row.get("end") not in (None, "") else None
        except (TypeError, ValueError):
            report.skip(uid, audio, f"start/end not numbers (line {n}: {row.get('start')!r}, {row.get('end')!r})")
            continue
        speaker = str(row["speaker"]) if row.get("speaker") else None
        entries.append(Entry(uid, audio, str(text), speaker, start, end))
    return write_corpus(out_dir, entries, report)
