"""The training loop: CTC loss, Adam, warm-up/decay/plateau schedule, gradient clipping, AMP on
CUDA, DDP under torchrun, dev CER every epoch, exact resume, TensorBoard and CSV metrics."""

from __future__ import annotations

import csv
import gc
import logging
import math
import random
import time
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.distributed as dist
import yaml
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
from torch.utils.data import DataLoader

from asr.augment import SpecAugment
from asr.checkpoint import load_checkpoint, save_checkpoint
from asr.config import Recipe, to_dict
from asr.data import (
    BucketSampler,
    FeatureDataset,
    Utterance,
    collate,
    ctc_min_frames,
    estimated_frames,
    read_data_dir,
)
from asr.decoding import greedy_decode
from asr.errors import UserError
from asr.evaluate import error_rates
from asr.features import CMVNAccumulator
from asr.model import CTCModel
from asr.runtime import Dist, amp_dtype, pick_device, rng_state, set_rng_state
from asr.vocab import Vocab

log = logging.getLogger("asr.train")
console = Console(stderr=True)


def setup_logging(exp_dir: Path, main: bool) -> None:
    """Console (rich) and exp_dir/train.log on rank 0; warnings only elsewhere."""
    log.setLevel(logging.INFO if main else logging.WARNING)
    log.handlers.clear()
    log.propagate = False
    log.addHandler(RichHandler(console=console, show_path=False, show_level=False))
    if main:
        exp_dir.mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(exp_dir / "train.log", encoding="utf-8")
        fh.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        log.addHandler(fh)


def ensure_data(recipe: Recipe) -> None:
    """Make sure the recipe's data dirs exist, preparing them from the corpus when it names one."""
    data = recipe.data
    if all((Path(d) / "wav.scp").is_file() for d in (data.train, data.dev)):
        return
    if data.corpus == "aishell":
        from asr.corpora.aishell import prepare_aishell

        out = Path(data.train).parent
        counts = prepare_aishell(data.corpus_dir or "data/aishell", out)
        log.info(f"prepared AISHELL-1 data dirs in {out} from {data.corpus_dir}: {counts}")
        return
    missing = [d for d in (data.train, data.dev) if not (Path(d) / "wav.scp").is_file()]
    hint = " (generate the demo corpus with: asr prepare demo data/demo)" if "demo" in missing[0] else ""
    raise UserError(f"data dir {missing[0]} not found{hint}")


def filter_trainable(utts: list[Utterance], vocab: Vocab, stack: int, max_frames: int) -> tuple[list[Utterance], list[int], dict]:
    """Drop utterances that cannot be read, are too short for their transcript under CTC, or are
    longer than a whole batch may be. Returns (kept, their frame counts, {reason: count})."""
    kept, frames = [], []
    dropped = {"unreadable": 0, "too short for transcript": 0, "longer than max_frames": 0}
    for u in utts:
        t = estimated_frames(u)
        if t == 0:
            dropped["unreadable"] += 1
        elif math.ceil(t / stack) < ctc_min_frames(vocab.encode(u.text or "")):
            dropped["too short for transcript"] += 1
        elif max_frames and t > max_frames:
            dropped["longer than max_frames"] += 1
        else:
            kept.append(u)
            frames.append(t)
    return kept, frames, {k: v for k, v in dropped.items() if v}


def compute_cmvn(dataset: FeatureDataset, max_utts: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    idx = list(range(len(dataset)))
    random.Random(seed).shuffle(idx)
    acc = CMVNAccumulator(dataset.feat_cfg.dim)
    for i in sorted(idx[:max_utts]):
        feats = dataset.features(i)
        if feats is not None:
            acc.add(feats)
    return acc.stats()


class LRSchedule:
    """lr = base * warm-up ramp * lr_decay^epoch * plateau scale; state travels in checkpoints."""

    def __init__(self, base: float, warmup: int, decay: float, plateau_factor: float, patience: int) -> None:
        self.base, self.warmup, self.decay = base, warmup, decay
        self.plateau_factor, self.patience = plateau_factor, patience
        self.scale, self.bad_epochs = 1.0, 0

    def lr(self, step: int, epoch: int) -> float:
        ramp = min(1.0, (step + 1) / self.warmup) if self.warmup else 1.0
        return self.base * ramp * self.decay**epoch * self.scale

    def end_epoch(self, improved: bool) -> None:
        self.bad_epochs = 0 if improved else self.bad_epochs + 1
        if self.plateau_factor != 1.0 and self.bad_epochs >= self.patience:
            self.scale *= self.plateau_factor
            self.bad_epochs = 0

    def state_dict(self) -> dict:
        return {"scale": self.scale, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict) -> None:
        self.scale, self.bad_epochs = state["scale"], state["bad_epochs"]


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.3f}"), TextColumn("{task.fields[fps]:.0f} frames/s"),
        TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=True,
        disable=not (enabled and console.is_terminal),
    )


