"""What every corpus layout ends in: checked entries -> one Kaldi-style data dir, and a report of
the entries left out, each with its reason.

A layout module (librispeech.py, commonvoice.py, manifest.py, lhotse_cuts.py) only reads its
layout into `Entry`s (and may skip entries for reasons only it knows, such as Common Voice
votes); `write_corpus` checks the audio and the text the same way for all of them.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from asr.audio import SAMPLE_RATE
from asr.datadir import Utterance, write_data_dir
from asr.features import FRAME_LENGTH
from asr.vocab import normalize_text


@dataclass(frozen=True)
class Entry:
    id: str
    path: Path
    text: str
    speaker: str | None = None
    start: float = 0.0  # a segment of the file, in seconds (Kaldi `segments`) ...
    end: float | None = None  # ... None: to its end


@dataclass
class Report:
    """What a data dir was written from: utterances kept, hours, and skipped entries by reason."""

    out_dir: Path
    utterances: int = 0
    seconds: float = 0.0
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # (id, path, reason)

    def skip(self, uid: str, path: str | Path, reason: str) -> None:
        self.skipped.append((uid, str(path), reason))

    def reasons(self) -> Counter:
        """Skipped entries by the reason's kind (the text before any colon or parenthesis)."""
        return Counter(reason.split(":")[0].split(" (")[0] for _, _, reason in self.skipped)

    def line(self) -> str:
        """One line for the console: where, how much, what was left out and why."""
        kept = f"{self.out_dir}: {self.utterances} utterances ({self.seconds / 3600:.2f} h)"
        if not self.skipped:
            return kept + ", nothing skipped"
        why = ", ".join(f"{n} {kind}" for kind, n in sorted(self.reasons().items()))
        return f"{kept}; skipped {len(self.skipped)} ({why}): see {self.out_dir / 'skipped.tsv'}"


def write_corpus(out_dir: str | Path, entries: list[Entry], report: Report | None = None) -> Report:
    """Check `entries` and write the good ones to out_dir as a Kaldi-style data dir: wav.scp,
    text (as written; empty after normalization counts as empty), utt2spk, spk2utt, utt2dur, and `segments` where
    entries are parts of files, sorted by id; the skipped ones (missing, unreadable, empty or too short
    audio in load_audio's words, a segment past the file's end, empty transcript, repeated id),
    with the layout's own skips passed in `report`, go to skipped.tsv. Returns the report."""
    out_dir = Path(out_dir)
    report = report or Report(out_dir)
    report.out_dir = out_dir
    kept: dict[str, tuple[Utterance, str, float]] = {}
    for e in entries:
        if e.id in kept:
            report.skip(e.id, e.path, "repeated id")
            continue
        if any(c.isspace() for c in e.id) or not e.id:
            report.skip(e.id, e.path, "id empty or with spaces")
            continue
        # as written (on one line): the recipe's `text:` section normalizes it for training and scoring
        text = " ".join(e.text.split())
        utt = Utterance(e.id, e.path.resolve(), text, e.start, e.end)
        if not normalize_text(text):
            report.skip(e.id, e.path, "empty transcript")
            continue
        seconds, why = utt.check()
        if not why and seconds * SAMPLE_RATE < FRAME_LENGTH:  # as the recognizer and training refuse it
            why = "audio shorter than one 25 ms frame"
        if why:
            report.skip(e.id, e.path, why)
            continue
        kept[e.id] = (utt, e.speaker or e.id, seconds)
    ids = sorted(kept)
    write_data_dir(out_dir, [kept[uid][0] for uid in ids], {uid: kept[uid][1] for uid in ids})
    by_speaker: dict[str, list[str]] = {}
    for uid in ids:
        by_speaker.setdefault(kept[uid][1], []).append(uid)
    rows = [f"{spk} {' '.join(utts)}\n" for spk, utts in sorted(by_speaker.items())]
    (out_dir / "spk2utt").write_text("".join(rows), encoding="utf-8")
    (out_dir / "utt2dur").write_text("".join(f"{uid} {kept[uid][2]:.3f}\n" for uid in ids), encoding="utf-8")
    with open(out_dir / "skipped.tsv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(["id", "path", "reason"])
        w.writerows(report.skipped)
    report.utterances = len(ids)
    report.seconds = sum(kept[uid][2] for uid in ids)
    return report
