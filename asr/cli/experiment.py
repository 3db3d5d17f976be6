"""Commands around an experiment: prepare data, train, plot, export."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from asr.cli.app import app, err, prepare_app
from asr.corpora.demo.mix import MAX_RANDOM_VOICES, DemoMix
from asr.errors import UserError, check_choice, output_file

if TYPE_CHECKING:
    from asr.corpora.common import Report


@app.command()
def train(
    recipe: Annotated[Path, typer.Argument(help="Recipe YAML, e.g. recipes/demo.yaml")],
    resume: Annotated[bool, typer.Option("--resume", help="Continue from EXP_DIR/last.pt")] = False,
    override: Annotated[
        Optional[list[str]],
        typer.Option(
            "--set", "-s", help="Override a recipe key: section.key=value (value null: unset it, its default applies)"
        ),
    ] = None,
    nproc: Annotated[int, typer.Option("--nproc", help="Processes (GPUs) on this machine, through torchrun")] = 1,
    device: Annotated[
        Optional[str], typer.Option("--device", help="cpu or cuda (default: the recipe's train.device)")
    ] = None,
    init: Annotated[
        Optional[Path], typer.Option("--init", help="Fine-tune: start from this model file (sets train.init)")
    ] = None,
) -> None:
    """Train a model as the recipe says; checkpoints go to its exp_dir."""
    override = [
        *(override or []),
        *([f"train.device={device}"] if device else []),
        *([f"train.init={init}"] if init else []),
    ]
    if nproc > 1 and "WORLD_SIZE" not in os.environ:
        args = [str(recipe), *(["--resume"] if resume else []), *[a for o in override for a in ("--set", o)]]
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={nproc}",
            "-m",
            "asr",
            "train",
            *args,
        ]
        raise typer.Exit(subprocess.call(cmd))
    from asr.config import load_recipe
    from asr.train import train as run

    run(load_recipe(recipe, override), resume=resume)


@app.command()
def plot(
    exp_dir: Annotated[Path, typer.Argument(help="Experiment folder (holds metrics.csv)")],
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="PNG to write (default EXP_DIR/curves.png)")
    ] = None,
) -> None:
    """Plot training loss and dev CER per epoch to a PNG."""
    from asr.plot import plot_curves

    print(plot_curves(exp_dir, output_file(output) if output else None))


@app.command()
def export(
    model: Annotated[Path, typer.Option("--model", "-m", help="Model file (best.pt)")],
    format: Annotated[str, typer.Option("--format", "-f", help="onnx or torchscript")],
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write")],
    int8: Annotated[bool, typer.Option("--int8", help="TorchScript: dynamic int8 LSTM and linear layers")] = False,
) -> None:
    """Export MODEL for deployment (inputs: MFCC features and lengths; outputs: CTC log-probs)."""
    from asr.export import export_onnx, export_torchscript

    check_choice("--format", format, ["onnx", "torchscript"])
    if format == "onnx" and int8:
        raise UserError("--int8 applies to torchscript exports; quantize ONNX models with onnxruntime's tools")
    output = output_file(output)
    if format == "onnx":
        print(export_onnx(model, output))
    else:
        print(export_torchscript(model, output, int8=int8))


@prepare_app.command("aishell")
def prepare_aishell_cmd(
    corpus_dir: Annotated[Path, typer.Argument(help="Folder holding data_aishell/")],
    out_dir: Annotated[Path, typer.Argument(help="Where to write train/, dev/, test/", file_okay=False)],
) -> None:
    """AISHELL-1 (OpenSLR 33) -> OUT_DIR/{train,dev,test} (wav.scp, text, utt2spk, spk2utt, utt2dur)."""
    from asr.corpora.aishell import prepare_aishell

    _print_reports(prepare_aishell(corpus_dir, out_dir))


def _print_reports(reports: Iterable[Report]) -> None:
    """Each data dir's line; a data dir left with no utterance is an error (after every line)."""
    empty = []
    for report in reports:
        print(report.line())
        if not report.utterances:
            empty.append(str(report.out_dir))
    if empty:
        raise UserError(f"no utterance kept in {', '.join(empty)}: the input held none that could be used")


@prepare_app.command("librispeech")
def prepare_librispeech_cmd(
    corpus_dir: Annotated[Path, typer.Argument(help="LibriSpeech/ (every subset) or one subset, e.g. dev-clean/")],
    out_dir: Annotated[Path, typer.Argument(help="Where to write one data dir per subset", file_okay=False)],
) -> None:
    """LibriSpeech (OpenSLR 12) -> OUT_DIR/SUBSET (wav.scp, text, utt2spk, spk2utt, utt2dur)."""
    from asr.corpora.librispeech import prepare_librispeech

    _print_reports(prepare_librispeech(corpus_dir, out_dir))


