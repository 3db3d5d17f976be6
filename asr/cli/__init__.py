"""The `asr` command line: a typer app whose commands parse options and call the library.

The commands live in this package's modules by what they work on: experiments (train, plot,
export, prepare), recognition (transcribe, evaluate, align), language models (lm train/tune) and
slot filling (slots train/tag/evaluate/label).
"""

from __future__ import annotations

import os
import sys

from asr.cli import experiment, lm, recognize, serve, slots  # noqa: F401  (they register their commands with app)
from asr.cli.app import app, err
from asr.cores import other_running
from asr.errors import UserError

# Commands that leave without the interpreter's teardown: with torch loaded it takes ~0.5 s
# (its libraries' destructors), a third of a short job's start-up. What they write is closed by
# then but for the standard streams, which are flushed first. Training (DataLoader workers,
# TensorBoard, process groups) and the server keep the normal exit.
FAST_EXIT = {"transcribe", "evaluate", "align", "lm", "slots"}


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
