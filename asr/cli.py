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


def main() -> None:
    """The `asr` entry point. A UserError anywhere below is the user's to fix: one `error:` line
    on stderr and exit status 2, caught here once; anything else is a bug and keeps its traceback."""
    try:
        app(prog_name="asr")
    except UserError as exc:
        err.print(f"error: {exc}", markup=False, soft_wrap=True)
        sys.exit(2)


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

    run(load_recipe(recipe, override), resume=resume)


Decoder = Annotated[Optional[str], typer.Option("--decoder", help="greedy or beam (default: the recipe's)")]
Beam = Annotated[Optional[int], typer.Option("--beam", help="Beam width")]
LMPath = Annotated[Optional[Path], typer.Option("--lm", help="ARPA character LM (asr lm train) or word KenLM model")]
Alpha = Annotated[Optional[float], typer.Option("--alpha", help="LM weight")]
Beta = Annotated[Optional[float], typer.Option("--beta", help="Insertion bonus per unit")]
HotwordsFile = Annotated[Optional[Path], typer.Option("--hotwords", help="File with one phrase per line to boost")]
Boost = Annotated[Optional[float], typer.Option("--hotword-boost", help="Bonus per hotword unit")]
DecodeFile = Annotated[Optional[Path], typer.Option("--decode", help="YAML decode settings (e.g. from asr lm tune --output)")]
Int8 = Annotated[bool, typer.Option("--int8", help="Dynamic int8 quantization of the model (CPU)")]
Device = Annotated[str, typer.Option("--device", help="auto (CUDA when there is a GPU), cpu, cuda or cuda:N")]
BatchSize = Annotated[int, typer.Option("--batch-size", min=1, help="Files (up to 20 s) decoded together")]


def recognizer(model: Path, decode_file, decoder, beam, lm, alpha, beta, hotwords, hotword_boost, int8=False,
               device: str = "cpu"):
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
    if int8 and device not in ("cpu", "auto"):
        raise UserError("--int8 runs on the CPU (dynamic quantization); drop --int8 or use --device cpu")
    rec = Recognizer(model, device="cpu" if int8 else device, **settings)
    for line in rec.warnings:
        err.print(f"warning: {line}", markup=False, soft_wrap=True)
    if int8:
        from asr.export import quantize_int8

        rec.model = quantize_int8(rec.model)
    return rec


FORMATS = {"text", "json", "tsv", "srt", "vtt"}


@app.command()
def transcribe(
    inputs: Annotated[list[str], typer.Argument(help="Audio files, directories, @list.txt files, or - for stdin", show_default=False)],
    model: Annotated[Path, typer.Option("--model", "-m", help="Model file (best.pt)")],
    format: Annotated[str, typer.Option("--format", "-f", help="text | json | tsv | srt | vtt")] = "text",
    output_dir: Annotated[Optional[Path], typer.Option("--output-dir", "-o", help="Write one FILE.<format> per input here instead of stdout")] = None,
    nbest: Annotated[int, typer.Option("--nbest", help="Hypotheses in the JSON n-best list (beam)")] = 5,
    batch_size: BatchSize = 8,
    decode: DecodeFile = None, decoder: Decoder = None, beam: Beam = None, lm: LMPath = None,
    alpha: Alpha = None, beta: Beta = None, hotwords: HotwordsFile = None, hotword_boost: Boost = None,
    int8: Int8 = False, device: Device = "auto",
) -> None:
    """Transcribe audio of any length; one result per input, failures reported on stderr.

    text: path<TAB>text.  json: one object per line (text, segments, chars with times,
    confidence, n-best).  tsv: path, start, end, text per segment.  srt/vtt: subtitles cut at pauses.
    """
    from asr.subtitles import to_srt, to_tsv, to_vtt
    from asr.transcribe import expand_inputs, output_stems

    if format not in FORMATS:
        raise UserError(f"--format: expected one of {', '.join(sorted(FORMATS))}, got {format!r}")
    items = expand_inputs(inputs)
    stems = output_stems([name for name, _ in items])
    if format in ("srt", "vtt") and len(items) > 1 and output_dir is None:
        raise UserError(f"--format {format} with {len(items)} inputs: give --output-dir to get one subtitle file per input")
    rec = recognizer(model, decode, decoder, beam, lm, alpha, beta, hotwords, hotword_boost, int8, device)
    render = {"text": lambda t: f"{t.path}\t{t.text}\n", "json": lambda t: json.dumps(t.to_json(), ensure_ascii=False) + "\n",
              "tsv": to_tsv, "srt": to_srt, "vtt": to_vtt}[format]
    if format == "tsv" and output_dir is None:
        print("path\tstart\tend\ttext", flush=True)
    failed = 0
    with _long_audio_progress() as progress:
        for result in rec.transcribe_many(items, batch_size=batch_size, nbest=nbest if format == "json" else 1,
                                          progress=progress, times=format != "text"):
            if result.error:
                failed += 1
                err.print(f"error: {result.error}", markup=False, soft_wrap=True)
                continue
            if result.warning:
                err.print(f"warning: {result.warning}", markup=False, soft_wrap=True)
            if output_dir is None:
                sys.stdout.write(render(result))
                sys.stdout.flush()
            else:
                output_dir.mkdir(parents=True, exist_ok=True)
                (output_dir / f"{stems[result.path]}.{'txt' if format == 'text' else format}").write_text(
                    result.text + "\n" if format == "text" else render(result), encoding="utf-8")
    if failed:
        err.print(f"{failed} of {len(items)} input(s) failed", markup=False)
        raise typer.Exit(1)