@torch.inference_mode()
def evaluate_loader(model: CTCModel, loader: DataLoader, vocab: Vocab, device: torch.device) -> dict:
    """Greedy CER/WER of `model` over a loader of Batches."""
    model.eval()
    refs, hyps = [], []
    for batch in loader:
        if not batch.ids:
            continue
        batch = batch.to(device)
        log_probs, out_lens = model(batch.feats, batch.feat_lens)
        hyps += [vocab.decode(ids) for ids in greedy_decode(log_probs, out_lens, vocab.blank)]
        refs += [t or "" for t in batch.texts]
    return error_rates(refs, hyps)


def average_checkpoints(paths: list[Path]) -> dict[str, torch.Tensor]:
    """Element-wise mean of the models in `paths` (integer buffers taken from the last one)."""
    states = [load_checkpoint(p)["model"] for p in paths]
    avg = {}
    for name, last in states[-1].items():
        avg[name] = sum(s[name] for s in states) / len(states) if last.is_floating_point() else last
    return avg


def train(recipe: Recipe, resume: bool = False) -> dict:
    """Train `recipe` into recipe.exp_dir; returns {"best_cer", "history", "exp_dir"}."""
    d = Dist.from_env()
    exp_dir = Path(recipe.exp_dir)
    cfg = recipe.train
    last_path, best_path = exp_dir / "last.pt", exp_dir / "best.pt"
    if resume and not last_path.is_file():
        raise UserError(f"--resume: {last_path} not found; start without --resume")
    if not resume and last_path.is_file():
        raise UserError(f"{exp_dir} already holds a run ({last_path.name}); add --resume to continue it or change exp_dir")
    setup_logging(exp_dir, d.main)
    if d.main:
        ensure_data(recipe)
    device = pick_device(cfg.device, d)
    if d.world > 1:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        ensure_data(recipe)  # rank 0 prepared it before joining
    if d.world == 1:
        return _train(recipe, resume, d, device, exp_dir, last_path, best_path)
    try:
        summary = _train(recipe, resume, d, device, exp_dir, last_path, best_path)
        # rank 0 still writes checkpoints and averages after the last collective: a rank that
        # tore its process group down and exited meanwhile could abort in gloo's threads
        dist.barrier()
        return summary
    finally:
        # also after an error: left to interpreter shutdown, gloo's worker threads can outlive
        # Python and abort the process (SIGABRT, "terminate called without an active exception").
        # The DDP wrapper's reducer holds the group too; collect it first, while Python is whole.
        gc.collect()
        if dist.is_initialized():
            dist.destroy_process_group()


