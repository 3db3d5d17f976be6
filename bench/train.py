"""Training throughput: fixed-count padded batches vs length-bucketed batches, same model.

    make bench-train     # CPU, demo corpus (make demo-data first); add --device cuda on a GPU

Valid frames/s counts only real (unpadded) 100 Hz feature frames pushed through forward,
backward and the optimizer step, so padding shows up as lost throughput.
"""

from __future__ import annotations

import argparse
import random
import time

import torch

from asr.config import load_recipe
from asr.data import BucketSampler, FeatureDataset, collate, read_data_dir
from asr.model import CTCModel
from asr.vocab import Vocab
from bench.common import machine, write_section


def load_features(data_dir: str, limit: int, recipe) -> tuple[list[dict], Vocab]:
    utts = read_data_dir(data_dir)[:limit]
    vocab = Vocab.build(u.text for u in utts)
    ds = FeatureDataset(utts, recipe.features, vocab)
    return [item for item in (ds[i] for i in range(len(ds))) if item is not None], vocab


def synthetic_features(n: int, dim: int, vocab_size: int, seed: int = 0) -> list[dict]:
    """Random features with the demo corpus's length spread (1.2 to 7 s), for machines without it."""
    rng = random.Random(seed)
    items = []
    for i in range(n):
        t = rng.randint(120, 700)
        items.append(
            {"id": str(i), "feats": torch.randn(t, dim), "target": torch.randint(2, vocab_size, (t // 25,)), "text": ""}
        )
    return items


def run(items, batches, model, device, steps: int, amp: bool) -> float:
    ctc = torch.nn.CTCLoss(zero_infinity=True, reduction="sum")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    frames, start, done = 0, None, 0
    for b in batches:
        batch = collate([items[i] for i in b]).to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            lp, lens = model(batch.feats, batch.feat_lens)
        loss = ctc(lp.float().transpose(0, 1), batch.targets, lens, batch.target_lens) / len(b)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        done += 1
        if done == 3:  # warm-up steps are not timed
            start, frames = time.perf_counter(), 0
        elif done > 3:
            frames += int(batch.feat_lens.sum())
        if done >= steps + 3:
            break
    return frames / (time.perf_counter() - start)


def main() -> None:
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
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    recipe = load_recipe(args.recipe)
    device = torch.device(args.device)
    if args.synthetic:
        items = synthetic_features(args.utterances, recipe.features.dim, args.vocab)
        vsize, source = args.vocab, f"{args.utterances} synthetic utterances (1.2-7 s), {args.vocab} output units"
    else:
        items, vocab = load_features(args.data, args.utterances, recipe)
        vsize, source = len(vocab), f"{len(items)} utterances of {args.data}"
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
    for amp in [False, True] if device.type == "cuda" else [False]:
        result = {}
        for name, batches in (("fixed", fixed), ("bucketed", bucketed)):
            torch.manual_seed(0)
            model = CTCModel(recipe.features.dim, vsize, recipe.model).to(device)
            padded = sum(len(b) * max(lengths[i] for i in b) for b in batches) / sum(lengths)
            result[name] = (run(items, batches * 10, model, device, args.steps, amp), padded)
        rows.append((amp, result))
        print(amp, result, flush=True)
    m = recipe.model
    body = [
        "## Training throughput (bench/train.py)",
        "",
        f"Machine: {machine()}; device {device}, {args.threads} CPU threads. Model: {m.layers}x{m.hidden} BiLSTM, "
        f"stack {m.stack} ({recipe.features.dim}-dim features). Data: {source}. Fixed: shuffled batches of "
        f"{args.batch_size} utterances; bucketed: BucketSampler with max_frames {budget} ({args.batch_size} x mean length"
        f"{f', sizes multiples of {args.multiple}' if args.multiple > 1 else ''}). "
        f"{args.steps} timed steps after 3 warm-up steps.",
        "",
        "| precision | batching | valid frames/s | padded / valid frames | speed-up |",
        "|---|---|---|---|---|",
    ]
    for amp, r in rows:
        prec = "bf16 autocast" if amp else "fp32"
        body.append(f"| {prec} | fixed {args.batch_size} | {r['fixed'][0]:.0f} | {r['fixed'][1]:.2f} | 1.00x |")
        body.append(
            f"| {prec} | bucketed | {r['bucketed'][0]:.0f} | {r['bucketed'][1]:.2f} | {r['bucketed'][0] / r['fixed'][0]:.2f}x |"
        )
    print("\n".join(body))
    if not args.no_write:
        write_section(f"train-{device.type}", "\n".join(body))


if __name__ == "__main__":
    main()
