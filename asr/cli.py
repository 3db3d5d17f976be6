"""The `asr` command line. Each command parses options and calls the library."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from asr.errors import UserError

app = typer.Typer(help="CTC speech recognition with a deep bidirectional LSTM.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
prepare_app = typer.Typer(help="Build Kaldi-style data dirs (wav.scp, text) from a corpus.", no_args_is_help=True)
app.add_typer(prepare_app, name="prepare")
lm_app = typer.Typer(help="Train and tune n-gram language models for beam search.", no_args_is_help=True)
app.add_typer(lm_app, name="lm")
err = Console(stderr=True, highlight=False)


def fail(exc: UserError) -> None:
    err.print(f"error: {exc}", markup=False, soft_wrap=True)
    raise typer.Exit(2)


@app.command()
def train(
    recipe: Annotated[Path, typer.Argument(help="Recipe YAML, e.g. recipes/demo.yaml")],
    resume: Annotated[bool, typer.Option("--resume", help="Continue from EXP_DIR/last.pt")] = False,
    override: Annotated[Optional[list[str]], typer.Option("--set", "-s", help="Override a recipe key: section.key=value")] = None,
    nproc: Annotated[int, typer.Option("--nproc", help="Processes (GPUs) on this machine, through torchrun")] = 1,
    device: Annotated[Optional[str], typer.Option("--device", help="cpu or cuda (default: the recipe's train.device)")] = None,
) -> None:
    """Train a model as the recipe says; checkpoints go to its exp_dir."""
    override = [*(override or []), *([f"train.device={device}"] if device else [])]
    if nproc > 1 and "WORLD_SIZE" not in os.environ:
        args = [str(recipe), *(["--resume"] if resume else []), *[a for o in override for a in ("--set", o)]]
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", "asr", "train", *args]
        raise typer.Exit(subprocess.call(cmd))
    from asr.config import load_recipe
    from asr.train import train as run

    try:
        run(load_recipe(recipe, override), resume=resume)
    except UserError as exc:
        fail(exc)


Decoder = Annotated[Optional[str], typer.Option("--decoder", help="greedy or beam (default: the recipe's)")]
Beam = Annotated[Optional[int], typer.Option("--beam", help="Beam width")]
LMPath = Annotated[Optional[Path], typer.Option("--lm", help="ARPA character LM (asr lm train) or word KenLM model")]
Alpha = Annotated[Optional[float], typer.Option("--alpha", help="LM weight")]
Beta = Annotated[Optional[float], typer.Option("--beta", help="Insertion bonus per unit")]
HotwordsFile = Annotated[Optional[Path], typer.Option("--hotwords", help="File with one phrase per line to boost")]
Boost = Annotated[Optional[float], typer.Option("--hotword-boost", help="Bonus per hotword unit")]
DecodeFile = Annotated[Optional[Path], typer.Option("--decode", help="YAML decode settings (e.g. from asr lm tune --output)")]


def recognizer(model: Path, decode_file, decoder, beam, lm, alpha, beta, hotwords, hotword_boost):
    """A Recognizer with the model's decode settings, then the --decode file's, then the flags'."""
    from asr.transcribe import Recognizer

    settings = {}
    if decode_file:
        from asr.config import DecodeConfig, load_section

        settings = load_section(decode_file, DecodeConfig)
    flags = dict(decoder=decoder, beam=beam, lm=str(lm) if lm else None, alpha=alpha, beta=beta,
                 hotwords=str(hotwords) if hotwords else None, hotword_boost=hotword_boost)
    settings.update({k: v for k, v in flags.items() if v is not None})
    if (lm or hotwords) and decoder is None:
        settings["decoder"] = "beam"  # asking for an LM or hotwords means asking for the beam
    return Recognizer(model, **settings)


@app.command()
def transcribe(
    files: Annotated[list[Path], typer.Argument(help="Audio files (any format libsndfile reads)")],
    model: Annotated[Path, typer.Option("--model", "-m", help="Model file (best.pt)")],
    format: Annotated[str, typer.Option("--format", "-f", help="text (path<TAB>text) or json (one object per line)")] = "text",
    nbest: Annotated[int, typer.Option("--nbest", help="Hypotheses in the JSON n-best list (beam)")] = 5,
    decode: DecodeFile = None, decoder: Decoder = None, beam: Beam = None, lm: LMPath = None,
    alpha: Alpha = None, beta: Beta = None, hotwords: HotwordsFile = None, hotword_boost: Boost = None,
) -> None:
    """Print `path<TAB>text` (or JSON with n-best and character times) for each file."""
    if format not in ("text", "json"):
        fail(UserError(f"--format: expected text or json, got {format!r}"))
    try:
        rec = recognizer(model, decode, decoder, beam, lm, alpha, beta, hotwords, hotword_boost)
    except UserError as exc:
        fail(exc)
    failed = 0
    as_json = format == "json"
    for result in rec.transcribe_many(files, times=as_json, nbest=nbest if as_json else 1):
        if result.error:
            failed += 1
            err.print(f"error: {result.error}", markup=False, soft_wrap=True)
        elif as_json:
            print(json.dumps(result.to_json(), ensure_ascii=False), flush=True)
        else:
            print(f"{result.path}\t{result.text}", flush=True)
    if failed:
        raise typer.Exit(1)


