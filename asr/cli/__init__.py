"""The `asr` command line: a typer app whose commands parse options and call the library.

The commands live in this package's modules by what they work on: experiments (train, plot,
export, prepare), recognition (transcribe, evaluate, align) and language models (lm train/tune).
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from asr.errors import UserError

app = typer.Typer(
    help="CTC speech recognition with a deep bidirectional LSTM.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
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


from asr.cli import experiment, lm, recognize, serve  # noqa: E402, F401  (registers the commands)
