"""AISHELL-1 (OpenSLR resource 33) -> Kaldi-style train/dev/test data dirs."""

from __future__ import annotations

from pathlib import Path

from asr.data import Utterance, write_data_dir
from asr.errors import UserError
from asr.vocab import normalize_text


def download_hint(corpus_dir: Path) -> str:
    return (
        f"get AISHELL-1 from OpenSLR resource 33 (https://www.openslr.org/33/, data_aishell.tgz), "
        f"extract it into {corpus_dir}, then extract the per-speaker archives in "
        f"{corpus_dir}/data_aishell/wav (for f in *.tar.gz; do tar xzf $f; done)"
    )


SPLITS = ("train", "dev", "test")


def prepare_aishell(corpus_dir: str | Path, out_dir: str | Path) -> dict[str, dict[str, int]]:
    """Read CORPUS/data_aishell/{wav/SPLIT/SPEAKER/*.wav, transcript/aishell_transcript_v0.8.txt}.

    Writes out_dir/{train,dev,test}/{wav.scp,text,utt2spk} with absolute wav paths and
    normalized transcripts. Wavs without a transcript are skipped and counted. Returns
    {split: {"utterances": n, "no_transcript": m}}.
    """
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
    counts = {}
    for split in SPLITS:
        split_dir = root / "wav" / split
        wavs = sorted(split_dir.glob("*/*.wav"))
        if not wavs:
            archives = list((root / "wav").glob("*.tar.gz"))
            what = "its per-speaker archives are not extracted" if archives else "no wav files found"
            raise UserError(f"AISHELL-1 at {root}: {split_dir}: {what}; {download_hint(corpus_dir)}")
        utts, speakers, missing = [], {}, 0
        for wav in wavs:
            uid = wav.stem
            if not texts.get(uid):
                missing += 1
                continue
            utts.append(Utterance(uid, wav, texts[uid]))
            speakers[uid] = wav.parent.name
        write_data_dir(Path(out_dir) / split, utts, speakers)
        counts[split] = {"utterances": len(utts), "no_transcript": missing}
    return counts
