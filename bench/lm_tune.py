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
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from bench.common import ROOT, asr_command, checkout, machine, peak_rss_mib, run_asr, timed

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


def tune(code: Path, model: Path, dev: Path, lm: Path, threads: int) -> tuple[float, float, str, int]:
    """(seconds, peak resident MiB, last output line, exit code) of `asr lm tune` on checkout `code`."""
    files = ["-m", str(model), "-d", str(dev), "--lm", str(lm)]
    args = ["lm", "tune", *files, *"--alphas 0.5 --betas 0 --beam 10".split()]
    if code == ROOT:
        args += ["--device", "cpu"]  # older checkouts have no --device
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}

    def run() -> tuple[float, str, int]:
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as errs:
            proc = asr_command(code, *args, stdout=out, stderr=errs, env=env)
            rss = peak_rss_mib(proc, wait=True)
            shown = out if proc.returncode == 0 else errs
            shown.seek(0)
            last = (shown.read().strip().splitlines() or [""])[-1]
        return rss, last, proc.returncode

    t = timed(run)
    return t.best, *t.result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--utts", type=int, default=14326, help="dev utterances (AISHELL-1 dev: 14,326)")
    ap.add_argument("--code", type=Path, default=ROOT, help="checkout whose asr package to run")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    code = checkout(args.code)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        dev = make_dev_set(root, args.utts)
        model, lm = make_model(root), root / "chars.arpa"
        run_asr(ROOT, "lm", "train", str(dev), "-o", str(lm), "--order", "3")
        seconds, rss, last, status = tune(code, model, dev, lm, args.threads)
    result = "ok" if status == 0 else f"exit {status}"
    name = code.name if code != ROOT else "this checkout"
    print("| code | dev utterances | wall time | peak RSS | result |")
    print(f"| {name} | {args.utts} | {seconds:.0f} s | {rss:.0f} MiB | {result}: {last[:60]} |")
    print(machine())


if __name__ == "__main__":
    main()