@app.command()
def evaluate(
    model: Annotated[Path, typer.Option("--model", "-m", help="Model file (best.pt)")],
    data: Annotated[Path, typer.Option("--data", "-d", help="Kaldi-style data dir with wav.scp and text")],
    report: Annotated[Optional[Path], typer.Option("--report", help="Write a JSON report here")] = None,
    decode: DecodeFile = None, decoder: Decoder = None, beam: Beam = None, lm: LMPath = None,
    alpha: Alpha = None, beta: Beta = None, hotwords: HotwordsFile = None, hotword_boost: Boost = None,
) -> None:
    """Print CER and WER of MODEL on a data dir."""
    from asr.data import read_data_dir
    from asr.evaluate import error_rates, write_report

    try:
        rec = recognizer(model, decode, decoder, beam, lm, alpha, beta, hotwords, hotword_boost)
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
    print(f"CER {rates['cer']:.2%}  WER {rates['wer']:.2%}  ({len(rows)} utterances, {data}, {rec.decode.decoder})")
    if report:
        write_report(report, rows, rates, failed)
    if failed:
        err.print(f"{len(failed)} utterance(s) could not be read and are not scored", markup=False)
        raise typer.Exit(1)


@lm_app.command("train")
def lm_train(
    data_dirs: Annotated[list[Path], typer.Argument(help="Data dirs whose `text` files train the LM")],
    output: Annotated[Path, typer.Option("--output", "-o", help="ARPA file to write")],
    order: Annotated[int, typer.Option("--order", help="N-gram order")] = 4,
    unit: Annotated[str, typer.Option("--unit", help="char (Mandarin; default) or word")] = "char",
) -> None:
    """Train a Kneser-Ney n-gram LM on transcripts and write it as ARPA."""
    from asr.data import read_data_dir
    from asr.lm import corpus_sentences, train_kneser_ney, write_arpa

    if unit not in ("char", "word"):
        fail(UserError(f"--unit: expected char or word, got {unit!r}"))
    try:
        texts = [u.text or "" for d in data_dirs for u in read_data_dir(d)]
    except UserError as exc:
        fail(exc)
    model = train_kneser_ney(list(corpus_sentences(texts, unit)), order)
    write_arpa(output, model)
    print(f"{output}: {order}-gram {unit} LM from {len(texts)} transcripts, " +
          ", ".join(f"{len(model[k])} {k}-grams" for k in sorted(model)))


@lm_app.command("tune")
def lm_tune(
    model: Annotated[Path, typer.Option("--model", "-m", help="Model file")],
    data: Annotated[Path, typer.Option("--data", "-d", help="Dev data dir")],
    lm: Annotated[Path, typer.Option("--lm", help="Language model")],
    alphas: Annotated[str, typer.Option(help="Comma-separated LM weights")] = "0,0.25,0.5,0.75,1.0,1.5",
    betas: Annotated[str, typer.Option(help="Comma-separated insertion bonuses")] = "0,0.5,1.0,2.0",
    beam: Annotated[int, typer.Option(help="Beam width")] = 10,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the best settings as YAML (for --decode)")] = None,
) -> None:
    """Grid-search alpha and beta on a dev set; prints the CER table and the best pair."""
    from rich.table import Table

    from asr.data import read_data_dir
    from asr.evaluate import error_rates

    try:
        rec = recognizer(model, None, "beam", beam, lm, None, None, None, None)
        utts = read_data_dir(data)
        grid_a = [float(x) for x in alphas.split(",")]
        grid_b = [float(x) for x in betas.split(",")]
    except ValueError as exc:
        fail(UserError(f"--alphas/--betas: {exc}"))
    except UserError as exc:
        fail(exc)
    cached = []  # the acoustic model runs once; only decoding is repeated
    for u in utts:
        try:
            cached.append((u.text or "", rec.log_probs([rec.features(u.path)])))
        except UserError as exc:
            err.print(f"error: {u.id}: {exc}", markup=False, soft_wrap=True)
    table = Table("alpha \\ beta", *[f"{b:g}" for b in grid_b], title=f"CER on {data} (beam {beam})")
    best = (float("inf"), None, None)
    for a in grid_a:
        row = []
        for b in grid_b:
            hyps = [rec.decode_log_probs(lp, n, alpha=a, beta=b)[0].text for _, (lp, n) in cached]
            cer = error_rates([r for r, _ in cached], hyps)["cer"]
            row.append(f"{cer:.2%}")
            best = min(best, (cer, a, b), key=lambda x: x[0])
        table.add_row(f"{a:g}", *row)
    Console().print(table)
    print(f"best: alpha {best[1]:g} beta {best[2]:g} CER {best[0]:.2%}")
    if output:
        import yaml

        settings = {"decoder": "beam", "beam": beam, "lm": str(lm.resolve()), "alpha": best[1], "beta": best[2]}
        output.write_text(yaml.safe_dump(settings, sort_keys=False))


@app.command()
def plot(
    exp_dir: Annotated[Path, typer.Argument(help="Experiment folder (holds metrics.csv)")],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="PNG to write (default EXP_DIR/curves.png)")] = None,
) -> None:
    """Plot training loss and dev CER per epoch to a PNG."""
    from asr.plot import plot_curves

    try:
        print(plot_curves(exp_dir, output))
    except UserError as exc:
        fail(exc)


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
