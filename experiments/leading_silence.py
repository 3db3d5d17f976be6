"""Does quiet before the speech make the demo model insert characters? The demo test set read
as it is, with 0.5 s and 1 s of silence (digital zeros, or noise at -60 dBFS) put before each
utterance, and with that silence trimmed again to a margin before the first frame above
asr.segment.quiet_threshold. Writes leading_silence.md's table.

    python -m experiments.leading_silence [--model exp/demo/best.pt] [--model OTHER.pt]

Each utterance is transcribed whole (`Recognizer.transcribe` on its samples, greedy, no times)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from experiments.common import HERE, commit_of, machine, write_section

MARGINS = (10, 30)  # 10 ms frames kept before the first (after the last) frame above the quiet threshold


def trimmed(wave: np.ndarray, margin: int) -> np.ndarray:
    """`wave` less its quiet before and after the speech, `margin` 10 ms frames of it kept."""
    from asr.segment import HOP, frame_energy_db, quiet_threshold

    energy = frame_energy_db(wave)
    loud = np.flatnonzero(energy > quiet_threshold(energy))
    if not len(loud):
        return wave
    return wave[max(0, (loud[0] - margin) * HOP) : (loud[-1] + 1 + margin) * HOP]


def conditions(waves: list[np.ndarray]) -> dict[str, list[np.ndarray]]:
    """The test set as it is, with silence put before each utterance, and trimmed again."""
    rng = np.random.default_rng(0)
    out = {"as it is": waves}
    for seconds in (0.5, 1.0):
        n = int(seconds * 16000)
        zeros = [np.concatenate([np.zeros(n, np.float32), w]) for w in waves]
        noise = [np.concatenate([(1e-3 * rng.standard_normal(n)).astype(np.float32), w]) for w in waves]
        out[f"{seconds:g} s of zeros before"] = zeros
        out[f"{seconds:g} s of noise at -60 dBFS before"] = noise
        for margin in MARGINS:
            out[f"{seconds:g} s of zeros before, trimmed to {margin * 10} ms"] = [trimmed(w, margin) for w in zeros]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, action="append", help="model file(s); default exp/demo/best.pt")
    ap.add_argument("--test", type=Path, default=Path("data/demo/test"))
    args = ap.parse_args()
    models = args.model or [Path("exp/demo/best.pt")]
    for m in models:
        if not m.is_file():
            raise SystemExit(f"error: {m}: no model (make demo trains exp/demo/best.pt)")
    import jiwer
    import torch

    from asr.audio import load_audio
    from asr.datadir import read_data_dir
    from asr.recognizer import Recognizer

    torch.set_num_threads(2)
    utts = read_data_dir(args.test)
    refs = [u.text for u in utts]
    waves = [load_audio(u.path).numpy() for u in utts]
    rows: dict[str, list[str]] = {}
    for m in models:
        rec = Recognizer(m, decoder="greedy")
        for name, xs in conditions(waves).items():
            hyps = [rec.transcribe(w, times=False).text for w in xs]
            longer = sum(len(h) > len(r) for h, r in zip(hyps, refs))
            rows.setdefault(name, []).append(f"{jiwer.cer(refs, hyps):.2%} ({longer})")
            print(f"{m}: {name}: {rows[name][-1]}", flush=True)
    head = " | ".join(str(m) for m in models)
    body = [
        "## The demo test set with silence before the speech",
        "",
        f"Machine: {machine()}. Commit {commit_of()}; {len(refs)} utterances of {args.test}, greedy. CER, and in "
        "brackets how many transcripts are longer than their reference.",
        "",
        f"| utterances | {head} |",
        "|---|" + "---|" * len(models),
        *(f"| {name} | {' | '.join(cells)} |" for name, cells in rows.items()),
    ]
    write_section("leading_silence", "\n".join(body), HERE / "leading_silence.md")
    print(f"wrote {HERE / 'leading_silence.md'}")


if __name__ == "__main__":
    main()
