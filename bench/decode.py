"""Beam search speed and agreement: asr's prefix beam search vs pyctcdecode vs torchaudio's
flashlight decoder (lexicon-free), on the same synthetic CTC log-probs, no language model; then
asr vs pyctcdecode on the demo model's own outputs with a character LM, with hotwords, and both.

    make bench-decode          # installs pyctcdecode + flashlight-text into .venv, runs this
    python -m bench.decode --code /path/to/other/checkout --section decode_before  # other code

The synthetic log-probs imitate a character CTC model at 33 frames/s (stack 3) on 10 s utterances
with a ~4,200-unit Mandarin-sized vocabulary: ~45 characters per utterance, each on one to three
frames between blank runs, with noisy competitors so that beams have real choices.

The second table needs `make demo demo-lm` (the model, exp/demo/chars.arpa and its tuned
weights) and kenlm. pyctcdecode scores words, so its labels are given as sentencepiece pieces
("▁二"): every character is a word, which its KenLM then scores as the character LM it is. Its
hotword weight is paid once per phrase; asr's boost is per unit, so the phrases (two characters
each) get weight 2 x boost. pyctcdecode also drops beams 10 below the best (its
beam_prune_logp); asr keeps the beam best. Agreement is measured, not assumed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from bench.common import checkout, commit_of, machine, report, table, timed

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
    from asr.decoding import prefix_beam_search

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
    settings = dict(
        lexicon=None, lm=None, nbest=1, beam_threshold=50.0, blank_token="<b>", sil_token="|", unk_word="<unk>"
    )
    decoder = ctc_decoder(tokens=tokens, beam_size=beam, beam_size_token=40, **settings)
    out = []
    for lp in lps:
        hyp = decoder(torch.from_numpy(lp)[None])[0][0]
        out.append("".join(tokens[i] for i in hyp.tokens.tolist() if tokens[i] not in ("<b>", "|")))
    return out


def speed(fn, lps, beam, repeats=1):
    """(texts, utterances per second): the best of `repeats` passes after a short warm-up."""
    fn(lps[:5], beam)
    t = timed(lambda: fn(lps, beam), repeats)
    return t.result, len(lps) / t.best


def agreement(ours: list[str], theirs: list[str]) -> str:
    return f"{np.mean([a == b for a, b in zip(ours, theirs)]):.1%}"


HOTWORDS = ["上海", "北京", "深圳", "广州"]  # place names of the demo's sentences


def demo_log_probs(model: Path, data: Path) -> tuple[list[np.ndarray], list[str]]:
    """The demo model's log-probs (T, V) on every utterance of `data`, and its units."""
    from asr.audio import load_audio
    from asr.datadir import read_data_dir
    from asr.recognizer import Recognizer

    rec = Recognizer(model, decoder="greedy")
    out = []
    for utt in read_data_dir(data):
        lp, n = rec.log_probs([rec.features(load_audio(utt.path))])
        out.append(lp[0, : int(n[0])].numpy())
    return out, rec.vocab


