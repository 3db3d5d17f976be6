"""Peak memory and time of `asr lm tune` on a dev set of AISHELL-1 dev's size and vocabulary:
14,326 utterances of 4.5 s, 4,300 output units, beam 10 with a character 3-gram LM.

What the grid search's memory depends on is each utterance's (T', V) log-probs: 150 frames x
4,302 units x 4 bytes = 2.6 MB, so keeping them all takes ~37 GB. The model is therefore a random
1 x 64 BiLSTM with AISHELL-1's output size (the acoustic model's own cost is not what is measured)
whose output bias makes it emit blanks, so decoding is cheap and the time is mostly the frontend
and the model. Audio: 40 distinct 4.5 s files, each listed many times in wav.scp.

    python -m bench.lm_tune                         # the current code on the full dev size
    python -m bench.lm_tune --utts 1000 --code DIR  # another checkout (e.g. a git worktree of an older commit)
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from bench.common import machine

ROOT = Path(__file__).resolve().parents[1]
UNITS = [chr(0x4E00 + i) for i in range(4300)]


def make_dev_set(root: Path, utts: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    audio = root / "audio"
    audio.mkdir(parents=True)
    for k in range(40):  # band-limited noise bursts with pauses: something for the frontend to chew on
        wave = rng.normal(0, 0.05, 72000) * (np.sin(np.linspace(0, 20 + k, 72000)) > 0)
        sf.write(audio / f"{k}.wav", wave.astype(np.float32), 16000, subtype="PCM_16")
    pick = random.Random(seed)
    data = root / "dev"
    data.mkdir()
    with open(data / "wav.scp", "w") as scp, open(data / "text", "w", encoding="utf-8") as text:
        for i in range(utts):
            scp.write(f"u{i:06d} {audio / f'{i % 40}.wav'}\n")
            text.write(f"u{i:06d} {''.join(pick.choices(UNITS[:400], k=20))}\n")
    return data


def make_model(root: Path) -> Path:
    from asr.checkpoint import save_checkpoint
    from asr.config import load_recipe
    from asr.model import CTCModel
    from asr.vocab import Vocab

    recipe = load_recipe(ROOT / "recipes" / "demo.yaml", [f"exp_dir={root}", "model.hidden=64", "model.layers=1"])
    vocab = Vocab(["<blank>", "<unk>", *UNITS])
    torch.manual_seed(0)
    model = CTCModel(recipe.features.dim, len(vocab), recipe.model)
    with torch.no_grad():
        model.output.bias.zero_()
        model.output.bias[vocab.blank] = 12.0  # blank everywhere: other units ~e-12, below token_min_logp
    path = root / "model.pt"
    save_checkpoint(path, recipe, vocab, model)
    return path


def make_lm(root: Path, dev: Path) -> Path:
    arpa = root / "chars.arpa"
    subprocess.run(
        [sys.executable, "-m", "asr", "lm", "train", str(dev), "-o", str(arpa), "--order", "3"],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    return arpa


def peak_rss_of(cmd: list[str], cwd: Path, env: dict) -> tuple[float, float, str, int]:
    """(seconds, peak resident MiB, last output line, exit code) of a command."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    errs = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    last = (out.strip().splitlines() or [""])[-1] if code == 0 else (errs.strip().splitlines() or [""])[-1]
    return seconds, usage.ru_maxrss / 1024, last, code


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--utts", type=int, default=14326, help="dev utterances (AISHELL-1 dev: 14,326)")
    ap.add_argument("--code", type=Path, default=ROOT, help="checkout whose asr package to run")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        dev = make_dev_set(root, args.utts)
        model, lm = make_model(root), make_lm(root, dev)
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONPATH": str(args.code.resolve())}
        cmd = [
            sys.executable,
            "-m",
            "asr",
            "lm",
            "tune",
            "-m",
            str(model),
            "-d",
            str(dev),
            "--lm",
            str(lm),
            "--alphas",
            "0.5",
            "--betas",
            "0",
            "--beam",
            "10",
            "--device",
            "cpu",
        ]
        if args.code.resolve() != ROOT:
            cmd = cmd[:-2]  # older checkouts have no --device
        seconds, rss, last, code = peak_rss_of(cmd, args.code.resolve(), env)
    status = "ok" if code == 0 else f"exit {code}"
    line = (
        f"| {args.code.name if args.code.resolve() != ROOT else 'this checkout'} | {args.utts} | "
        f"{seconds:.0f} s | {rss:.0f} MiB | {status}: {last[:60]} |"
    )
    print("| code | dev utterances | wall time | peak RSS | result |")
    print(line)
    print(machine())


if __name__ == "__main__":
    main()
