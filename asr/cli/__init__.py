"""The `asr` command line: a typer app whose commands parse options and call the library.

The commands live in this package's modules by what they work on: experiments (train, plot,
export, prepare), recognition (transcribe, evaluate, align) and language models (lm train/tune).
"""

from __future__ import annotations

import os
import sys

import typer
from rich.console import Console

from asr.cores import other_running
from asr.errors import UserError

# Plain help (no rich markup): rich would read "pip install 'asr[lhotse]'" as a style tag and
# drop it, and typer >= 0.29 shows every flag as taking a <bool> value in its rich panels.
PLAIN = dict(no_args_is_help=True, rich_markup_mode=None)
app = typer.Typer(
    help="CTC speech recognition with a deep bidirectional LSTM.",
    pretty_exceptions_enable=False,
    add_completion=False,
    **PLAIN,
)
prepare_app = typer.Typer(help="Build Kaldi-style data dirs (wav.scp, text) from a corpus.", **PLAIN)
app.add_typer(prepare_app, name="prepare")
lm_app = typer.Typer(help="Train and tune n-gram language models for beam search.", **PLAIN)
app.add_typer(lm_app, name="lm")
err = Console(stderr=True, highlight=False)


def _version(value: bool) -> None:
    if value:
        from asr import __version__

        print(f"asr {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """CTC speech recognition with a deep bidirectional LSTM."""


# Commands that leave without the interpreter's teardown: with torch loaded it takes ~0.5 s
# (its libraries' destructors), a third of a short job's start-up. What they write is closed by
# then but for the standard streams, which are flushed first. Training (DataLoader workers,
# TensorBoard, process groups) and the server keep the normal exit.
FAST_EXIT = {"transcribe", "evaluate", "align", "lm"}


def main() -> None:
    """The `asr` entry point. A UserError anywhere below is the user's to fix: one `error:` line
    on stderr and exit status 2, caught here once; anything else is a bug and keeps its traceback."""
    other_running()  # a first reading of the machine's load, before the imports (asr.cores)
    try:
        app(prog_name="asr")
        code = 0
    except SystemExit as exc:
        code = exc.code
    except UserError as exc:
        err.print(f"error: {exc}", markup=False, soft_wrap=True)
        code = 2
    if isinstance(code, str):  # SystemExit("message"): Python prints it and exits with 1
        print(code, file=sys.stderr)
        code = 1
    if len(sys.argv) > 1 and sys.argv[1] in FAST_EXIT and "torch" in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code or 0)
    sys.exit(code)


from asr.cli import experiment, lm, recognize, serve  # noqa: E402, F401  (registers the commands)