def _train(recipe: Recipe, resume: bool, d: Dist, device: torch.device, exp_dir: Path, last_path: Path, best_path: Path) -> dict:
    cfg = recipe.train
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    # each rank draws its own dropout, masks and loader seeds (rank 0's as a single process's);
    # the model's initial weights are rank 0's, broadcast below
    rank_seed = cfg.seed + RANK_SEED_STRIDE * d.rank
    torch.manual_seed(rank_seed)
    random.seed(rank_seed)

    train_utts = read_data_dir(recipe.data.train)
    dev_utts = read_data_dir(recipe.data.dev)
    state = load_checkpoint(last_path) if resume else None
    vocab = Vocab(state["vocab"]) if state else Vocab.build(u.text for u in train_utts)
    slowest = min(recipe.augment.speeds)  # speed perturbation lengthens utterances by up to 1/slowest
    train_utts, frames, dropped = filter_trainable(train_utts, vocab, recipe.model.stack, int(cfg.max_frames * slowest))
    budget_lengths = [math.ceil(f / slowest) for f in frames]
    log.info(
        f"train: {len(train_utts)} utterances ({sum(frames) / 360000:.2f} h), skipped: "
        f"{', '.join(f'{n} {why}' for why, n in dropped.items()) or 'none'}; "
        f"dev: {len(dev_utts)}; vocab: {len(vocab)} units; device: {device}; processes: {d.world}"
    )
    if not train_utts:
        raise UserError(f"{recipe.data.train}: no usable training utterances")
    workers = 0 if cfg.cache_features else cfg.num_workers
    train_set = FeatureDataset(train_utts, recipe.features, vocab, cache=cfg.cache_features,
                               cache_dir=cfg.feature_cache_dir, augment=recipe.augment, seed=cfg.seed)
    dev_set = FeatureDataset(dev_utts, recipe.features, vocab, cache=cfg.cache_features, cache_dir=cfg.feature_cache_dir)
    sampler = BucketSampler(budget_lengths, cfg.max_frames, cfg.batch_size, shuffle=True, seed=cfg.seed,
                            rank=d.rank, world=d.world, multiple=cfg.batch_multiple)
    # the loader gets a generator of its own: drawing its worker seed from the global RNG at
    # every epoch start would shift dropout's random stream after a mid-epoch resume
    train_loader = DataLoader(train_set, batch_sampler=sampler, collate_fn=collate, num_workers=workers,
                              pin_memory=device.type == "cuda", generator=torch.Generator().manual_seed(rank_seed))
    dev_sampler = BucketSampler([estimated_frames(u) for u in dev_utts], cfg.max_frames, cfg.batch_size, shuffle=False)
    dev_loader = DataLoader(dev_set, batch_sampler=dev_sampler, collate_fn=collate, num_workers=workers,
                            generator=torch.Generator().manual_seed(cfg.seed))

    model = CTCModel(recipe.features.dim, len(vocab), recipe.model)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    schedule = LRSchedule(cfg.lr, cfg.warmup_steps, cfg.lr_decay, cfg.plateau_factor, cfg.plateau_patience)
    dtype = amp_dtype(cfg.amp, device)
    scaler = torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)
    ctc = torch.nn.CTCLoss(blank=vocab.blank, reduction="sum", zero_infinity=True)
    spec_augment = SpecAugment(recipe.augment).train()
    epoch, start_batch, step, best_cer, history, stale = 0, 0, 0, math.inf, [], 0
    running = {"loss": 0.0, "utts": 0, "frames": 0, "nonfinite": 0, "seconds": 0.0}
    if state:
        ts = state["train_state"]
        model.load_state_dict(state["model"])
        model.to(device)
        optimizer.load_state_dict(ts["optimizer"])
        schedule.load_state_dict(ts["schedule"])
        scaler.load_state_dict(ts["scaler"])
        epoch, start_batch, step = ts["epoch"], ts["batch"], ts["step"]
        best_cer, history, stale, running = ts["best_cer"], ts["history"], ts["stale"], ts["running"]
        _restore_rng(ts["rng"], d, device, rank_seed + step)
        log.info(f"resumed from {last_path}: epoch {epoch + 1}, batch {start_batch}, step {step} (best dev CER {best_cer:.2%})")
    else:
        if d.main:
            mean, std = compute_cmvn(train_set, cfg.cmvn_utterances, cfg.seed)
        else:
            mean, std = torch.zeros(recipe.features.dim), torch.ones(recipe.features.dim)
        model.set_cmvn(mean, std)
        if d.main:
            (exp_dir / "config.yaml").write_text(yaml.safe_dump(to_dict(recipe), allow_unicode=True, sort_keys=False))
            (exp_dir / "vocab.txt").write_text("".join(u + "\n" for u in vocab.units), encoding="utf-8")
        model.to(device)
    if d.world > 1:  # rank 0's weights and CMVN everywhere; gradients averaged on every step
        for t in model.state_dict().values():
            dist.broadcast(t, 0)
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    else:
        net = model
    n_params = sum(p.numel() for p in model.parameters())
    log.info(f"model: {recipe.model.layers}x{recipe.model.hidden} BiLSTM, {n_params / 1e6:.2f} M parameters; "
             f"amp: {dtype or 'off'}")
    writer = None
    if d.main:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(exp_dir / "tensorboard"), purge_step=step)

    def save_last() -> None:
        rngs = _gather_rng(d, device)  # collective: every rank calls save_last at the same steps
        if not d.main:
            return
        save_checkpoint(last_path, recipe, vocab, model, {
            "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(), "scaler": scaler.state_dict(),
            "epoch": epoch, "batch": batch_index, "step": step, "best_cer": best_cer, "history": history,
            "stale": stale, "running": running, "rng": rngs,
        })

    stop = False
    batch_index = start_batch
    while epoch < cfg.epochs and not stop:
        sampler.set_epoch(epoch, start_batch)
        net.train()
        t0 = time.time() - running["seconds"]
        with _progress(d.main) as progress:
            task = progress.add_task(f"epoch {epoch + 1}/{cfg.epochs}", total=len(sampler.batches()),
                                     completed=start_batch, loss=0.0, fps=0.0)
            for batch_index, batch in enumerate(train_loader, start=start_batch + 1):
                running["unreadable"] = running.get("unreadable", 0) + len(batch.failed)
                if not _all_ranks_have_data(batch, d, device):  # every file of some rank's batch failed
                    progress.update(task, advance=1)
                    continue
                lr = schedule.lr(step, epoch)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                batch = batch.to(device)
                feats = spec_augment(batch.feats, batch.feat_lens, model.cmvn_mean,
                                     torch.Generator().manual_seed(cfg.seed * 7919 + step + RANK_SEED_STRIDE * d.rank))
                with torch.autocast(device.type, dtype=dtype) if dtype else nullcontext():
                    log_probs, out_lens = net(feats, batch.feat_lens)
                loss = ctc(log_probs.float().transpose(0, 1), batch.targets, out_lens, batch.target_lens) / max(len(batch.ids), 1)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
                grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                finite = torch.isfinite(loss) & torch.isfinite(grad_norm)
                if d.world > 1:  # every rank must take (or skip) the same step
                    dist.all_reduce(finite := finite.int(), op=dist.ReduceOp.MIN)
                if bool(finite):
                    scaler.step(optimizer)
                    running["loss"] += loss.item() * len(batch.ids)
                    running["utts"] += len(batch.ids)
                    running["frames"] += int(batch.feat_lens.sum())
                elif scaler.is_enabled() and torch.isfinite(loss):
                    running["overflow"] = running.get("overflow", 0) + 1  # fp16 loss scale too high: lowered
                else:
                    running["nonfinite"] += 1  # the weights stay as they were; the step is counted
                scaler.update()
                step += 1
                running["seconds"] = time.time() - t0
                mean_loss = running["loss"] / max(running["utts"], 1)
                progress.update(task, advance=1, loss=mean_loss, fps=running["frames"] / max(running["seconds"], 1e-9))
                if writer and step % cfg.log_every_steps == 0:
                    writer.add_scalar("train/loss", mean_loss, step)
                    writer.add_scalar("train/lr", lr, step)
                if cfg.save_every_steps and step % cfg.save_every_steps == 0:
                    save_last()
        # end of epoch: dev CER on rank 0, shared so every rank takes the same decisions
        dev = evaluate_loader(model, dev_loader, vocab, device) if d.main else {"cer": 0.0, "wer": 0.0}
        if d.world > 1:
            shared = [dev]
            dist.broadcast_object_list(shared, 0)
            dev = shared[0]
        improved = dev["cer"] < best_cer
        best_cer = min(best_cer, dev["cer"])
        stale = 0 if improved else stale + 1
        schedule.end_epoch(improved)
        row = {
            "epoch": epoch + 1, "step": step, "train_loss": running["loss"] / max(running["utts"], 1),
            "dev_cer": dev["cer"], "dev_wer": dev["wer"], "lr": schedule.lr(step, epoch),
            "frames_per_s": running["frames"] * d.world / max(running["seconds"], 1e-9),
            "seconds": running["seconds"], "skipped_nonfinite": running["nonfinite"],
            "skipped_fp16_overflow": running.get("overflow", 0),
            "unreadable": _sum_over_ranks(running.get("unreadable", 0), d, device),
        }
        history.append(row)
        stop = bool(cfg.early_stop_patience) and stale >= cfg.early_stop_patience
        epoch, start_batch, batch_index = epoch + 1, 0, 0
        running = {"loss": 0.0, "utts": 0, "frames": 0, "nonfinite": 0, "seconds": 0.0}
        save_last()  # on every rank: it gathers their RNG states
        if d.main:
            if improved:
                save_checkpoint(best_path, recipe, vocab, model, {"epoch": epoch, "best_cer": best_cer, "history": history})
            if cfg.average_last:
                save_checkpoint(exp_dir / f"epoch{epoch}.pt", recipe, vocab, model)
                old = exp_dir / f"epoch{epoch - cfg.average_last}.pt"
                old.unlink(missing_ok=True)
            write_metrics(exp_dir, history, writer)
            failed = row["unreadable"]
            log.info(
                f"epoch {epoch}/{cfg.epochs}: loss {row['train_loss']:.3f}, dev CER {dev['cer']:.2%} "
                f"WER {dev['wer']:.2%}, {row['frames_per_s']:.0f} frames/s, {row['seconds']:.0f} s, lr {row['lr']:.2e}"
                + (" (best)" if improved else "")
                + (f", {row['skipped_nonfinite']} non-finite steps skipped" if row["skipped_nonfinite"] else "")
                + (f", {failed} unreadable files skipped" if failed else "")
            )
            if stop:
                log.info(f"early stop: no better dev CER for {stale} epochs")
    if d.main and cfg.average_last:
        paths = sorted(exp_dir.glob("epoch*.pt"), key=lambda p: int(p.stem[5:]))[-cfg.average_last :]
        if paths:
            model.load_state_dict(average_checkpoints(paths))
            dev = evaluate_loader(model, dev_loader, vocab, device)
            save_checkpoint(exp_dir / "avg.pt", recipe, vocab, model, {"averaged": [p.name for p in paths], "dev_cer": dev["cer"]})
            log.info(f"averaged {len(paths)} epochs into avg.pt: dev CER {dev['cer']:.2%}")
    if writer:
        writer.close()
    log.info(f"done: best dev CER {best_cer:.2%}; model: {best_path}")
    return {"best_cer": best_cer, "history": history, "exp_dir": str(exp_dir)}


