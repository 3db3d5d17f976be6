"""`asr slots`: train a slot tagger, tag text, score it on references and from speech."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from asr.cli.app import app, err
from asr.cli.options import BatchSize, Threads

slots_app = typer.Typer(
    help="Spoken slot filling: tag the booking slots (origin, destination, date, time) of transcripts.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(slots_app, name="slots")


@slots_app.command("train")
def train_cmd(
    data: Annotated[Path, typer.Argument(help="Data dir with text and slots (asr prepare demo writes them)")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Slot model file to write")],
    dev: Annotated[Optional[Path], typer.Option("--dev", help="Data dir whose slot F1 picks the best epoch")] = None,
    recipe: Annotated[
        Optional[Path],
        typer.Option("--recipe", help="Recipe YAML whose slots: section is used (e.g. recipes/demo.yaml)"),
    ] = None,
    override: Annotated[
        Optional[list[str]],
        typer.Option("--set", "-s", help="Override a setting: slots.key=value (e.g. slots.cell=gru)"),
    ] = None,
) -> None:
    """Train a character-level slot tagger on DATA's text and slots tables."""
    from asr.config import load_slot_config
    from asr.datadir import read_slot_data
    from asr.slots import train_tagger

    cfg = load_slot_config(recipe, override or [])
    train = [(text, tags) for _, text, tags in read_slot_data(data)]
    dev_set = [(text, tags) for _, text, tags in read_slot_data(dev)] if dev else None
    err.print(f"training a {cfg.name} slot tagger on {len(train)} utterances of {data}", markup=False)
    tagger, f1 = train_tagger(cfg, train, dev_set, log=lambda line: err.print(line, markup=False, soft_wrap=True))
    tagger.save(output)
    print(f"wrote {output}" + (f" (dev slot F1 {f1:.2%})" if f1 is not None else ""))


@slots_app.command("tag")
def tag_cmd(
    model: Annotated[Path, typer.Argument(help="Slot model file (asr slots train)")],
    texts: Annotated[list[str], typer.Argument(help="Texts to tag, or - to read one per line from stdin")],
    format: Annotated[str, typer.Option("--format", "-f", help="json | text")] = "json",
) -> None:
    """Print each text's slots: json, one object per line (text, slots, bookings, slot_spans,
    tags); text, `text<TAB>slot: text (value), ...` (bookings of several sentences apart with |)."""
    import sys

    from asr.errors import check_choice
    from asr.slots import SlotTagger
    from asr.transcript import slots_json, slots_line

    check_choice("--format", format, ["json", "text"])
    tagger = SlotTagger.load(model)
    lines = [line.strip() for line in sys.stdin] if texts == ["-"] else texts
    for text in lines:
        slots, tags = tagger.fill_text(text)
        if format == "text":
            print(f"{text}\t{slots_line(slots)}")
        else:
            print(json.dumps({"text": text, **slots_json(slots), "tags": tags}, ensure_ascii=False))


@slots_app.command("evaluate")
def evaluate_cmd(
    model: Annotated[Path, typer.Argument(help="Slot model file (asr slots train)")],
    data: Annotated[Path, typer.Argument(help="Data dir with text and slots")],
    asr_model: Annotated[
        Optional[Path],
        typer.Option("--asr-model", "-m", help="Also from speech: transcribe DATA's audio with this model (greedy)"),
    ] = None,
    batch_size: BatchSize = 8,
    threads: Threads = 0,
) -> None:
    """Slot F1 on DATA's reference transcripts (conlleval spans), and with --asr-model from its
    audio (slot values found in the recognized text against the reference's)."""
    from asr.cli.options import DecodingFlags, recognizer
    from asr.datadir import read_slot_data
    from asr.slots import SlotTagger, slot_values, tag_f1, value_f1

    tagger = SlotTagger.load(model)
    rows = read_slot_data(data)
    # the speech model is loaded before any scoring: a wrong one is the only line, not the second
    rec, jobs = (
        recognizer(asr_model, DecodingFlags(decoder="greedy"), False, "auto", threads) if asr_model else (None, 1)
    )
    hyps = tagger.tag_many([text for _, text, _ in rows])
    print(
        f"slot F1 {tag_f1([tags for _, _, tags in rows], hyps):.2%} on the reference text ({len(rows)} utterances, {data})"
    )
    if rec is None:
        return
    heard = _recognized(rec, jobs, data, batch_size)
    refs = {uid: slot_values(text, tags) for uid, text, tags in rows}
    found = [uid for uid in refs if uid in heard]
    texts = [heard[uid] for uid in found]
    pairs = [slot_values(text, tags) for text, tags in zip(texts, tagger.tag_many(texts))]
    f1 = value_f1([refs[uid] for uid in found], pairs)
    print(f"slot F1 {f1:.2%} from speech ({asr_model}, greedy; {len(found)} utterances, {data})")
    if len(found) < len(refs):
        err.print(f"{len(refs) - len(found)} utterance(s) could not be read and are not scored", markup=False)
        raise typer.Exit(1)


def _recognized(rec, jobs: int, data: Path, batch_size: int) -> dict[str, str]:
    """{utterance id: recognized text} of a data dir's readable utterances (greedy)."""
    from asr.cli.options import print_error
    from asr.datadir import read_data_dir
    from asr.evaluate import evaluate as run

    rows, _, _ = run(rec, read_data_dir(data), batch_size=batch_size, on_error=print_error, jobs=jobs)
    return {r["id"]: r["hyp"] for r in rows}


@slots_app.command("label")
def label_cmd(
    data_dirs: Annotated[list[Path], typer.Argument(help="Demo data dirs (data/demo/train ...)")],
) -> None:
    """Write the slots table of demo data dirs from their transcripts (for corpora that
    `asr prepare demo` wrote before it wrote slots)."""
    from asr.corpora.demo.grammar import travel_slots
    from asr.datadir import read_texts, write_slots

    for d in data_dirs:
        texts = read_texts(d)
        write_slots(d, {uid: travel_slots(text) for uid, text in texts.items()})
        print(f"{d / 'slots'}: {len(texts)} utterances")