@prepare_app.command("commonvoice")
def prepare_commonvoice_cmd(
    corpus_dir: Annotated[
        Path, typer.Argument(help="A Common Voice language folder: train.tsv, dev.tsv, test.tsv, clips/")
    ],
    out_dir: Annotated[Path, typer.Argument(help="Where to write train/, dev/, test/", file_okay=False)],
) -> None:
    """Mozilla Common Voice -> OUT_DIR/{train,dev,test}; clips without enough up votes are skipped."""
    from asr.corpora.commonvoice import prepare_commonvoice

    _print_reports(prepare_commonvoice(corpus_dir, out_dir))


@prepare_app.command("fillets-cs")
def prepare_fillets_cmd(
    out_dir: Annotated[Path, typer.Argument(help="Where to write train/, dev/, test/, test_unheard/", file_okay=False)],
    source: Annotated[
        Optional[Path],
        typer.Option(
            "--from",
            help="Unpacked fillets-ng-data-cs + fillets-ng-data (default: apt-get download them into OUT_DIR/download)",
        ),
    ] = None,
) -> None:
    """Fish Fillets NG's Czech voice acting (1.7 h, real speech) -> OUT_DIR/{train,dev,test,test_unheard}:
    the two fish split by transcript hash (80/10/10), the minor characters in test_unheard."""
    from asr.corpora.fillets import prepare_fillets

    _print_reports(prepare_fillets(out_dir, source))


@prepare_app.command("manifest")
def prepare_manifest_cmd(
    manifest: Annotated[
        Path, typer.Argument(help="CSV, TSV or JSON Lines with path and text (id, speaker, start and end optional)")
    ],
    out_dir: Annotated[Path, typer.Argument(help="Where to write the data dir", file_okay=False)],
) -> None:
    """A manifest of your own recordings -> a data dir."""
    from asr.corpora.manifest import prepare_manifest

    _print_reports([prepare_manifest(manifest, out_dir)])


@prepare_app.command("lhotse")
def prepare_lhotse_cmd(
    cuts: Annotated[Path, typer.Argument(help="A Lhotse CutSet manifest (cuts.jsonl.gz)")],
    out_dir: Annotated[Path, typer.Argument(help="Where to write the data dir", file_okay=False)],
) -> None:
    """A Lhotse CutSet -> a data dir (needs pip install 'asr[lhotse]')."""
    from asr.corpora.lhotse_cuts import prepare_lhotse

    _print_reports([prepare_lhotse(cuts, out_dir)])


def _share(help: str):
    return typer.Option(min=0.0, max=1.0, help=help)


_MIX = DemoMix()


@prepare_app.command("demo")
def prepare_demo_cmd(
    out_dir: Annotated[Path, typer.Argument(help="Where to write the corpus", file_okay=False)] = Path("data/demo"),
    train: int = 2400,
    dev: int = 300,
    test: int = 200,
    seed: int = 2026,
    workers: Annotated[int, typer.Option(help="Parallel synthesis processes")] = 2,
    random_voices: Annotated[
        int, typer.Option(min=0, max=MAX_RANDOM_VOICES, help=_MIX.describe("random_voices"))
    ] = _MIX.random_voices,
    human_share: Annotated[float, _share(_MIX.describe("human_share"))] = _MIX.human_share,
    world_share: Annotated[float, _share(_MIX.describe("world_share"))] = _MIX.world_share,
    dev_human_share: Annotated[float, _share(_MIX.describe("dev_human_share"))] = _MIX.dev_human_share,
    yanyu_dir: Annotated[
        Optional[Path],
        typer.Option(help="yanyu's unpacked pinyin-syllables/ folder (default: fetched with npm pack)"),
    ] = None,
    tts_share: Annotated[float, _share(_MIX.describe("tts_share"))] = _MIX.tts_share,
    mbrola_share: Annotated[float, _share(_MIX.describe("mbrola_share"))] = _MIX.mbrola_share,
    human: Annotated[
        Optional[bool],
        typer.Option(
            "--human/--no-human",
            help="gcin-voice's recorded syllables in training and the held-out test_unheard split "
            "(default: where gcin-voice is installed)",
        ),
    ] = None,
) -> None:
    """Synthesize the demo Mandarin corpus (espeak-ng, plus human syllable recordings: gcin-voice
    in training and test_unheard, yanyu in dev)."""
    from asr.corpora.demo.generate import generate

    def progress(n: int, total: int) -> None:
        if n % 250 == 0 or n == total:
            err.print(f"synthesized {n}/{total}", markup=False)

    mix = DemoMix(human_share, world_share, dev_human_share, tts_share, mbrola_share, random_voices)
    counts = generate(
        out_dir,
        train,
        dev,
        test,
        seed,
        mix,
        workers=workers,
        human=human,
        yanyu_dir=yanyu_dir,
        progress=progress,
        notice=lambda line: err.print(line, markup=False, soft_wrap=True),
    )
    print(", ".join(f"{k}: {v}" for k, v in counts.items()) + f" utterances in {out_dir}")