RANK_SEED_STRIDE = 1_000_003  # rank r seeds its streams with seed + r * this


def _gather_rng(d: Dist, device: torch.device) -> list[dict]:
    """Every rank's RNG state, in rank order, on rank 0 (a one-element list elsewhere)."""
    mine = rng_state(device)
    if d.world == 1:
        return [mine]
    states = [None] * d.world if d.main else None
    dist.gather_object(mine, states, dst=0)
    return states if d.main else [mine]


def _restore_rng(saved: list[dict] | dict, d: Dist, device: torch.device, fallback_seed: int) -> None:
    """Restore this rank's own RNG state. A checkpoint of a run with another number of
    processes holds no state for this rank: its streams are reseeded (resume is then not exact)."""
    states = saved if isinstance(saved, list) else [saved]  # single-state files of earlier versions
    if len(states) == d.world:
        set_rng_state(states[d.rank], device)
        return
    torch.manual_seed(fallback_seed)
    random.seed(fallback_seed)
    if d.main:
        log.warning(f"resume: the checkpoint holds RNG states of {len(states)} process(es), this run has {d.world}; "
                    "random streams are reseeded, so the run is not bit-exact with an uninterrupted one")


def _all_ranks_have_data(batch, d: Dist, device: torch.device) -> bool:
    """False when this batch, or under DDP any rank's, holds no readable utterance: then every
    rank skips the step together (a rank that skipped alone would leave the others waiting in
    the gradient all-reduce)."""
    have = len(batch.ids) > 0
    if d.world > 1:
        flag = torch.tensor([int(have)], device=device)
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
        have = bool(flag.item())
    return have


def _sum_over_ranks(n: int, d: Dist, device: torch.device) -> int:
    if d.world == 1:
        return n
    total = torch.tensor([n], device=device)
    dist.all_reduce(total)
    return int(total.item())


def write_metrics(exp_dir: Path, history: list[dict], writer) -> None:
    """exp_dir/metrics.csv (one row per epoch) and the epoch's TensorBoard scalars."""
    with open(exp_dir / "metrics.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(history[0]))
        w.writeheader()
        w.writerows(history)
    if writer:
        row = history[-1]
        for key in ("train_loss", "dev_cer", "dev_wer", "frames_per_s"):
            writer.add_scalar(f"epoch/{key}", row[key], row["epoch"])
        writer.flush()
