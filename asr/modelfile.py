"""Reading model files: a dict saved with torch.save, opened without running code, and the
format names that tell a recognizer's model file (asr/checkpoint.py) from a slot tagger's
(asr/slots.py)."""

from __future__ import annotations

import os
import pickle
import re
import tempfile
from pathlib import Path

import torch

from asr.errors import UserError, located

FORMAT = "asr-ctc"  # a speech recognition model
SLOTS_FORMAT = "asr-slots"  # a slot tagger


def read_torch_file(path: str | Path, what: str = "model file") -> dict:
    """A dict saved with torch.save, read without running code; UserError for anything else."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: is a directory, not a {what} (e.g. {path / 'best.pt'})")
    if not path.is_file():
        raise UserError(f"{located(path)}: {what} not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"unsupported GLOBAL (\S+)", str(exc))
        if found:  # the file asks to import and call something: never done for a model file
            raise UserError(f"{path}: refused to load: the file references Python code ({found.group(1)})") from None
        raise UserError(f"{path}: not a readable {what} (not a torch checkpoint)") from None
    except (RuntimeError, EOFError, OSError) as exc:  # a damaged or cut-off checkpoint
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise UserError(f"{path}: not a readable {what} ({reason})") from None
    except Exception:  # any other file trips the unpickler in its own way (IndexError, KeyError, ...)
        raise UserError(f"{path}: not a readable {what} (not a torch checkpoint)") from None
    if not isinstance(ckpt, dict):
        raise UserError(f"{path}: not an asr {what}")
    return ckpt


def write_torch_file(path: str | Path, payload: dict) -> None:
    """torch.save `payload` to `path` through a temporary file in the same folder, synced and
    renamed into place: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
