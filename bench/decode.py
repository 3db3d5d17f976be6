"""Beam search speed and agreement: asr's prefix beam search vs pyctcdecode vs torchaudio's
flashlight decoder (lexicon-free), on the same synthetic CTC log-probs, no language model.

    make bench-decode          # installs pyctcdecode + flashlight-text into .venv, runs this

The log-probs imitate a character CTC model at 33 frames/s (stack 3) on 10 s utterances with a
~4,200-unit Mandarin-sized vocabulary: ~45 characters per utterance, each on one to three
frames between blank runs, with noisy competitors so that beams have real choices.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from asr.decoding import prefix_beam_search
from bench.common import machine, write_section

VOCAB = 4200
FRAMES = 333  # 10 s at 100 Hz / stack 3


def synthetic_log_probs(n: int, seed: int = 0) -> list[np.ndarray]:
    """Peaky CTC-shaped log-probs, calibrated on the demo model's test-set outputs: ~1.1 units
    per frame above log-prob -5 in both; percentiles (1st to 99th) of the best and second-best
    log-prob per frame close to the model's; blank above 0.999 on ~69% of frames (model: 80%)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        logits = rng.normal(0.0, 1.0, size=(FRAMES, VOCAB)).astype(np.float32)
        logits[:, 0] += 22.0  # blank by default
        t = int(rng.integers(0, 6))
        while t < FRAMES:
            unit = int(rng.integers(1, VOCAB - 1))
            rival = int(rng.integers(1, VOCAB - 1))
            confusable = rng.random() < 0.7
            for _ in range(int(rng.integers(1, 3))):
                if t >= FRAMES:
                    break
                logits[t, 0] -= 22.0 - rng.uniform(0.0, 16.0)  # some blank mass remains
                logits[t, unit] += 22.0
                if confusable:
                    logits[t, rival] += rng.uniform(12.0, 21.5)  # a plausible confusion
                t += 1
            gap = int(rng.integers(3, 9))  # blank frames between characters, where the
            for g in range(t, min(t + gap, FRAMES)):  # neighbouring characters leak in
                if rng.random() < 0.3:
                    logits[g, rng.choice([unit, rival])] += rng.uniform(10.0, 19.0)
            t += gap
        out.append(torch.from_numpy(logits).log_softmax(-1).numpy())
    return out


def labels() -> list[str]:
    # blank, then CJK characters; the last unit is the word separator that flashlight needs
    return [""] + [chr(0x4E00 + i) for i in range(VOCAB - 2)] + ["|"]


def run_ours(lps, beam):
    lab = labels()
    return ["".join(lab[i] for i in prefix_beam_search(lp, beam=beam)[0].ids) for lp in lps]


def run_pyctcdecode(lps, beam):
    from pyctcdecode import build_ctcdecoder

    decoder = build_ctcdecoder(labels())
    return [decoder.decode(lp, beam_width=beam).replace(" ", "") for lp in lps]


def run_flashlight(lps, beam):
    from torchaudio.models.decoder import ctc_decoder

    lab = labels()
    tokens = ["<b>"] + lab[1:]
    # beam_size_token=40 matches asr's default per-frame top-k; flashlight's default (all 4,200
    # units per frame) runs at under one utterance per second here
    decoder = ctc_decoder(
        lexicon=None,
        tokens=tokens,
        lm=None,
        nbest=1,
        beam_size=beam,
        beam_size_token=40,
        beam_threshold=50.0,
        blank_token="<b>",
        sil_token="|",
        unk_word="<unk>",
    )
    out = []
    for lp in lps:
        hyp = decoder(torch.from_numpy(lp)[None])[0][0]
        out.append("".join(tokens[i] for i in hyp.tokens.tolist() if tokens[i] not in ("<b>", "|")))
    return out


def timed(fn, lps, beam):
    start = time.perf_counter()
    texts = fn(lps, beam)
    return texts, len(lps) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--utterances", type=int, default=100)
    ap.add_argument("--beams", default="10,50")
    ap.add_argument("--no-write", action="store_true", help="print only, leave bench/RESULTS.md alone")
    args = ap.parse_args()
    torch.set_num_threads(1)
    lps = synthetic_log_probs(args.utterances)
    rows = []
    for beam in [int(b) for b in args.beams.split(",")]:
        ours, ours_speed = timed(run_ours, lps, beam)
        row = {"beam": beam, "asr": ours_speed}
        for name, fn in (("pyctcdecode", run_pyctcdecode), ("flashlight", run_flashlight)):
            theirs, speed = timed(fn, lps, beam)
            row[name] = speed
            row[f"{name}_agree"] = float(np.mean([a == b for a, b in zip(ours, theirs)]))
        rows.append(row)
        print(row, flush=True)
    body = [
        "## Beam search (bench/decode.py)",
        "",
        f"Machine: {machine()}. One thread. {args.utterances} synthetic utterances of 10 s "
        f"({FRAMES} frames at 33 Hz), {VOCAB} units, no LM. Agreement: share of utterances whose best "
        "hypothesis is the same text as asr's.",
        "",
        "| beam | asr utt/s | pyctcdecode utt/s | flashlight utt/s | asr / pyctcdecode | agree pyctcdecode | agree flashlight |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        body.append(
            f"| {r['beam']} | {r['asr']:.1f} | {r['pyctcdecode']:.1f} | {r['flashlight']:.1f} | "
            f"{r['asr'] / r['pyctcdecode']:.2f}x | {r['pyctcdecode_agree']:.1%} | {r['flashlight_agree']:.1%} |"
        )
    print("\n".join(body))
    if not args.no_write:
        write_section("decode", "\n".join(body))


if __name__ == "__main__":
    main()
