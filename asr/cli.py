"""The `asr` command line. Each command parses options and calls the library."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from asr.errors import UserError

app = typer.Typer(help="CTC speech recognition with a deep bidirectional LSTM.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
prepare_app = typer.Typer(help="Build Kaldi-style data dirs (wav.scp, text) from a corpus.", no_args_is_help=True)
app.add_typer(prepare_app, name="prepare")
err = Console(stderr=True, highlight=False)


def fail(exc: UserError) -> None:
    err.print(f"error: {exc}", markup=False, soft_wrap=True)
    raise typer.Exit(2)


@app.command()
def train(
    recipe: Annotated[Path, typer.Argument(help="Recipe YAML, e.g. recipes/demo.yaml")],
    resume: Annotated[bool, typer.Option("--resume", help="Continue from EXP_DIR/last.pt")] = False,
    override: Annotated[Optional[list[str]], typer.Option("--set", "-s", help="Override a recipe key: section.key=value")] = None,
) -> None:
    """Train a model as the recipe says; checkpoints go to its exp_dir."""
    from asr.config import load_recipe
    from asr.train import train as run

    try:
        run(load_recipe(recipe, override or []), resume=resume)
    except UserError as exc:
        fail(exc)


@app.command()
def transcribe(
    files: Annotated[list[Path], typer.Argument(help="Audio files (any format libsndfile reads)")],
    model: Annotated[Path, typer.Option("--model", "-m", help="Model file (best.pt)")],
) -> None:
    """Print `path<TAB>text` for each file; unreadable files are reported on stderr."""
    from asr.transcribe import Recognizer

    try:
        rec = Recognizer(model)
    except UserError as exc:
        fail(exc)
    failed = 0
    for result in rec.transcribe_many(files):
        if result.error:
            failed += 1
            err.print(f"error: {result.error}", markup=False, soft_wrap=True)
        else:
            print(f"{result.path}\t{result.text}", flush=True)
    if failed:
        raise typer.Exit(1)


@app.command()
def evaluate(
    model: Annotated[Path, typer.Option("--model", "-m", help="Model file (best.pt)")],
    data: Annotated[Path, typer.Option("--data", "-d", help="Kaldi-style data dir with wav.scp and text")],
    report: Annotated[Optional[Path], typer.Option("--report", help="Write a JSON report here")] = None,
) -> None:
    """Print CER and WER of MODEL on a data dir."""
    from asr.data import read_data_dir
    from asr.evaluate import error_rates, write_report
    from asr.transcribe import Recognizer

    try:
        rec = Recognizer(model)
        utts = read_data_dir(data)
    except UserError as exc:
        fail(exc)
    rows, failed = [], {}
    for result, u in zip(rec.transcribe_many(u.path for u in utts), utts):
        if result.error:
            failed[u.id] = result.error
            err.print(f"error: {u.id}: {result.error}", markup=False, soft_wrap=True)
        else:
            rows.append({"id": u.id, "ref": u.text, "hyp": result.text})
    rates = error_rates([r["ref"] for r in rows], [r["hyp"] for r in rows])
    print(f"CER {rates['cer']:.2%}  WER {rates['wer']:.2%}  ({len(rows)} utterances, {data})")
    if report:
        write_report(report, rows, rates, failed)
    if failed:
        err.print(f"{len(failed)} utterance(s) could not be read and are not scored", markup=False)
        raise typer.Exit(1)


@prepare_app.command("aishell")
def prepare_aishell_cmd(
    corpus_dir: Annotated[Path, typer.Argument(help="Folder holding data_aishell/")],
    out_dir: Annotated[Path, typer.Argument(help="Where to write train/, dev/, test/")],
) -> None:
    """AISHELL-1 (OpenSLR 33) -> OUT_DIR/{train,dev,test}."""
    from asr.corpora.aishell import prepare_aishell

    try:
        counts = prepare_aishell(corpus_dir, out_dir)
    except UserError as exc:
        fail(exc)
    for split, c in counts.items():
        print(f"{split}: {c['utterances']} utterances, {c['no_transcript']} wavs without transcript skipped")


@prepare_app.command("demo")
def prepare_demo_cmd(
    out_dir: Annotated[Path, typer.Argument(help="Where to write the corpus")] = Path("data/demo"),
    train: int = 2400,
    dev: int = 150,
    test: int = 200,
    seed: int = 2026,
    workers: Annotated[int, typer.Option(help="Parallel synthesis processes")] = 2,
) -> None:
    """Synthesize the demo Mandarin corpus (espeak-ng, plus gcin-voice recordings when installed)."""
    from asr.corpora.demo import generate

    def progress(n: int, total: int) -> None:
        if n % 250 == 0 or n == total:
            err.print(f"synthesized {n}/{total}", markup=False)

    try:
        counts = generate(out_dir, train=train, dev=dev, test=test, seed=seed, workers=workers, progress=progress)
    except UserError as exc:
        fail(exc)
    print(", ".join(f"{k}: {v}" for k, v in counts.items()) + f" utterances in {out_dir}")
