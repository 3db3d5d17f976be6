"""LibriSpeech (OpenSLR 12) -> one Kaldi-style data dir per subset.

A subset folder holds SPEAKER/CHAPTER/SPEAKER-CHAPTER.trans.txt ("ID TRANSCRIPT" lines) beside
ID.flac. Given the release's LibriSpeech/ folder, every subset in it (train-clean-100, dev-clean,
...) becomes OUT/SUBSET; given one subset's folder, it becomes OUT itself.
"""

from __future__ import annotations

from pathlib import Path

from asr.corpora.common import Entry, Report, write_corpus
from asr.errors import UserError


def _subset(trans: Path, root: Path) -> str:
    parts = trans.relative_to(root).parts  # [SUBSET/]SPEAKER/CHAPTER/FILE
    return parts[0] if len(parts) == 4 else ""


def prepare_librispeech(corpus_dir: str | Path, out_dir: str | Path) -> list[Report]:
    """Write one data dir per subset found under corpus_dir; returns their reports."""
    root = Path(corpus_dir)
    if not root.is_dir():
        raise UserError(f"{root}: not a folder (expected LibriSpeech/ or one of its subsets, e.g. dev-clean/)")
    transcripts = sorted(root.glob("*/*/*.trans.txt")) + sorted(root.glob("*/*/*/*.trans.txt"))
    if not transcripts:
        raise UserError(
            f"{root}: no SPEAKER/CHAPTER/*.trans.txt found; point to LibriSpeech/ or a subset such as "
            "LibriSpeech/dev-clean (https://www.openslr.org/12/)"
        )
    subsets: dict[str, tuple[list[Entry], Report]] = {}
    for trans in transcripts:
        name = _subset(trans, root)
        entries, report = subsets.setdefault(name, ([], Report(Path(out_dir) / name)))
        speaker = trans.parent.parent.name
        listed = set()
        for line in trans.read_text(encoding="utf-8").splitlines():
            uid, _, text = line.strip().partition(" ")
            if not uid:
                continue
            listed.add(uid)
            entries.append(Entry(uid, trans.parent / f"{uid}.flac", text, speaker))
        for flac in sorted(trans.parent.glob("*.flac")):
            if flac.stem not in listed:
                report.skip(flac.stem, flac, "no transcript")
    return [write_corpus(report.out_dir, entries, report) for entries, report in subsets.values()]
