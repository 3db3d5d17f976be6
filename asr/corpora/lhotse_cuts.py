"""A Lhotse CutSet manifest -> a Kaldi-style data dir, so that every corpus Lhotse has a recipe
for can be trained on. Needs the lhotse package (pip install 'asr[lhotse]').

A cut becomes one utterance: its supervisions' texts joined in time order, the first
supervision's speaker, its recording's audio file (a part of a longer recording becomes a Kaldi
segment). Cuts whose audio is not a file (a URL, a command, memory) or that take some channels
of several are skipped with that reason.
"""

from __future__ import annotations

from pathlib import Path

from asr.corpora.common import Entry, Report, write_corpus
from asr.errors import UserError


def prepare_lhotse(cuts_path: str | Path, out_dir: str | Path) -> Report:
    try:
        from lhotse import CutSet
    except ImportError:
        raise UserError("reading Lhotse manifests needs the lhotse package: pip install 'asr[lhotse]'") from None
    path = Path(cuts_path)
    if not path.is_file():
        raise UserError(f"{path}: Lhotse cut manifest not found")
    try:
        cuts = CutSet.from_file(path)
    except Exception as exc:  # lhotse raises many kinds for a file that is not a CutSet
        raise UserError(f"{path}: not a Lhotse CutSet manifest ({type(exc).__name__}: {exc})") from None
    report = Report(Path(out_dir))
    entries = []
    for cut in cuts:
        rec = cut.recording if cut.has_recording else None
        if rec is None:
            report.skip(cut.id, "", "no recording")
            continue
        if len(rec.sources) != 1 or rec.sources[0].type != "file":
            report.skip(cut.id, rec.id, f"audio not one file ({', '.join(s.type for s in rec.sources)})")
            continue
        audio = Path(rec.sources[0].source)
        whole = cut.start < 1e-3 and cut.end > rec.duration - 1e-3
        if len(rec.channel_ids) > 1 and cut.num_channels < len(rec.channel_ids):
            report.skip(cut.id, audio, f"{cut.num_channels} of {len(rec.channel_ids)} channels")
            continue
        sups = sorted(cut.supervisions, key=lambda s: s.start)
        text = " ".join(s.text for s in sups if s.text)
        speaker = next((s.speaker for s in sups if s.speaker), None)
        entries.append(Entry(cut.id, audio, text, speaker, *((0.0, None) if whole else (cut.start, cut.end))))
    return write_corpus(out_dir, entries, report)