class _long_audio_progress:
    """A progress bar on a terminal for files long enough to be cut into pieces; else nothing."""

    def __enter__(self):
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:.0f}/{task.total:.0f} s"),
                            TimeRemainingColumn(), console=err, transient=True, disable=not err.is_terminal)
        self.bar.__enter__()
        self.tasks: dict[str, int] = {}
        return self

    def __call__(self, name: str, done: float, total: float) -> None:
        if name not in self.tasks:
            self.tasks[name] = self.bar.add_task(Path(name).name, total=total or None)
        self.bar.update(self.tasks[name], completed=done)

    def __exit__(self, *exc):
        return self.bar.__exit__(*exc)


@app.command()
def evaluate(
    model: Annotated[Path, typer.Option("--model", "-m", help="Model file (best.pt)")],
    data: Annotated[Path, typer.Option("--data", "-d", help="Kaldi-style data dir with wav.scp and text")],
    report: Annotated[Optional[Path], typer.Option("--report", help="Write a JSON report here")] = None,
    times: Annotated[bool, typer.Option("--times", help="Per-character times in the report (forced alignment)")] = False,
    batch_size: BatchSize = 8,
    decode: DecodeFile = None, decoder: Decoder = None, beam: Beam = None, lm: LMPath = None,
    alpha: Alpha = None, beta: Beta = None, hotwords: HotwordsFile = None, hotword_boost: Boost = None,
    int8: Int8 = False, device: Device = "auto",
) -> None:
    """Print CER and WER of MODEL on a data dir."""
    from asr.data import read_data_dir
    from asr.evaluate import evaluate as run, write_report

    rec = recognizer(model, decode, decoder, beam, lm, alpha, beta, hotwords, hotword_boost, int8, device)
    utts = read_data_dir(data)

    def unreadable(uid: str, why: str) -> None:
        err.print(f"error: {uid}: {why}", markup=False, soft_wrap=True)

    rows, failed, rates = run(rec, utts, batch_size=batch_size, times=times, on_error=unreadable)
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
        raise UserError(f"--unit: expected char or word, got {unit!r}")
    texts = [u.text or "" for d in data_dirs for u in read_data_dir(d)]
    sentences = list(corpus_sentences(texts, unit))
    if unit == "word" and sentences and sum(len(s) > 1 for s in sentences) < 0.1 * len(sentences):
        raise UserError(f"--unit word: {len(sentences)} transcripts but almost none has two words; unsegmented text "
                        "(Mandarin) makes every sentence one word: use --unit char")
    model = train_kneser_ney(sentences, order)
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
    batch_size: BatchSize = 16, device: Device = "auto",
) -> None:
    """Grid-search alpha and beta on a dev set; prints the CER table and the best pair."""
    from rich.table import Table

    from asr.data import read_data_dir
    from asr.evaluate import parse_grid, tune_lm

    grid_a = parse_grid(alphas, "--alphas", minimum=0.0)
    grid_b = parse_grid(betas, "--betas")
    rec = recognizer(model, None, "beam", beam, lm, None, None, None, None, device=device)
    utts = read_data_dir(data)

    def unreadable(uid: str, why: str) -> None:
        err.print(f"error: {uid}: {why}", markup=False, soft_wrap=True)

    cers = tune_lm(rec, utts, grid_a, grid_b, batch_size=batch_size, on_error=unreadable)
    table = Table("alpha \\ beta", *[f"{b:g}" for b in grid_b], title=f"CER on {data} (beam {beam})")
    for a in grid_a:
        table.add_row(f"{a:g}", *[f"{cers[(a, b)]:.2%}" for b in grid_b])
    Console().print(table)
    (best_a, best_b), best = min(cers.items(), key=lambda kv: kv[1])
    print(f"best: alpha {best_a:g} beta {best_b:g} CER {best:.2%}")
    if output:
        import yaml

        settings = {"decoder": "beam", "beam": beam, "lm": str(lm.resolve()), "alpha": best_a, "beta": best_b}
        output.write_text(yaml.safe_dump(settings, sort_keys=False))


