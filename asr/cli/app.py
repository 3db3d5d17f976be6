"""The typer app, its sub-apps and the stderr console that every command module registers with."""

from __future__ import annotations

import typer
from rich.console import Console

# Plain help (rich_markup_mode=None): rich would read "pip install 'asr[lhotse]'" as a style tag
# and drop it, and typer >= 0.29 shows every flag as taking a <bool> value in its rich panels.
app = typer.Typer(
    help="CTC speech recognition with a deep bidirectional LSTM.",
    pretty_exceptions_enable=False,
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
prepare_app = typer.Typer(
    help="Build Kaldi-style data dirs (wav.scp, text) from a corpus.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(prepare_app, name="prepare")
lm_app = typer.Typer(
    help="Train and tune n-gram language models for beam search.", no_args_is_help=True, rich_markup_mode=None
)
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
