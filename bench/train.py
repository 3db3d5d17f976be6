"""Training throughput: fixed-count padded batches vs length-bucketed batches, same model.

    make bench-train     # CPU, demo corpus (make demo-data first); add --device cuda on a GPU
    python -m bench.train --recipe recipes/few_hours.yaml --data exp/real_speech/data/train --section train-cpu-few-hours
On a CPU with a bf16 path (asr.runtime.cpu_bf16_path) bf16 autocast is timed beside fp32.
Valid frames/s counts only real (unpadded) 100 Hz feature frames pushed through forward,
backward and the optimizer step, so padding shows up as lost throughput.
"""

from __future__ import annotations

import argparse
import itertools
import random
import time

import torch

from asr.config import load_recipe
from asr.data import BucketSampler, FeatureDataset, collate
from asr.datadir import read_data_dir
from asr.model import TrainingView
from asr.runtime import Dist, amp_name, cpu_bf16_path
from asr.train import train_step
from asr.trainstate import Run, new_state
from asr.vocab import Vocab
from bench.common import machine, report, table, timed


def load_features(data_dir: str, limit: int, recipe) -> tuple[list[dict], Vocab]:
    utts = read_data_dir(data_dir)[:limit]
    vocab = Vocab.build(u.text for u in utts)
    ds = FeatureDataset(utts, recipe.features, vocab)
    return [item for item in (ds[i] for i in range(len(ds))) if item is not None], vocab


def synthetic_features(n: int, dim: int, vocab_size: int, seed: int = 0) -> list[dict]:
    """Random features with the demo corpus's length spread (1.2 to 7 s), for machines without it."""
    rng = random.Random(seed)
    lengths = [rng.randint(120, 700) for _ in range(n)]
    return [
        {"id": str(i), "feats": torch.randn(t, dim), "target": torch.randint(2, vocab_size, (t // 25,)), "text": ""}
        for i, t in enumerate(lengths)
    ]


def throughput(items: list[dict], batches: list[list[int]], run: Run, steps: int) -> float:
    """Valid frames/s of asr.train's own step (the recipe's optimizer, schedule and clipping) on a
    fresh model, over `steps` batches after 3 untimed warm-up steps."""
    torch.manual_seed(0)
    ts = new_state(run)
    ts.model.to(run.device).train()
    run.started = time.time()
    order = itertools.cycle(batches)
    net = TrainingView(ts.model)

    def step() -> None:
        train_step(run, ts, net, collate([items[i] for i in next(order)]))
        if run.device.type == "cuda":
            torch.cuda.synchronize()

    seconds = sum(timed(step, repeat=steps, warmup=3).seconds)
    timed_batches = itertools.islice(itertools.cycle(batches), 3, 3 + steps)
    return sum(items[i]["feats"].shape[0] for b in timed_batches for i in b) / seconds


def profile(items: list[dict], batches: list[list[int]], run: Run, steps: int) -> None:
    """torch.profiler's operators over `steps` of asr.train's steps (after 3 warm-up steps), by
    their own CPU time: where a CPU training step goes."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    torch.manual_seed(0)
    ts = new_state(run)
    ts.model.to(run.device).train()
    run.started = time.time()
    net, order = TrainingView(ts.model), itertools.cycle(batches)
    for _ in range(3):
        train_step(run, ts, net, collate([items[i] for i in next(order)]))
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            train_step(run, ts, net, collate([items[i] for i in next(order)]))
    print(
        f"## {amp_name(run.dtype)}: {steps} steps\n{prof.key_averages().table(sort_by='self_cpu_time_total', row_limit=25)}"
    )


def arguments() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", default="recipes/demo.yaml")
    ap.add_argument("--data", default="data/demo/train")
    ap.add_argument("--synthetic", action="store_true", help="random features instead of the demo corpus")
    ap.add_argument("--utterances", type=int, default=800)
    ap.add_argument("--vocab", type=int, default=40, help="output units with --synthetic")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--multiple", type=int, default=1, help="bucketed batch sizes rounded to a multiple of this")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--section", help="RESULTS.md section to write (default train-DEVICE)")
    ap.add_argument("--profile", action="store_true", help="print torch.profiler's table of the bucketed steps instead")
    return ap.parse_args()


def main() -> None:
    args = arguments()
    torch.set_num_threads(args.threads)
    recipe = load_recipe(args.recipe)
    device = torch.device(args.device)
    if args.synthetic:
        items = synthetic_features(args.utterances, recipe.features.dim, args.vocab)
        vocab = Vocab(["<blank>", "<unk>", *(chr(0x4E00 + i) for i in range(args.vocab - 2))])
        source = f"{args.utterances} synthetic utterances (1.2-7 s), {args.vocab} output units"
    else:
        items, vocab = load_features(args.data, args.utterances, recipe)
        source = f"{len(items)} utterances of {args.data}"
    lengths = [it["feats"].shape[0] for it in items]
    mean_len = sum(lengths) / len(lengths)
    rng = random.Random(0)
    shuffled = list(range(len(items)))
    rng.shuffle(shuffled)
    fixed = [shuffled[i : i + args.batch_size] for i in range(0, len(shuffled), args.batch_size)]
    budget = int(args.batch_size * mean_len)
    sampler = BucketSampler(lengths, max_frames=budget, max_utts=0, seed=0, multiple=args.multiple)
    bucketed = [[i for _, i in b] for b in sampler]
    rows = []
    for amp in [False, True] if device.type == "cuda" or cpu_bf16_path() else [False]:
        run = Run(recipe, Dist(), device, vocab, rank_seed=0, dtype=torch.bfloat16 if amp else None)
        if args.profile:
            profile(items, bucketed, run, args.steps)
            continue
        fixed_fps = None
        for name, batches in ((f"fixed {args.batch_size}", fixed), ("bucketed", bucketed)):
            padded = sum(len(b) * max(lengths[i] for i in b) for b in batches) / sum(lengths)
            fps = throughput(items, batches, run, args.steps)
            fixed_fps = fixed_fps or fps
            rows.append(
                ["bf16 autocast" if amp else "fp32", name, f"{fps:.0f}", f"{padded:.2f}", f"{fps / fixed_fps:.2f}x"]
            )
            print(rows[-1], flush=True)
    if args.profile:
        return
    m = recipe.model
    body = [
        "## Training throughput (bench/train.py)",
        "",
        f"Machine: {machine()}; device {device}, {args.threads} CPU threads"
        + (f", CPU bf16 path: {cpu_bf16_path() or 'none (bf16 autocast not timed)'}" if device.type == "cpu" else "")
        + f". Recipe {args.recipe}; model: {m.layers}x{m.hidden} BiLSTM, "
        f"stack {m.stack} ({recipe.features.dim}-dim features). Data: {source}. Fixed: shuffled batches of "
        f"{args.batch_size} utterances; bucketed: BucketSampler with max_frames {budget} ({args.batch_size} x mean length"
        f"{f', sizes multiples of {args.multiple}' if args.multiple > 1 else ''}). "
        f"asr.train.train_step (lr {recipe.train.lr:g}, clipping at {recipe.train.grad_clip:g}): {args.steps} timed "
        "steps after 3 warm-up steps.",
        "",
        *table("precision | batching | valid frames/s | padded / valid frames | speed-up", rows),
    ]
    report(args.section or f"train-{device.type}", body, not args.no_write)


if __name__ == "__main__":
    main()
