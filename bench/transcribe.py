"""End-to-end throughput of `asr transcribe` on a folder: the demo test set repeated --copies
times (6: an hour of audio), every file loaded, resampled, featurized, recognized and written,
greedy (float32, bf16 autocast, and --amp auto's choice) and beam 10 + the character LM, as x
real time; and one long file (the folder's files end to end, three times), which is cut at
pauses. Each figure is the median of --repeats runs of the whole command, start-up included;
start-up alone (the same command on one 0.5 s file) is reported beside it. The busy rows run
while as many spinning processes as there are cores keep the machine busy, with the default
threads and with --threads set to the core count (what torch takes by itself).

    make bench-transcribe     # after make demo and make demo-lm
    python -m bench.transcribe --code /path/to/other/checkout   # the same bench on other code
    python -m bench.transcribe --against /path/to/other/checkout --pairs 6   # greedy hour, runs alternating

This shared machine's speed drifts between sittings by more than most changes gain; --against
times the greedy hour with this code and the other in turn, so both see the same drift.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np
import soundfile as sf

from asr.runtime import cpu_bf16_path
from bench.common import ROOT, checkout, commit_of, machine, report, run_asr, table, timed


@contextmanager
def busy_machine():
    """As many processes spinning as there are cores, for the duration."""
    spin = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 1)]
    try:
        yield
    finally:
        for p in spin:
            p.kill()
            p.wait()


def paired(asr: list[str], folder: Path, out: Path, codes: list[Path], pairs: int, audio_s: float) -> None:
    """The greedy hour with each checkout in turn, `pairs` times: medians side by side (printed)."""
    times: dict[Path, list[float]] = {code: [] for code in codes}
    for _ in range(pairs):
        for code in codes:
            run = timed(lambda code=code: run_asr(code, *asr, "--decoder", "greedy", "-o", str(out), str(folder)))
            times[code].append(run.best)
    for code in codes:
        wall = statistics.median(times[code])
        runs = " ".join(f"{t:.2f}" for t in sorted(times[code]))
        print(f"{commit_of(code)}: median {wall:.2f} s ({audio_s / wall:.0f}x real time); runs {runs}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=ROOT / "exp/demo/best.pt")
    ap.add_argument("--folder", type=Path, default=ROOT / "data/demo/wav/test")
    ap.add_argument("--decode-lm", type=Path, default=ROOT / "exp/demo/decode_lm.yaml", help="from make demo-lm")
    ap.add_argument("--copies", type=int, default=6, help="the folder's files this many times over")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--code", type=Path, default=ROOT, help="checkout whose asr runs (python -m asr from there)")
    ap.add_argument("--section", default="transcribe", help="RESULTS.md section to write")
    ap.add_argument("--against", type=Path, help="another checkout: time the greedy hour in turns with it")
    ap.add_argument("--pairs", type=int, default=6, help="with --against: runs of each")
    args = ap.parse_args()
    for need in (args.model, args.folder, args.decode_lm):
        if not need.exists():
            raise SystemExit(f"{need} not found: run make demo and make demo-lm first")
    wavs = sorted(args.folder.rglob("*.wav"))
    audio_s = args.copies * sum(sf.info(w).duration for w in wavs)
    code = checkout(args.code)
    asr = ["transcribe", "--model", str(args.model.resolve()), "--device", "cpu"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "audio"
        folder.mkdir()
        for k in range(args.copies):
            for w in wavs:
                (folder / f"c{k}_{w.name}").symlink_to(w.resolve())
        if args.against:
            paired(asr, folder, Path(tmp) / "out", [code, checkout(args.against)], args.pairs, audio_s)
            return
        long = Path(tmp) / "long.wav"  # the folder's files end to end, three times: cut at pauses
        sf.write(long, np.concatenate([sf.read(w, dtype="int16")[0] for w in wavs] * 3), 16000)
        long_s = sf.info(long).duration
        short = Path(tmp) / "short.wav"
        sf.write(short, np.zeros(8000, np.float32), 16000)
        startup = timed(lambda: run_asr(code, *asr, str(short)), args.repeats).median
        rows, cores = [], os.cpu_count()
        runs = [
            ("greedy", ["--decoder", "greedy"], False),
            *(
                [("greedy, --amp bf16", ["--decoder", "greedy", "--amp", "bf16"], False)]
                if cpu_bf16_path()  # without a bf16 path it is emulated: slow, and not what auto picks
                else []
            ),
            ("greedy, --amp auto", ["--decoder", "greedy", "--amp", "auto"], False),
            (f"greedy, one {long_s / 60:.0f}-minute file", ["--decoder", "greedy", "--long"], False),
            ("beam 10 + char LM", ["--decode", str(args.decode_lm.resolve())], False),
            ("greedy, machine busy", ["--decoder", "greedy"], True),
            (f"greedy, machine busy, --threads {cores}", ["--decoder", "greedy", "--threads", str(cores)], True),
        ]
        for name, extra, busy in runs:
            out = Path(tmp) / name.replace(" ", "_").replace(",", "")
            target = str(long) if "--long" in extra else str(folder)
            cmd = [*asr, *(x for x in extra if x != "--long"), "-o", str(out), target]
            try:
                with busy_machine() if busy else nullcontext():
                    run = timed(lambda cmd=cmd: run_asr(code, *cmd), 1 if busy else args.repeats)
            except SystemExit as exc:  # older code may lack an option
                print(f"{name}: {exc}")
                continue
            files, wall, seconds = len(list(out.glob("*.txt"))), run.median, long_s if "--long" in extra else audio_s
            speeds = f"{seconds / wall:.0f}x | {seconds / max(wall - startup, 1e-9):.0f}x"
            rows.append([name, files, f"{seconds:.0f} s", f"{wall:.2f} s", speeds])
    body = [
        f"## End-to-end transcription (`make bench-transcribe`), code at {commit_of(code)}",
        "",
        f"Machine: {machine()}. `asr transcribe -o DIR FOLDER` with the demo model on the demo test set "
        f"{args.copies} times over ({args.copies * len(wavs)} files), default threads unless the row says, "
        f"median of {args.repeats} runs (busy rows: one run, with {os.cpu_count()} spinning processes beside it). "
        f"Start-up (imports, model load, one 0.5 s file): {startup:.2f} s.",
        "",
        *table("decoder | files | audio | wall (start-up included) | x real time | x real time without start-up", rows),
    ]
    report(args.section, body)


if __name__ == "__main__":
    main()
