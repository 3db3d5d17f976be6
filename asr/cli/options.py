"""Options shared by several commands, and the one way they build a Recognizer."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from asr.cli import err

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
Int8 = Annotated[bool, typer.Option("--int8", help="Dynamic int8 quantization of the model (CPU)")]
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


def recognizer(
    model: Path,
    decode_file,
    decoder,
    beam,
    lm,
    alpha,
    beta,
    hotwords,
    hotword_boost,
    int8=False,
    device: str = "cpu",
    threads: int | None = 0,
):
    """(Recognizer.from_settings with the shared decoding flags, the CPU thread count); its
    warnings go to stderr. `threads`: torch's CPU threads (0: asr.cores.cpu_threads decides;
    None: left alone, and 1 is returned). Many short files, and a long one's pieces, are shared
    among that many forked one-thread processes (pass it as `jobs`)."""
    import torch

    from asr.cores import cpu_threads
    from asr.transcribe import Recognizer

    if threads is not None:
        # decided before the model runs: torch's own idle threads would count as busy ones
        threads = cpu_threads(threads)
        torch.set_num_threads(threads)

    rec = Recognizer.from_settings(
        model,
        decode_file,
        int8=int8,
        device=device,
        decoder=decoder,
        beam=beam,
        lm=lm,
        alpha=alpha,
        beta=beta,
        hotwords=hotwords,
        hotword_boost=hotword_boost,
    )
    for line in rec.warnings:
        err.print(f"warning: {line}", markup=False, soft_wrap=True)
    return rec, threads or 1


def print_error(uid: str, why: str) -> None:
    """One `error:` line for an input that could not be processed (the others go on)."""
    err.print(f"error: {uid}: {why}", markup=False, soft_wrap=True)
