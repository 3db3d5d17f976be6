"""Errors meant for users: the CLI prints them as one line, without a traceback."""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast


class UserError(Exception):
    """A problem with the user's input (a file, a recipe, a corpus) that they can fix."""


class AudioError(UserError):
    """An audio file that cannot be turned into a usable waveform."""


def located(path: str | Path) -> str:
    """A path for an error message; a relative one says what it is relative to (the current
    folder, not the recipe's), which is the usual surprise when a recipe is copied elsewhere."""
    return str(path) if Path(path).is_absolute() else f"{path} (relative to the current folder {Path.cwd()})"


def _shown(x: float) -> str:
    """A number as a message shows it: 2 for 2.0, nan, 0.0001."""
    return str(x) if isinstance(x, numbers.Integral) or not math.isfinite(x) or x != int(x) else str(int(x))


def check_range(key: str, value: Any, interval: str, whole: bool = False, why: str = "") -> None:
    """UserError `key: expected <what interval allows> (why), got <value>` unless `value` is a
    finite number (an integer where `whole`) in `interval`, written as in mathematics: "[0, 1]",
    "(0, inf)", "[1, inf)". `key` names the setting as a recipe does (section.key)."""
    interval = interval.strip()
    left, right = interval[0], interval[-1]
    low, high = (float(end) for end in interval[1:-1].split(","))
    number = isinstance(value, numbers.Integral if whole else numbers.Real) and not isinstance(value, bool)
    if number and (isinstance(value, numbers.Integral) or math.isfinite(value)):
        above = low < value if left == "(" else low <= value
        below = value < high if right == ")" else value <= high
        if above and below:
            return
    what = "an integer" if whole else "a number"
    if math.isinf(low) and math.isinf(high):
        what = "an integer" if whole else "a finite number"
    elif math.isinf(high):
        what += f" {'>' if left == '(' else '>='} {_shown(low)}"
    elif math.isinf(low):
        what += f" {'<' if right == ')' else '<='} {_shown(high)}"
    else:
        what += f" in {left}{_shown(low)}, {_shown(high)}{right}"
    # cast: typeshed's numbers.Real lacks __int__, which every Real a setting holds (int, float, NumPy's) has
    got = _shown(cast(float, value)) if isinstance(value, numbers.Real) and not isinstance(value, bool) else repr(value)
    raise UserError(f"{key}: expected {what}{f' ({why})' if why else ''}, got {got}")


def check_ranges(section: str, cfg: Any, **intervals: str) -> None:
    """check_range for each field `key=interval` of the dataclass `cfg` (its section of a recipe:
    "train", "features", ...): integers for the fields declared int, numbers for the others."""
    types = {f.name: f.type for f in dataclasses.fields(cfg)}
    for key, interval in intervals.items():
        check_range(f"{section}.{key}", getattr(cfg, key), interval, whole=types[key] in ("int", int))


def check_choice(key: str, value: Any, choices: Sequence[str]) -> None:
    """UserError `key: expected a, b or c, got 'value'` unless `value` is one of `choices`."""
    if value not in choices:
        allowed = ", ".join(choices[:-1]) + f" or {choices[-1]}" if len(choices) > 1 else choices[0]
        raise UserError(f"{key}: expected {allowed}, got {value!r}")


def output_file(path: str | Path) -> Path:
    """`path` to write a file to, its folder made where missing; UserError (one line) where no
    file can be written there (its folder is a file, or cannot be made; the path is a folder)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{path}: cannot make its folder {path.parent} ({exc.strerror or exc})") from None
    if path.is_dir():
        raise UserError(f"{path}: is a folder; give the file's name")
    return path
