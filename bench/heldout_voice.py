"""How the demo recipe carries over to a human voice that training never hears.

    make bench-voice     # CPU, ~8 min: synthesis, a full demo training run, two evaluations

The demo corpus's only human speech is gcin-voice's two speakers (joined syllable recordings).
This run trains the demo recipe on the demo corpus with one of them (speaker 3) and scores the
test sentences read by the other (speaker 5), next to the usual espeak-ng test set. The gap
between the two is the share of the demo's accuracy that does not carry over to new real voices.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from asr.config import load_recipe
from asr.corpora import demo
from asr.data import read_data_dir
from asr.evaluate import error_rates
from asr.train import train
from asr.transcribe import Recognizer
from bench.common import machine, write_section


def score(model: Path, data: Path) -> dict[str, float]:
    rec = Recognizer(model, decoder="greedy")
    utts = read_data_dir(data)
    hyps = [r.text or "" for r in rec.transcribe_many([str(u.path) for u in utts])]
    return error_rates([u.text for u in utts], hyps)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="exp/bench_voice", help="Corpus and experiment folder (replaced)")
    ap.add_argument("--recipe", default="recipes/demo.yaml")
    args = ap.parse_args()
    if not demo.GCIN_DIR.is_dir():
        raise SystemExit("error: gcin-voice is not installed (apt-get install gcin-voice)")
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    corpus = work / "data"
    demo.generate(corpus)  # train hears gcin speaker 3 only; test_unheard is speaker 5
    heldout = corpus / "test_unheard"
    exp = work / "exp"
    recipe = load_recipe(
        args.recipe,
        [
            f"exp_dir={exp}",
            f"data.train={corpus / 'train'}",
            f"data.dev={corpus / 'dev'}",
            f"data.test={corpus / 'test'}",
        ],
    )
    summary = train(recipe)
    rows = [
        ("espeak-ng test voices (5 variants)", score(exp / "best.pt", corpus / "test")),
        (f"gcin-voice speaker {demo.HELDOUT_GCIN_SPEAKER} (human, unheard)", score(exp / "best.pt", heldout)),
    ]
    table = "\n".join(f"| {name} | {r['cer']:.2%} | {r['wer']:.1%} |" for name, r in rows)
    write_section(
        "voice",
        f"""
## A human voice training never hears (bench/heldout_voice.py)

Machine: {machine()}. Recipe {args.recipe} (greedy decoding), trained on the demo corpus with gcin-voice
speaker {demo.TRAIN_GCIN_SPEAKERS[0]} as its only human voice (15% of training); best dev CER {summary["best_cer"]:.2%}. Both test
sets read the same 200 test sentences.

| test voices | CER | WER |
|---|---|---|
{table}
""",
    )
    for name, r in rows:
        print(f"{name}: CER {r['cer']:.2%}  WER {r['wer']:.1%}")


if __name__ == "__main__":
    main()
