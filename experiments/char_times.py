"""How close are per-character times to when each character is spoken? The demo model's times
(a character's CTC spike, and the frames it owns around it: asr.decoding.owned_frames) against
the corpus's true times (chars.ctm: espeak-ng's phoneme events, the human recordings' joins) on
the demo test set, dev's human voice (yanyu) and the held-out human voice (test_unheard). Writes
char_times.md's table.

    python -m experiments.char_times [--model exp/demo/best.pt] [--limit 200]

The utterances are rendered again from the corpus plan (seed 2026, the default sizes: the same
wavs `asr prepare demo` writes) into exp/char_times, so a corpus made before chars.ctm existed
needs no regeneration. Each utterance is decoded whole (demo utterances are one piece)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import soundfile as sf

from experiments.common import HERE, commit_of, machine, write_section

SPLITS = {
    "test": "demo test (espeak-ng voices training never hears)",
    "dev_human": "dev's human voice (yanyu: joined recordings, never in training)",
    "test_unheard": "held-out human voice",
}


def references(out: Path, limit: int) -> dict[str, list[tuple[str, str, list]]]:
    """{set: [(wav path, text, [(char, start, end)])]} of the first `limit` utterances of each
    set (dev_human: dev's utterances read by yanyu, fetched as make demo does)."""
    from asr.corpora.demo.mix import DemoMix
    from asr.corpora.demo.plan import plan
    from asr.corpora.demo.render import render
    from asr.corpora.syllables import GCIN_DIR, fetch_yanyu
    from asr.errors import UserError

    human = GCIN_DIR.is_dir()
    try:
        yanyu = str(fetch_yanyu(Path("data/demo/sources")))
    except UserError as e:
        print(f"left out dev's human voice: {e}")
        yanyu = None
    jobs = plan(out, {"train": 2400, "dev": 300, "test": 200}, 2026, human, DemoMix(), yanyu)
    jobs["dev_human"] = [job for job in jobs["dev"] if job.voice == "yanyu"]
    sets = {}
    for split in [s for s in SPLITS if jobs.get(s)]:
        rows = []
        for job in jobs[split][:limit]:
            spans = render(job)
            if spans:
                rows.append((str(job.path), job.text, [(ch, s, e) for ch, (s, e) in zip(job.text, spans)]))
        sets[split] = rows
    return sets


def measure(rec, rows) -> tuple[dict[str, object], tuple[int, int]]:
    """TimeErrors of the spike times and of the owned frames' times over one set, paired by time
    (as sclite -T pairs them) and by text alone, and of the owned times over the utterances
    recognized without an error; and for the owned times, (pairs the text pairing makes and the
    time pairing does not, how many of those two characters' spans do not overlap at all). The
    text pairing without those is a third view, between the two."""
    from asr.timing import errors_of, matched, time_errors, time_mediated

    fs = rec.frame_seconds
    spike, owned, refs, right = {}, {}, {}, {}
    for k, (path, text, ref) in enumerate(rows):
        wave, _ = sf.read(path, dtype="float32")
        t = rec.decode_waves([wave], times=True)[0]
        refs[k] = ref
        spike[k] = [(c.char, c.frames[0] * fs, (c.frames[1] + 1) * fs) for c in t.chars if c.frames]
        owned[k] = [(c.char, c.start, c.end) for c in t.chars]
        if t.text == text:
            right[k] = owned[k]
    total = sum(map(len, refs.values()))
    # each utterance paired once each way; pairs keyed by their utterance
    by_time = [(k, p) for k in refs for p in time_mediated(refs[k], owned[k])]
    by_text = [(k, p) for k in refs for p in matched(refs[k], owned[k])]
    timed = set(by_time)
    text_only = [(k, (r, h)) for k, (r, h) in by_text if (k, (r, h)) not in timed]
    apart = {(k, (r, h)) for k, (r, h) in text_only if min(r[2], h[2]) <= max(r[1], h[1])}
    return {
        "spike": time_errors(refs, spike),
        "spike, paired by text alone": time_errors(refs, spike, pairing="text"),
        "owned": errors_of([p for _, p in by_time], total),
        "owned, paired by text alone": errors_of([p for _, p in by_text], total),
        "owned, paired by text alone, pairs whose spans overlap": errors_of(
            [p for k, p in by_text if (k, p) not in apart], total
        ),
        "owned, utterances recognized exactly": time_errors({k: refs[k] for k in right}, right),
    }, (len(text_only), len(apart))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=Path("exp/demo/best.pt"))
    ap.add_argument("--limit", type=int, default=200, help="utterances per set")
    ap.add_argument("--work", type=Path, default=Path("exp/char_times"))
    args = ap.parse_args()
    if not args.model.is_file():
        raise SystemExit(f"error: {args.model}: no model (make demo trains exp/demo/best.pt)")
    import torch

    from asr.recognizer import Recognizer

    torch.set_num_threads(2)
    rec = Recognizer(args.model, decoder="greedy")
    lines, notes = [], []
    for split, rows in references(args.work, args.limit).items():
        errors, (text_only, apart) = measure(rec, rows)
        notes.append(
            f"- {SPLITS[split]}: {text_only} pairs of owned times made by the text pairing and not by the "
            f"time pairing; in {apart} of them the two characters' spans do not overlap."
        )
        for rule, e in errors.items():
            ms = lambda x: f"{x * 1000:.0f}"  # noqa: E731
            lines.append(
                f"| {SPLITS[split]} | {rule} | {ms(e.start_mean)} | {ms(e.start_p95)} | {ms(e.end_mean)} "
                f"| {ms(e.end_p95)} | {ms(e.start_bias)} | {e.matched}/{e.reference} |"
            )
            print(lines[-1], flush=True)
    body = "\n".join(
        [
            "## Character times against the reference (`make exp-times`)",
            "",
            f"Machine: {machine()}. Commit {commit_of()}; model {args.model}, greedy; output frame "
            f"{rec.frame_seconds * 1000:.0f} ms; the first {args.limit} utterances of each set. Errors in ms over the "
            "characters sclite's time-mediated alignment (`sclite -T`) pairs with the reference's, or where the "
            "row says so, over those an edit alignment of the texts alone pairs; bias: mean signed start error "
            "(+: late). The time pairing leaves out a character placed wholly outside its true span, "
            "recognized right or not: `matched` counts what each pairing kept.",
            "",
            "| set | times | start mean | start p95 | end mean | end p95 | start bias | matched |",
            "|---|---|---|---|---|---|---|---|",
            *lines,
            "",
            *notes,
        ]
    )
    write_section("char_times", body, HERE / "char_times.md")
    print(f"wrote {HERE / 'char_times.md'}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
