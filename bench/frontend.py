"""MFCC frontends side by side on the demo test set (200 files, ~600 s): asr's (torch: framing,
rfft, mel matrix, DCT), torchaudio.compliance.kaldi.mfcc, kaldi-native-fbank and librosa, each
as x real time on --threads threads (best of --repeats passes over every file), and asr's
parity with the Kaldi reference (largest absolute difference of the 13 cepstra, whole set).

    make bench-frontend
"""

from __future__ import annotations

import argparse
from collections import deque
from pathlib import Path

import numpy as np
import torch
import torchaudio.compliance.kaldi as kaldi

from asr.audio import load_audio
from asr.features import FeatureConfig, compute_features, mfcc
from bench.common import commit_of, machine, report, table, timed


def best_times(fns: dict, waves, repeats: int) -> dict:
    """Best pass time of each function, one function after the other (interleaving them let
    librosa's and kaldi-native-fbank's threads slow the torch rows down)."""
    best = {}
    for name, fn in fns.items():
        for w in waves[:3]:
            fn(w)  # first calls: lazy tables, numba compilation (librosa)
        best[name] = timed(lambda fn=fn: deque(map(fn, waves), maxlen=0), repeats).best  # results dropped as made
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folder", type=Path, default=Path("data/demo/wav/test"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--section", default="frontend", help="RESULTS.md section to write")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    waves = [load_audio(p) for p in sorted(args.folder.glob("*.wav"))]
    if not waves:
        raise SystemExit(f"{args.folder}: no wav files; run make demo-data first")
    audio_s = sum(len(w) for w in waves) / 16000
    kaldi_cfg = FeatureConfig(deltas=False)  # 23 mels, 13 cepstra, mel floor 0: Kaldi's definition
    demo_cfg = FeatureConfig(mel_floor=1e5)  # the demo recipe's: + deltas and delta-deltas

    def ta(w):
        return kaldi.mfcc(w[None] * 32768, num_mel_bins=23, num_ceps=13, snip_edges=False, dither=0.0)

    fns = {
        "asr `mfcc` (13 cepstra)": lambda w: mfcc(w, kaldi_cfg),
        "asr `compute_features` (+ deltas: 39 dims, the demo's)": lambda w: compute_features(w, demo_cfg),
        "torchaudio.compliance.kaldi.mfcc": ta,
    }
    try:
        import kaldi_native_fbank as knf

        opts = knf.MfccOptions()
        opts.frame_opts.dither = 0.0
        opts.frame_opts.snip_edges = False
        opts.mel_opts.num_bins = 23
        opts.use_energy = False

        def kn(w):
            m = knf.OnlineMfcc(opts)
            m.accept_waveform(16000, (w * 32768).numpy())  # numpy: no list conversion
            m.input_finished()
            return np.stack([m.get_frame(i) for i in range(m.num_frames_ready)])

        fns["kaldi-native-fbank OnlineMfcc (frames fetched one by one: its Python API)"] = kn
    except ImportError:
        print("kaldi-native-fbank not installed (pip install kaldi-native-fbank): row left out")
    import librosa

    fns["librosa.feature.mfcc (its own definition)"] = lambda w: librosa.feature.mfcc(
        y=w.numpy(), sr=16000, n_mfcc=13, n_fft=512, hop_length=160, n_mels=23
    )
    rows = list(best_times(fns, waves, args.repeats).items())
    parity = max(float((mfcc(w, kaldi_cfg) - ta(w)).abs().max()) for w in waves)
    lines = [
        f"Machine: {machine()}. `make bench-frontend` (bench/frontend.py): {len(waves)} demo test files "
        f"({audio_s:.0f} s), {args.threads} threads, best of {args.repeats} passes.",
        "",
        *table(
            "frontend | seconds | x real time", [(name, f"{sec:.3f}", f"{audio_s / sec:.0f}x") for name, sec in rows]
        ),
        "",
        f"asr's MFCC against torchaudio's Kaldi MFCC on these files: largest absolute difference {parity:.2e} "
        "(cepstra of magnitude ~10-100; the tests require 1e-3).",
    ]
    report(args.section, [f"## MFCC frontend, code at {commit_of()}", "", *lines])


if __name__ == "__main__":
    main()
