"""Errors meant for users: the CLI prints them as one line, without a traceback."""

from __future__ import annotations

from pathlib import Path


class UserError(Exception):
    """A problem with the user's input (a file, a recipe, a corpus) that they can fix."""


class AudioError(UserError):
    """An audio file that cannot be turned into a usable waveform."""


def located(path: str | Path) -> str:
    """A path for an error message; a relative one says what it is relative to (the current
    folder, not the recipe's), which is the usual surprise when a recipe is copied elsewhere."""
    return str(path) if Path(path).is_absolute() else f"{path} (relative to the current folder {Path.cwd()})"
