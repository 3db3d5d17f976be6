"""AISHELL-1 (OpenSLR resource 33) -> Kaldi-style train/dev/test data dirs."""

from __future__ import annotations

from pathlib import Path

from asr.corpora.common import Entry, Report, write_corpus
from asr.errors import UserError
from asr.vocab import normalize_text


def download_hint(corpus_dir: Path) -> str:
    return (
        f"get AISHELL-1 from OpenSLR resource 33 (https://www.openslr.org/33/, data_aishell.tgz), "
        f"extract it into {corpus_dir}, then extract the per-speaker archives in "
        f"{corpus_dir}/data_aishell/wav (for f in *.tar.gz; do tar xzf $f; done)"
    )


SPLITS = ("train", "dev", "test")
NO_TRANSCRIPT = "no transcript"


def prepare_aishell(corpus_dir: str | Path, out_dir: str | Path) -> list[Report]:
    """Read CORPUS/data_aishell/{wav/SPLIT/SPEAKER/*.wav, transcript/aishell_transcript_v0.8.txt}
    into out_dir/{train,dev,test} through write_corpus (the speaker is the wav's folder; the
    transcript's word segmentation is removed). A wav without a transcript is skipped with that
    reason. Returns one Report per split."""
    corpus_dir = Path(corpus_dir).resolve()
    root = corpus_dir / "data_aishell"
    transcript = root / "transcript" / "aishell_transcript_v0.8.txt"
    if not transcript.is_file():
        raise UserError(f"AISHELL-1 not found: looked for {transcript}; {download_hint(corpus_dir)}")
    texts = {}
    for line in transcript.read_text(encoding="utf-8").splitlines():
        parts = line.split(maxsplit=1)  # any run of whitespace ends the id, as in Kaldi
        if parts:
            texts[parts[0]] = normalize_text(parts[1] if len(parts) > 1 else "")
    reports = []
    for split in SPLITS:
        split_dir = root / "wav" / split
        wavs = sorted(split_dir.glob("*/*.wav"))
        if not wavs:
            archives = list((root / "wav").glob("*.tar.gz"))
            what = "its per-speaker archives are not extracted" if archives else "no wav files found"
            raise UserError(f"AISHELL-1 at {root}: {split_dir}: {what}; {download_hint(corpus_dir)}")
        report, entries = Report(Path(out_dir) / split), []
        for wav in wavs:
            if texts.get(wav.stem):
                entries.append(Entry(wav.stem, wav, texts[wav.stem], speaker=wav.parent.name))
            else:
                report.skip(wav.stem, wav, NO_TRANSCRIPT)
        reports.append(write_corpus(report.out_dir, entries, report))
    return reports
