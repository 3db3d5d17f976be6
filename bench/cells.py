"""Which recurrent cell? Every `model.cell` trained on the demo recipe, on one table.

    make bench-cells                        # CPU: ~1.5 h on 2 cores (one training run per row)
    python -m bench.cells --rows lstm,gru --work exp/bench_cells

Rows train recipes/demo.yaml with `model.cell` set and `model.hidden` chosen so that the model's
parameter count is closest to the LSTM's at the recipe's hidden size (Clockwork counts only the
recurrent weights its block upper-triangular mask lets through). Columns: parameters, training
frames/s (the run's own, augmentation workers included), inference real-time factor on 1 thread
(model forward only, batch 1, the test set's features), the first epoch whose dev CER is at most
5%, best-dev test CER, held-out human voice CER (gcin-voice speaker 5, never in train or dev),
training minutes. A second table times each cell at the *same* hidden size against nn.LSTM
(forward, backward and Adam step on bucketed demo batches, 2 threads). The "noclip" rows train
Elman, IRNN and LSTM for a few epochs with `train.grad_clip=0`; their per-step gradient norms,
next to the clipped runs', go to bench/cells_grad_norm.png. Rows already in the work folder's
results.jsonl are kept (an interrupted run goes on where it stopped); --fresh starts over.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import time
from pathlib import Path

import torch

from asr.cells import CELLS, Clockwork
from asr.checkpoint import load_checkpoint, model_from_checkpoint
from asr.config import load_recipe
from asr.data import BucketSampler, read_data_dir
from asr.model import CTCModel
from asr.train import train
from bench.common import RESULTS, append_result, machine, pick_rows, read_results, write_section
from bench.heldout_voice import score
from bench.train import load_features, run

NOCLIP = ("elman", "irnn", "lstm")
NOCLIP_EPOCHS = 2
ROWS = [*CELLS, *(f"noclip_{c}" for c in NOCLIP)]
PLOT = RESULTS.parent / "cells_grad_norm.png"


def parameters(model: torch.nn.Module) -> int:
    """Trainable parameters that take part in the computation (Clockwork's masked-out recurrent
    weights exist as zeros-in-effect and are not counted)."""
    n = sum(p.numel() for p in model.parameters())
    return n - sum(int((m.mask == 0).sum()) for m in model.modules() if isinstance(m, Clockwork))


def matched_hidden(cell: str, recipe, vocab_size: int) -> tuple[int, int]:
    """(hidden, parameters) for `cell` closest to the LSTM's parameter count at recipe.model.hidden."""
    from dataclasses import replace

    dim = recipe.features.dim

    def count(c: str, h: int) -> int:
        return parameters(CTCModel(dim, vocab_size, replace(recipe.model, cell=c, hidden=h)))

    target = count("lstm", recipe.model.hidden)
    candidates = range(16, 4 * recipe.model.hidden + 1, 8)  # multiples of 8: Clockwork's 4 modules
    best = min(candidates, key=lambda h: abs(count(cell, h) - target))
    return best, count(cell, best)


def inference_rtf(model_path: Path, data: Path, utterances: int = 60) -> float:
    """Model forward seconds per second of audio, batch 1, 1 CPU thread."""
    recipe, _, model = model_from_checkpoint(load_checkpoint(model_path))
    items, _ = load_features(str(data), utterances, recipe)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model.eval()
        with torch.no_grad():
            feats = [it["feats"][None] for it in items]
            model(feats[0], torch.tensor([feats[0].shape[1]]))  # warm-up (TorchScript profiles its first calls)
            model(feats[1], torch.tensor([feats[1].shape[1]]))
            t0 = time.perf_counter()
            for f in feats:
                model(f, torch.tensor([f.shape[1]]))
            seconds = time.perf_counter() - t0
    finally:
        torch.set_num_threads(threads)
    return seconds / (sum(f.shape[1] for f in feats) / 100)


