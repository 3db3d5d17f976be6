"""Spoken slot filling: which recurrent cell tags the booking slots, from text and from speech.

    make exp-slots                        # after make demo (its model reads the test audio)
    python -m experiments.slots --seeds 0,1,2 --asr-model exp/demo/best.pt --data data/demo

Every row trains the slot tagger of recipes/demo.yaml's `slots:` section with another cell,
one or both directions, on the demo corpus's training sentences (planned from the corpus seed,
no audio needed) and keeps the epoch with the best dev slot F1. Columns: slot F1 on the test
references (conlleval spans); on the test sentences that hold both an origin and a destination
(the same city names in both roles: only the words before a city tell them apart); on 20 probes
in the order training never says it, destination first (到Y从X); and from speech, the slot
values tagged in the demo model's greedy transcripts of test and test_unheard (the held-out
human voice) against the references'.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from pathlib import Path

import torch

from asr.config import load_slot_config
from asr.corpora.demo.grammar import CITIES, travel_slots
from asr.corpora.demo.plan import plan
from asr.slots import SlotTagger, slot_values, tag_f1, train_tagger, value_f1
from experiments.common import HERE, machine, transcribed, write_section

RESULTS = HERE / "slots.md"

ROWS = [("none", False), *((cell, bi) for cell in ("elman", "jordan", "gru", "lstm") for bi in (False, True))]
Example = tuple[str, list[str]]


def sentences() -> dict[str, list[Example]]:
    """The demo corpus's train/dev/test sentences (asr prepare demo's defaults) with slot tags."""
    jobs = plan(Path("/nowhere"), {"train": 2400, "dev": 300, "test": 200}, seed=2026, human=False)
    return {split: [(j.text, travel_slots(j.text)) for j in v] for split, v in jobs.items()}


def probes() -> list[Example]:
    """到Y从X for every ordered pair of demo cities: destination first, never in training."""
    texts = [f"到{b}从{a}" for a, b in itertools.permutations(CITIES, 2)]
    return [(t, travel_slots(t)) for t in texts]


def places(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [p for p in pairs if p[0] in ("origin", "destination")]


def both_roles(test: list[Example]) -> list[Example]:
    return [(t, tags) for t, tags in test if {"origin", "destination"} <= {s for s, _ in slot_values(t, tags)}]


def transcripts(model: Path, data: Path, splits: tuple[str, ...]) -> dict[str, list[tuple[str, str]]]:
    """(reference, greedy transcript) per utterance of each split (skipped when its folder is missing)."""
    from asr.recognizer import Recognizer

    rec = Recognizer(model, decoder="greedy")
    return {split: transcribed(rec, data / split) for split in splits if (data / split / "wav.scp").is_file()}


def score(tagger: SlotTagger, test: list[Example], heard: dict[str, list[tuple[str, str]]]) -> dict:
    """The row's columns for one trained tagger."""
    texts = [t for t, _ in test]
    row = {"test": tag_f1([tags for _, tags in test], tagger.tag_many(texts))}
    for name, subset in (("roles", both_roles(test)), ("probes", probes())):
        refs = [places(slot_values(t, tags)) for t, tags in subset]
        hyps = [places(slot_values(t, h)) for (t, _), h in zip(subset, tagger.tag_many([t for t, _ in subset]))]
        row[name] = value_f1(refs, hyps)
    for split, pairs in heard.items():
        refs = [slot_values(ref, travel_slots(ref)) for ref, _ in pairs]
        hyps = [slot_values(hyp, tags) for (_, hyp), tags in zip(pairs, tagger.tag_many([h for _, h in pairs]))]
        row[f"speech_{split}"] = value_f1(refs, hyps)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2", help="Comma-separated training seeds")
    ap.add_argument("--asr-model", type=Path, default=Path("exp/demo/best.pt"), help="Model for the speech columns")
    ap.add_argument("--data", type=Path, default=Path("data/demo"), help="Demo corpus with test and test_unheard")
    ap.add_argument("--recipe", default="recipes/demo.yaml", help="Recipe whose slots: section the rows change")
    args = ap.parse_args()
    torch.set_num_threads(1)  # a small tagger: one thread is as fast as two
    seeds = [int(s) for s in args.seeds.split(",")]
    data = sentences()
    heard = transcripts(args.asr_model, args.data, ("test", "test_unheard")) if args.asr_model.is_file() else {}
    if not heard:
        print(f"{args.asr_model}: not found, so no columns from speech (make demo trains it)")
    lines = [
        "| tagger | parameters | test F1 | origin + destination F1 | 到Y从X probes F1 | "
        + " | ".join(f"from speech, {s} F1" for s in heard)
        + " | seconds |",
        "|---|---|---|---|---|" + "---|" * len(heard) + "---|",
    ]
    for cell, bi in ROWS:
        runs = []
        for seed in seeds:
            over = [f"slots.cell={cell}", f"slots.bidirectional={str(bi).lower()}", f"slots.seed={seed}"]
            cfg = load_slot_config(args.recipe, over)
            t0 = time.time()
            tagger, _ = train_tagger(cfg, data["train"], data["dev"], log=lambda line: None)
            runs.append({**score(tagger, data["test"], heard), "seconds": time.time() - t0})
        params = sum(p.numel() for p in tagger.net.parameters())
        keys = ["test", "roles", "probes", *(f"speech_{s}" for s in heard)]
        cells = [_cell([r[k] for r in runs]) for k in keys]
        seconds = statistics.mean(r["seconds"] for r in runs)
        lines.append(f"| {cfg.name} | {params:,} | " + " | ".join(cells) + f" | {seconds:.0f} |")
        print(lines[-1], flush=True)
    body = [
        "## Spoken slot filling: recurrent cells (`make exp-slots`)",
        "",
        f"Machine: {machine()}; one thread. Recipe: {args.recipe}'s `slots:` section with the cell",
        "changed (hidden units per direction fixed, so parameter counts differ); trained on the demo",
        f"corpus's 2,400 training sentences, best dev epoch. Seeds {args.seeds}: the mean, with the range in",
        "brackets. Speech columns: the demo model's greedy transcripts "
        f"({args.asr_model}), slot values against the references'.",
        "",
        *lines,
    ]
    write_section("slots", "\n".join(body), RESULTS)


def _cell(values: list[float]) -> str:
    mean = statistics.mean(values)
    return f"{mean:.1%}" + (f" ({min(values):.1%}-{max(values):.1%})" if len(values) > 1 else "")


if __name__ == "__main__":
    main()
