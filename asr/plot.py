"""Training curves from EXP_DIR/metrics.csv as a PNG."""

from __future__ import annotations

import csv
from pathlib import Path

from asr.errors import UserError


def plot_curves(exp_dir: str | Path, out: str | Path | None = None) -> Path:
    """Plot training loss, and dev CER beside the fixed training sample's (train.fit_sample), per
    epoch; returns the PNG path (default EXP_DIR/curves.png)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    exp_dir = Path(exp_dir)
    metrics = exp_dir / "metrics.csv"
    if not metrics.is_file():
        raise UserError(f"{metrics} not found: train first, or point to an experiment folder")
    with open(metrics, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise UserError(f"{metrics}: no epochs recorded yet")
    epochs = [int(r["epoch"]) for r in rows]
    fig, (ax_loss, ax_cer) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [float(r["train_loss"]) for r in rows], marker="o")
    ax_loss.set(xlabel="epoch", ylabel="CTC loss per utterance", title="training loss", yscale="log")
    ax_cer.plot(epochs, [100 * float(r["dev_cer"]) for r in rows], marker="o", color="tab:red", label="dev")
    fit = [
        (e, 100 * float(r["train_cer"])) for e, r in zip(epochs, rows) if r.get("train_cer") not in (None, "", "nan")
    ]
    if fit:  # low on train and high on dev: overfitting; high on both: underfitting
        ax_cer.plot(*zip(*fit), marker="o", color="tab:blue", label="training sample")
        ax_cer.legend()
    ax_cer.set(xlabel="epoch", ylabel="CER (%)", title="CER")
    for ax in (ax_loss, ax_cer):
        ax.grid(alpha=0.3)
    fig.suptitle(str(exp_dir))
    fig.tight_layout()
    out = Path(out) if out else exp_dir / "curves.png"
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
