"""`asr prepare manifest` throughput: entries per second and peak memory on a large manifest.

    make bench-prepare         # CPU, ~1 min: 100k entries over 2,000 short wav files

The manifest (CSV) lists `--entries` utterances; each names one of `--files` real wav files (0.5 s,
16 kHz), so every entry's audio header is opened and checked as in a real corpus (the files stay
in the page cache: this measures asr's own cost per entry, not the disk's). Peak RSS is the
process's maximum resident set size, Python and the imports included.
"""

from __future__ import annotations

import argparse
import csv
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf

from asr.corpora.manifest import prepare_manifest
from bench.common import machine, peak_rss_mib, report, timed

WORDS = "零一二三四五六七八九十点半年月日号从到去我想"


def make_manifest(work: Path, entries: int, files: int) -> Path:
    rng = np.random.default_rng(0)
    audio = work / "audio"
    audio.mkdir(parents=True, exist_ok=True)
    for k in range(files):
        sf.write(str(audio / f"f{k:05d}.wav"), (0.1 * rng.standard_normal(8000)).astype(np.float32), 16000)
    manifest = work / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "path", "text", "speaker"])
        for i in range(entries):
            text = "".join(WORDS[j] for j in rng.integers(0, len(WORDS), 8))
            w.writerow([f"utt{i:07d}", f"audio/f{i % files:05d}.wav", text, f"spk{i % 500:03d}"])
    return manifest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--work", default="exp/bench_prepare")
    args = ap.parse_args()
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    manifest = make_manifest(work, args.entries, args.files)
    run = timed(lambda: prepare_manifest(manifest, work / "out"))
    seconds, rss_mib = run.best, peak_rss_mib()
    assert run.result.utterances == args.entries, run.result.line()
    body = f"""
## `asr prepare manifest` throughput (bench/prepare.py)

Machine: {machine()}. A CSV manifest of {args.entries:,} entries (id, path, text, speaker) over
{args.files:,} wav files of 0.5 s (each header opened and checked per entry, files in the page cache).

| entries | seconds | entries/s | peak RSS |
|---|---|---|---|
| {args.entries:,} | {seconds:.1f} | {args.entries / seconds:,.0f} | {rss_mib:.0f} MiB |
"""
    report("prepare", body.splitlines())


if __name__ == "__main__":
    main()