def same_size_speed(recipe, data: str, steps: int = 20) -> dict[str, float]:
    """Training frames/s of every cell at the recipe's hidden size, 2 threads, bucketed batches."""
    from dataclasses import replace

    items, vocab = load_features(data, 600, recipe)
    lengths = [it["feats"].shape[0] for it in items]
    sampler = BucketSampler(lengths, max_frames=recipe.train.max_frames, max_utts=0, seed=0)
    batches = [[i for _, i in b] for b in sampler]
    random.Random(0).shuffle(batches)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    speeds = {}
    try:
        for cell in CELLS:
            torch.manual_seed(0)
            model = CTCModel(recipe.features.dim, len(vocab), replace(recipe.model, cell=cell))
            speeds[cell] = run(items, batches * 4, model, torch.device("cpu"), steps, amp=False)
            print(f"{cell}: {speeds[cell]:.0f} frames/s at hidden {recipe.model.hidden}", flush=True)
    finally:
        torch.set_num_threads(threads)
    return speeds


def grad_norms(exp: Path) -> list[tuple[int, float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(exp / "tensorboard"), size_guidance={"scalars": 0})
    acc.Reload()
    return [(e.step, e.value) for e in acc.Scalars("train/grad_norm")]


def run_row(name: str, recipe_path: str, corpus: Path, work: Path, vocab_size: int, extra: list[str]) -> dict:
    exp = work / "exp" / name
    shutil.rmtree(exp, ignore_errors=True)
    cell = name.removeprefix("noclip_")
    recipe = load_recipe(recipe_path)
    hidden, n_params = matched_hidden(cell, recipe, vocab_size)
    sets = [
        f"exp_dir={exp}",
        f"data.train={corpus / 'train'}",
        f"data.dev={corpus / 'dev'}",
        f"model.cell={cell}",
        f"model.hidden={hidden}",
        "train.log_every_steps=1",
    ]
    if name.startswith("noclip_"):
        sets += ["train.grad_clip=0", f"train.epochs={NOCLIP_EPOCHS}"]
    sets += extra
    t0 = time.time()
    summary = train(load_recipe(recipe_path, sets))
    minutes = (time.time() - t0) / 60
    history = summary["history"]
    best = exp / "best.pt"
    reached = [r["epoch"] for r in history if r["dev_cer"] <= 0.05]
    row = {
        "row": name,
        "cell": cell,
        "hidden": hidden,
        "parameters": n_params,
        "dev": summary["best_cer"],
        "epoch_5pct": reached[0] if reached else None,
        "frames_per_s": sum(r["frames_per_s"] for r in history) / len(history),
        "nonfinite": sum(r["skipped_nonfinite"] for r in history),
        "minutes": minutes,
        "epochs": len(history),
        "grad_norms": grad_norms(exp),
    }
    if not name.startswith("noclip_"):
        row["test"] = score(best, corpus / "test")
        row["heldout"] = score(best, corpus / "test_unheard") if (corpus / "test_unheard").is_dir() else None
        row["rtf"] = inference_rtf(best, corpus / "test")
    return row


def plot(done: dict[str, dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(NOCLIP), figsize=(5 * len(NOCLIP), 3.8), sharey=True)
    for ax, cell in zip(axes, NOCLIP):
        for name, style in ((f"noclip_{cell}", "tab:red"), (cell, "tab:blue")):
            if name in done:
                steps, norms = zip(*done[name]["grad_norms"]) if done[name]["grad_norms"] else ((), ())
                label = "no clipping" if name.startswith("noclip") else "clipped at 5 (norm before clipping)"
                ax.plot(steps, norms, color=style, lw=0.6, alpha=0.8, label=label)
        ax.set(title=cell, xlabel="step", yscale="log", xlim=(0, None))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("global gradient norm")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(PLOT, dpi=100)
    plt.close(fig)


def fmt(value, spec: str, missing: str = "-") -> str:
    return missing if value is None else format(value, spec)


def tables(done: dict[str, dict], speeds: dict[str, float], hidden: int) -> str:
    lines = [
        "| cell | hidden | parameters | train frames/s | RTF (1 thread) | first epoch dev CER <= 5% "
        "| dev CER | test CER | held-out human CER | train min |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for cell in CELLS:
        if cell not in done:
            continue
        r = done[cell]
        lines.append(
            f"| {cell} | {r['hidden']} | {r['parameters'] / 1e6:.2f} M | {r['frames_per_s']:.0f} | {r['rtf']:.4f} "
            f"| {fmt(r['epoch_5pct'], 'd', 'never')} | {r['dev']:.2%} | {r['test']:.2%} | {fmt(r['heldout'], '.2%')} "
            f"| {r['minutes']:.1f} |"
        )
    lines += ["", f"Same hidden size ({hidden} per direction), training frames/s:", ""]
    lines += ["| cell | frames/s | vs nn.LSTM |", "|---|---|---|"]
    for cell, fps in speeds.items():
        lines.append(f"| {cell} | {fps:.0f} | {fps / speeds['lstm']:.2f}x |")
    noclip = [done[f"noclip_{c}"] for c in NOCLIP if f"noclip_{c}" in done]
    if noclip:
        lines += ["", f"Without gradient clipping ({NOCLIP_EPOCHS} epochs, `train.grad_clip=0`):", ""]
        lines += [
            "| cell | largest gradient norm | median | non-finite steps skipped | best dev CER |",
            "|---|---|---|---|---|",
        ]
        for r in noclip:
            norms = sorted(v for _, v in r["grad_norms"])
            med = norms[len(norms) // 2] if norms else float("nan")
            lines.append(
                f"| {r['cell']} | {max(norms, default=float('nan')):.3g} | {med:.3g} | {r['nonfinite']} | {r['dev']:.2%} |"
            )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="exp/bench_cells", help="Experiments and results.jsonl")
    ap.add_argument("--recipe", default="recipes/demo.yaml")
    ap.add_argument("--data", default="data/demo", help="The demo corpus (asr prepare demo)")
    ap.add_argument("--rows", default=",".join(ROWS), help=f"Comma-separated, from: {', '.join(ROWS)}")
    ap.add_argument("--fresh", action="store_true", help="Start over: no earlier rows")
    ap.add_argument("--set", action="append", default=[], help="Recipe override for every row, e.g. train.epochs=2")
    args = ap.parse_args()
    rows = pick_rows(args.rows, ROWS)
    corpus = Path(args.data)
    if not (corpus / "train" / "text").is_file():
        raise SystemExit(f"error: {corpus} has no demo corpus: run `make demo-data` first")
    work = Path(args.work)
    if args.fresh:
        shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    recipe = load_recipe(args.recipe, args.set)
    from asr.vocab import Vocab

    vocab_size = len(Vocab.build(u.text for u in read_data_dir(corpus / "train")))
    results_file = work / "results.jsonl"
    done = read_results(results_file)
    speed_file = work / "speeds.json"
    if args.fresh or not speed_file.is_file():
        speed_file.write_text(json.dumps(same_size_speed(recipe, str(corpus / "train"))))
    speeds = json.loads(speed_file.read_text())
    for name in rows:
        if name in done:
            continue
        r = run_row(name, args.recipe, corpus, work, vocab_size, args.set)
        done[name] = r
        append_result(results_file, r)
        print(f"{name}: {json.dumps({k: v for k, v in r.items() if k != 'grad_norms'})}", flush=True)
    plot(done)
    write_section(
        "cells",
        f"""
## Which recurrent cell? (bench/cells.py)

Machine: {machine()}. Recipe {args.recipe}{f" with `{' '.join(args.set)}`" if args.set else ""}
({recipe.train.epochs} epochs, augmentation from epoch {recipe.augment.start_epoch + 1}, greedy decoding),
one training run (seed 0) per cell, `model.hidden` chosen for the parameter count closest to the
LSTM's at hidden {recipe.model.hidden}. "Train frames/s" is the run's own (2 threads, two augmentation
workers sharing the cores); "RTF" is model forward time per second of audio, batch 1, 1 thread.
Held-out human: the demo test sentences read by gcin-voice speaker 5 (never in train or dev).
Gradient norms per step, with and without clipping: [cells_grad_norm.png](cells_grad_norm.png).

{tables(done, speeds, recipe.model.hidden)}
""",
    )


if __name__ == "__main__":
    main()
