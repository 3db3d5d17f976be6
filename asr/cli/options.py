"""Options shared by several commands, and the one way they build a Recognizer."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any, Optional, cast

import typer

from asr.cli.app import err

Decoder = Annotated[Optional[str], typer.Option("--decoder", help="greedy or beam (default: the recipe's)")]
Beam = Annotated[Optional[int], typer.Option("--beam", help="Beam width")]
LMPath = Annotated[Optional[Path], typer.Option("--lm", help="ARPA character LM (asr lm train) or word KenLM model")]
Alpha = Annotated[Optional[float], typer.Option("--alpha", help="LM weight")]
Beta = Annotated[Optional[float], typer.Option("--beta", help="Insertion bonus per unit")]
HotwordsFile = Annotated[Optional[Path], typer.Option("--hotwords", help="File with one phrase per line to boost")]
Boost = Annotated[Optional[float], typer.Option("--hotword-boost", help="Bonus per hotword unit")]
DecodeFile = Annotated[
    Optional[Path], typer.Option("--decode", help="YAML decode settings (e.g. from asr lm tune --output)")
]
SlotModel = Annotated[
    Optional[Path],
    typer.Option(
        "--slots", help="Slot model (asr slots train): fill each transcript's slots (origin, destination, ...)"
    ),
]
# subtitles (asr.subtitles.CueRules; None: its default, the Netflix Timed Text Style Guide's)
MaxLineChars = Annotated[
    Optional[int], typer.Option("--max-line-chars", help="srt/vtt: characters a line (default 16 CJK, 42 spaced)")
]
MaxLines = Annotated[Optional[int], typer.Option("--max-lines", help="srt/vtt: lines a cue (default 2)")]
MinCueSeconds = Annotated[
    Optional[float], typer.Option("--min-cue-seconds", help="srt/vtt: shortest cue (default 5/6 s)")
]
MaxCueSeconds = Annotated[Optional[float], typer.Option("--max-cue-seconds", help="srt/vtt: longest cue (default 7 s)")]
Int8 = Annotated[bool, typer.Option("--int8", help="Dynamic int8 quantization of the model (CPU)")]
Amp = Annotated[
    str,
    typer.Option(
        "--amp",
        help="The model's forward pass: off (float32), bf16 (autocast), or auto (bf16 where a timed forward "
        "pass is at least 10% faster in it on this CPU, or the GPU supports it; stderr says which)",
    ),
]
Device = Annotated[str, typer.Option("--device", help="auto (CUDA when there is a GPU), cpu, cuda or cuda:N")]
BatchSize = Annotated[int, typer.Option("--batch-size", min=1, help="Files (up to 20 s) decoded together")]
Threads = Annotated[
    int,
    typer.Option(
        "--threads",
        min=0,
        help="CPU threads (0: the cores less those other processes keep busy right now); "
        "many short files are shared among that many one-thread processes",
    ),
]


@dataclass(frozen=True)
class DecodingFlags:
    """The decoding flags of the commands that decode (transcribe, evaluate, serve), as one value:
    None means not given (the model's setting, or the --decode file's, stands)."""

    decode_file: Path | None = None
    decoder: str | None = None
    beam: int | None = None
    lm: Path | None = None
    alpha: float | None = None
    beta: float | None = None
    hotwords: Path | None = None
    hotword_boost: float | None = None

    def settings(self) -> dict:
        """The DecodeConfig keys given (asr.recognizer.resolve_decoding takes them)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "decode_file"}


# each flag's declaration, in the order --help lists them
FLAGS = {
    "decode_file": DecodeFile,
    "decoder": Decoder,
    "beam": Beam,
    "lm": LMPath,
    "alpha": Alpha,
    "beta": Beta,
    "hotwords": HotwordsFile,
    "hotword_boost": Boost,
}


def decoding_flags(command: Callable) -> Callable:
    """Give a typer command the decoding flags (declared once, here) in place of its parameter
    `decoding`, which receives them as one DecodingFlags. Put it under @app.command()."""
    signature = inspect.signature(command, eval_str=True)
    params = []
    for p in signature.parameters.values():
        if p.name == "decoding":
            params += [inspect.Parameter(n, p.kind, default=None, annotation=t) for n, t in FLAGS.items()]
        else:
            params.append(p)

    @functools.wraps(command)
    def with_flags(**kwargs):
        decoding = DecodingFlags(**{name: kwargs.pop(name) for name in FLAGS})
        return command(decoding=decoding, **kwargs)

    # what typer reads the options from; cast: typeshed's function types have no __signature__, inspect reads it
    cast(Any, with_flags).__signature__ = signature.replace(parameters=params)
    return with_flags


def recognizer(
    model: Path,
    decoding: DecodingFlags = DecodingFlags(),
    int8: bool = False,
    device: str = "cpu",
    threads: int | None = 0,
    amp: str = "off",
):
    """(Recognizer of `model` with the decoding flags, the CPU thread count); its warnings go to
    stderr. `threads`: torch's CPU threads (0: asr.cores.cpu_threads decides; None: left alone,
    and 1 is returned). Many short files, and a long one's pieces, are shared among that many
    forked one-thread processes (pass it as `jobs`). `amp`: off, bf16 or auto (Recognizer)."""
    import torch

    from asr.cores import cpu_threads
    from asr.recognizer import Recognizer

    if threads is not None:
        # decided before the model runs: torch's own idle threads would count as busy ones
        threads = cpu_threads(threads)
        torch.set_num_threads(threads)

    rec = Recognizer(model, device=device, int8=int8, decode_file=decoding.decode_file, amp=amp, **decoding.settings())
    if amp == "auto":
        err.print(f"amp auto: {rec.amp_why}", markup=False, soft_wrap=True)
    for line in rec.warnings:
        err.print(f"warning: {line}", markup=False, soft_wrap=True)
    return rec, threads or 1


def print_error(uid: str, why: str) -> None:
    """One `error:` line for an input that could not be processed (the others go on)."""
    err.print(f"error: {uid}: {why}", markup=False, soft_wrap=True)