def demo_rows(model: Path, data: Path, decode_lm: Path, beam: int, repeats: int) -> tuple[list[list], str]:
    """asr vs pyctcdecode on the demo model's log-probs: no LM, char LM, hotwords, both (table rows)."""
    import yaml
    from pyctcdecode import build_ctcdecoder

    from asr.decoding import Hotwords, prefix_beam_search
    from asr.lm import load_lm

    lps, vocab = demo_log_probs(model, data)
    units = vocab.units
    tuned = yaml.safe_load(decode_lm.read_text())
    arpa, alpha, beta = tuned["lm"], float(tuned["alpha"]), float(tuned["beta"])
    lm = load_lm(arpa, False)
    boost = 1.5
    hot = Hotwords([vocab.encode(h) for h in HOTWORDS], boost)
    pieces = [""] + ["▁" + ("⁇" if u == "<unk>" else u) for u in units[1:]]
    plain = build_ctcdecoder(pieces)
    with_lm = build_ctcdecoder(pieces, kenlm_model_path=arpa, alpha=alpha, beta=beta)
    spaced = [" ".join(h) for h in HOTWORDS]

    def ours(**kw):
        return ["".join(units[i] for i in prefix_beam_search(lp, beam=beam, **kw)[0].ids) for lp in lps]

    def theirs(decoder, **kw):
        out = [decoder.decode(lp, beam_width=beam, token_min_logp=-10.0, **kw) for lp in lps]
        return [t.replace(" ", "").replace("⁇", "<unk>") for t in out]

    lm_kw = dict(lm=lm, units=units, alpha=alpha, beta=beta)
    hot_kw = dict(hotwords=spaced, hotword_weight=2 * boost)
    cases = [
        ("no LM", lambda: ours(), lambda: theirs(plain)),
        ("char LM", lambda: ours(**lm_kw), lambda: theirs(with_lm)),
        ("hotwords", lambda: ours(hotwords=hot), lambda: theirs(plain, **hot_kw)),
        ("char LM + hotwords", lambda: ours(**lm_kw, hotwords=hot), lambda: theirs(with_lm, **hot_kw)),
    ]
    rows = []
    for name, a, b in cases:
        a(), b()  # warm: LM caches, pyctcdecode's first-call set-up
        ta, tb = timed(a, repeats), timed(b, repeats)
        fast, slow = len(lps) / ta.best, len(lps) / tb.best
        rows.append([name, f"{fast:.0f}", f"{slow:.0f}", f"{fast / slow:.2f}x", agreement(ta.result, tb.result)])
        print(rows[-1], flush=True)
    frames = np.mean([len(lp) for lp in lps])
    note = (
        f"{len(lps)} utterances of {data} ({frames:.0f} frames each on average, {len(units)} units), "
        f"beam {beam}, best of {repeats} passes; char LM {Path(arpa).name} with alpha {alpha:g}, beta {beta:g} "
        f"({decode_lm.name}); hotwords {', '.join(HOTWORDS)}, boost {boost:g} per unit."
    )
    return rows, note


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--utterances", type=int, default=100)
    ap.add_argument("--beams", default="10,50")
    ap.add_argument("--model", type=Path, default=Path("exp/demo/best.pt"))
    ap.add_argument("--data", type=Path, default=Path("data/demo/test"))
    ap.add_argument("--decode-lm", type=Path, default=Path("exp/demo/decode_lm.yaml"), help="from make demo-lm")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--code", type=Path, help="checkout whose asr is measured (default: this one)")
    ap.add_argument("--section", default="decode", help="RESULTS.md section to write")
    ap.add_argument("--no-write", action="store_true", help="print only, leave bench/RESULTS.md alone")
    args = ap.parse_args()
    code = checkout(args.code, import_here=True)
    torch.set_num_threads(1)
    lps = synthetic_log_probs(args.utterances)
    rows = []
    for beam in [int(b) for b in args.beams.split(",")]:
        ours, ours_speed = speed(run_ours, lps, beam, args.repeats)
        pyctc, pyctc_speed = speed(run_pyctcdecode, lps, beam, args.repeats)
        flashlight, flashlight_speed = speed(run_flashlight, lps, beam)
        speeds = f"{ours_speed:.1f} | {pyctc_speed:.1f} | {flashlight_speed:.1f} | {ours_speed / pyctc_speed:.2f}x"
        rows.append([beam, speeds, agreement(ours, pyctc), agreement(ours, flashlight)])
        print(rows[-1], flush=True)
    agree = "agree pyctcdecode | agree flashlight"
    body = [
        f"## Beam search (bench/decode.py), code at {commit_of(code)}",
        "",
        f"Machine: {machine()}. One thread. {args.utterances} synthetic utterances of 10 s "
        f"({FRAMES} frames at 33 Hz), {VOCAB} units, no LM; asr and pyctcdecode: best of {args.repeats} "
        "passes after a warm-up, flashlight one pass. Agreement: share of utterances whose best "
        "hypothesis is the same text as asr's.",
        "",
        *table(f"beam | asr utt/s | pyctcdecode utt/s | flashlight utt/s | asr / pyctcdecode | {agree}", rows),
    ]
    if args.model.exists() and args.decode_lm.exists():
        demo, note = demo_rows(args.model, args.data, args.decode_lm, 10, args.repeats)
        body += ["", f"The demo model's outputs: {note}", ""]
        body += table("search | asr utt/s | pyctcdecode utt/s | asr / pyctcdecode | agree", demo)
    else:
        body += ["", f"(No demo-model table: {args.model} or {args.decode_lm} missing; run make demo demo-lm.)"]
    report(args.section, body, not args.no_write)


if __name__ == "__main__":
    main()
