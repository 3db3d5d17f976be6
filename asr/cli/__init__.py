"""The `asr` command line: a typer app whose commands parse options and call the library.

The commands live in this package's modules by what they work on: experiments (train, plot,
export, prepare), recognition (transcribe, evaluate, align), language models (lm train/tune) and
slot filling (slots train/tag/evaluate/label).
"""

from __future__ import annotations

import os
import sys
from typing import Protocol, cast

import typer

from asr.cli import experiment, lm, recognize, serve, slots  # noqa: F401  (they register their commands with app)
from asr.cli.app import app, err
from asr.cores import other_running
from asr.errors import UserError

# Commands that leave without the interpreter's teardown: with torch loaded it takes ~0.5 s
# (its libraries' destructors), a third of a short job's start-up. What they write is closed by
# then but for the standard streams, which are flushed first. Training (DataLoader workers,
# TensorBoard, process groups) and the server keep the normal exit.
FAST_EXIT = {"transcribe", "evaluate", "align", "lm", "slots"}


# The base of click's errors for a command line it cannot parse (typer >= 0.29 carries its own
# copy of click, whose exceptions are not the click package's; earlier typers use click's).
CLICK_ERROR = next(c for c in typer.BadParameter.__mro__ if issubclass(c, Exception) and c.__name__ == "ClickException")


class ClickError(Protocol):
    """What main uses of CLICK_ERROR, a class found at run time and so unknown to a type checker."""

    def format_message(self) -> str: ...

    def show(self) -> None: ...


def usage_line(exc: ClickError) -> str:
    """Click's message for a command line it cannot parse (an unknown option, a missing argument,
    a value of the wrong type) on one line, with where the command's help is."""
    message = " ".join(exc.format_message().split())
    ctx = getattr(exc, "ctx", None)
    if ctx is not None and ctx.command.get_help_option(ctx) is not None:
        message = f"{message.rstrip('.')}; see {ctx.command_path} --help"
    return message


def main() -> None:
    """The `asr` entry point. A UserError anywhere below is the user's to fix: one `error:` line
    on stderr and exit status 2, caught here once, and so is a command line click cannot parse;
    anything else is a bug and keeps its traceback."""
    other_running()  # a first reading of the machine's load, before the imports (asr.cores)
    try:
        # Not standalone: click's usage errors come here instead of being printed as its panel.
        # typer.Exit(n) returns n; a command returns None.
        code = app(prog_name="asr", standalone_mode=False)
        code = code if isinstance(code, int) else 0
    except SystemExit as exc:
        code = exc.code
    except CLICK_ERROR as exc:
        usage = cast(ClickError, exc)  # an instance of click's exception base: it has both methods
        if type(exc).__name__ == "NoArgsIsHelpError":  # `asr` or `asr lm` alone: the help, as before
            usage.show()
        else:
            err.print(f"error: {usage_line(usage)}", markup=False, soft_wrap=True)
        code = 2
    except typer.Abort:  # Ctrl-D at a prompt
        print("Aborted!", file=sys.stderr)
        code = 1
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
