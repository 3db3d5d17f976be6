"""What a training run shows and writes as it goes: the log (console and train.log), the
progress bar, and the per-epoch metrics (metrics.csv and TensorBoard)."""

from __future__ import annotations

import csv
import logging
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

if TYPE_CHECKING:  # imported where a run makes one: tensorboard takes seconds to import
    from torch.utils.tensorboard import SummaryWriter

log = logging.getLogger("asr.train")
console = Console(stderr=True)


def setup_logging(exp_dir: Path, main: bool) -> None:
    """Console (rich) and exp_dir/train.log on rank 0; warnings only elsewhere."""
    log.setLevel(logging.INFO if main else logging.WARNING)
    log.handlers.clear()
    log.propagate = False
    if console.is_terminal:
        log.addHandler(RichHandler(console=console, show_path=False, show_level=False))
    else:  # piped or redirected: whole lines (rich would wrap them at 80 columns, padded with spaces)
        plain = logging.StreamHandler(sys.stderr)
        plain.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        log.addHandler(plain)
    if main:
        exp_dir.mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(exp_dir / "train.log", encoding="utf-8")
        fh.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        log.addHandler(fh)


def progress_bar(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.3f}"),
        TextColumn("{task.fields[fps]:.0f} frames/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not (enabled and console.is_terminal),
    )


def write_metrics(exp_dir: Path, rows: list[dict], writer: SummaryWriter | None) -> None:
    """exp_dir/metrics.csv (one row per epoch, and the part-epoch a time budget stopped in) and
    the last row's TensorBoard scalars. Columns are every row's keys: rows a resumed run wrote
    with an older version lack the newer ones (left empty)."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with open(exp_dir / "metrics.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, restval="")
        w.writeheader()
        w.writerows(rows)
    if writer:
        row = rows[-1]
        for key in ("train_loss", "train_cer", "dev_cer", "dev_wer", "frames_per_s"):
            if key in row and math.isfinite(row[key]):
                writer.add_scalar(f"epoch/{key}", row[key], row["epoch"])
        writer.flush()


def epoch_line(row: dict, epochs: int, improved: bool, budget: str = "") -> str:
    """The log line of an epoch's metrics row (or of the part-epoch a time budget stopped in:
    its `done` below 1). `budget`: the minutes spent of the time budget ("7.5 of 13 min"), shown
    in place of the epoch count, which a budget makes meaningless."""
    if row.get("done", 1.0) < 1.0:
        where = f"part of epoch {row['epoch']} ({row['done']:.0%} of its batches)"
    else:
        where = f"epoch {row['epoch']}" + (f" ({budget})" if budget else f"/{epochs}")
    fit = row.get("train_cer", math.nan)
    return (
        f"{where}: loss {row['train_loss']:.3f}, "
        + (f"train CER {fit:.2%}, " if math.isfinite(fit) else "")
        + f"dev CER {row['dev_cer']:.2%} WER {row['dev_wer']:.2%}, {row['frames_per_s']:.0f} frames/s, "
        f"{row['seconds']:.0f} s, lr {row['lr']:.2e}"
        + (" (best)" if improved else "")
        + (f", {row['skipped_nonfinite']} non-finite steps skipped" if row["skipped_nonfinite"] else "")
        + (f", skipped {row['unreadable']} audio file(s) that failed to load" if row["unreadable"] else "")
    )
