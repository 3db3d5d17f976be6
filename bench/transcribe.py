"""End-to-end throughput of `asr transcribe` on a folder: every file of the demo test set (load,
resample, features, model, decode, write), greedy and beam 10 + the character LM, as x real time.
Each figure is the median of --repeats runs of the whole command, start-up included; start-up
alone (the same command on one 0.5 s file) is reported beside it.

    make bench-transcribe     # after make demo and make demo-lm
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from bench.common import machine, write_section

ROOT = Path(__file__).resolve().parents[1]


def timed(cmd: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if res.returncode:
        raise SystemExit(f"{' '.join(cmd[:6])}...: exit {res.returncode}: {res.stderr.strip()[-300:]}")
    return seconds, res.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=ROOT / "exp/demo/best.pt")
    ap.add_argument("--folder", type=Path, default=ROOT / "data/demo/wav/test")
    ap.add_argument("--decode-lm", type=Path, default=ROOT / "exp/demo/decode_lm.yaml", help="from make demo-lm")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    for need in (args.model, args.folder, args.decode_lm):
        if not need.exists():
            raise SystemExit(f"{need} not found: run make demo and make demo-lm first")
    wavs = sorted(args.folder.rglob("*.wav"))
    audio_s = sum(sf.info(w).duration for w in wavs)
    asr = [sys.executable, "-m", "asr", "transcribe", "--model", str(args.model), "--device", "cpu"]
    with tempfile.TemporaryDirectory() as tmp:
        short = Path(tmp) / "short.wav"
        sf.write(short, np.zeros(8000, np.float32), 16000)
        startup = statistics.median(timed([*asr, str(short)])[0] for _ in range(args.repeats))
        rows = []
        for name, extra in (
            ("greedy", ["--decoder", "greedy"]),
            ("beam 10 + char LM", ["--decode", str(args.decode_lm)]),
        ):
            times = []
            for _ in range(args.repeats):
                seconds, out = timed([*asr, *extra, "-o", str(Path(tmp) / name.split()[0]), str(args.folder)])
                times.append(seconds)
            files = len(list((Path(tmp) / name.split()[0]).glob("*.txt")))
            wall = statistics.median(times)
            rows.append(
                f"| {name} | {files} | {audio_s:.0f} s | {wall:.2f} s | {audio_s / wall:.0f}x | "
                f"{audio_s / max(wall - startup, 1e-9):.0f}x |"
            )
    body = "\n".join(
        [
            "## End-to-end transcription (`make bench-transcribe`)",
            "",
            f"Machine: {machine()}. `asr transcribe -o DIR {args.folder.relative_to(ROOT) if args.folder.is_relative_to(ROOT) else args.folder}` "
            f"with the demo model, default threads, median of {args.repeats} runs. Start-up (imports, model load, one 0.5 s file): "
            f"{startup:.2f} s.",
            "",
            "| decoder | files | audio | wall (start-up included) | x real time | x real time without start-up |",
            "|---|---|---|---|---|---|",
            *rows,
        ]
    )
    print(body)
    write_section("transcribe", body)


if __name__ == "__main__":
    main()