@app.command()
def export(
    model: Annotated[Path, typer.Option("--model", "-m", help="Model file (best.pt)")],
    format: Annotated[str, typer.Option("--format", "-f", help="onnx or torchscript")],
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write")],
    int8: Annotated[bool, typer.Option("--int8", help="TorchScript: dynamic int8 LSTM and linear layers")] = False,
) -> None:
    """Export MODEL for deployment (inputs: MFCC features and lengths; outputs: CTC log-probs)."""
    from asr.export import export_onnx, export_torchscript

    if format == "onnx":
        if int8:
            raise UserError("--int8 applies to torchscript exports; quantize ONNX models with onnxruntime's tools")
        print(export_onnx(model, output))
    elif format == "torchscript":
        print(export_torchscript(model, output, int8=int8))
    else:
        raise UserError(f"--format: expected onnx or torchscript, got {format!r}")


@app.command()
def align(
    audio: Annotated[Path, typer.Argument(help="Audio file")],
    model: Annotated[Path, typer.Option("--model", "-m", help="Model file")],
    plot: Annotated[Path, typer.Option("--plot", help="PNG to write")] = Path("alignment.png"),
    device: Device = "auto",
) -> None:
    """Plot the posteriorgram (blank and emitted characters) over the waveform; print the times."""
    from asr.align import plot_alignment
    from asr.transcribe import Recognizer

    result = plot_alignment(Recognizer(model, device=device), audio, plot)
    print(result["text"])
    for c in result["chars"]:
        print(f"{c['start']:.2f}\t{c['end']:.2f}\t{c['char']}")
    err.print(f"wrote {plot}", markup=False)


@app.command()
def plot(
    exp_dir: Annotated[Path, typer.Argument(help="Experiment folder (holds metrics.csv)")],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="PNG to write (default EXP_DIR/curves.png)")] = None,
) -> None:
    """Plot training loss and dev CER per epoch to a PNG."""
    from asr.plot import plot_curves

    print(plot_curves(exp_dir, output))


@prepare_app.command("aishell")
def prepare_aishell_cmd(
    corpus_dir: Annotated[Path, typer.Argument(help="Folder holding data_aishell/")],
    out_dir: Annotated[Path, typer.Argument(help="Where to write train/, dev/, test/")],
) -> None:
    """AISHELL-1 (OpenSLR 33) -> OUT_DIR/{train,dev,test}."""
    from asr.corpora.aishell import prepare_aishell

    counts = prepare_aishell(corpus_dir, out_dir)
    for split, c in counts.items():
        print(f"{split}: {c['utterances']} utterances, {c['no_transcript']} wavs without transcript skipped")


@prepare_app.command("demo")
def prepare_demo_cmd(
    out_dir: Annotated[Path, typer.Argument(help="Where to write the corpus")] = Path("data/demo"),
    train: int = 2400,
    dev: int = 300,
    test: int = 200,
    seed: int = 2026,
    workers: Annotated[int, typer.Option(help="Parallel synthesis processes")] = 2,
) -> None:
    """Synthesize the demo Mandarin corpus (espeak-ng, plus gcin-voice recordings when installed)."""
    from asr.corpora.demo import generate

    def progress(n: int, total: int) -> None:
        if n % 250 == 0 or n == total:
            err.print(f"synthesized {n}/{total}", markup=False)

    counts = generate(out_dir, train=train, dev=dev, test=test, seed=seed, workers=workers, progress=progress)
    print(", ".join(f"{k}: {v}" for k, v in counts.items()) + f" utterances in {out_dir}")
