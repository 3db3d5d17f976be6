"""The training loop: CTC loss, Adam, gradient clipping, dev CER, checkpoints and resume."""

from __future__ import annotations

import logging
import math
import random
import time
from pathlib import Path

import torch
import yaml
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from torch.utils.data import DataLoader

from asr.checkpoint import load_checkpoint, save_checkpoint
from asr.config import Recipe, to_dict
from asr.data import (
    FeatureDataset,
    LengthGroupedSampler,
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
from asr.vocab import Vocab

log = logging.getLogger("asr.train")
console = Console(stderr=True)


def setup_logging(exp_dir: Path) -> None:
    """Console (rich) and exp_dir/train.log, both at INFO."""
    exp_dir.mkdir(parents=True, exist_ok=True)
    log.setLevel(logging.INFO)
    log.handlers.clear()
    log.propagate = False
    log.addHandler(RichHandler(console=console, show_path=False, show_level=False))
    fh = logging.FileHandler(exp_dir / "train.log", encoding="utf-8")
    fh.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log.addHandler(fh)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("train.device is cuda but no CUDA GPU is visible; use device: cpu or auto")
    return torch.device(name)


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


def filter_trainable(utts: list[Utterance], vocab: Vocab, stack: int) -> tuple[list[Utterance], list[int], int]:
    """Drop utterances whose audio is too short for their label under CTC; returns (kept, frames, dropped)."""
    kept, frames, dropped = [], [], 0
    for u in utts:
        t = estimated_frames(u)
        if t == 0 or math.ceil(t / stack) < ctc_min_frames(vocab.encode(u.text or "")):
            dropped += 1
            continue
        kept.append(u)
        frames.append(t)
    return kept, frames, dropped


def compute_cmvn(dataset: FeatureDataset, max_utts: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    idx = list(range(len(dataset)))
    random.Random(seed).shuffle(idx)
    acc = CMVNAccumulator(dataset.feat_cfg.dim)
    for i in sorted(idx[:max_utts]):
        feats = dataset.features(i)
        if feats is not None:
            acc.add(feats)
    return acc.stats()


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.3f}"), TextColumn("{task.fields[fps]:.0f} frames/s"),
        TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=True,
        disable=not console.is_terminal,
    )


@torch.inference_mode()
def evaluate_loader(model: CTCModel, loader: DataLoader, vocab: Vocab, device: torch.device) -> dict:
    """Greedy CER/WER of `model` over a loader of Batches."""
    model.eval()
    refs, hyps = [], []
    for batch in loader:
        batch = batch.to(device)
        log_probs, out_lens = model(batch.feats, batch.feat_lens)
        hyps += [vocab.decode(ids) for ids in greedy_decode(log_probs, out_lens, vocab.blank)]
        refs += [t or "" for t in batch.texts]
    return error_rates(refs, hyps)


def train(recipe: Recipe, resume: bool = False) -> dict:
    """Train `recipe` into recipe.exp_dir; returns the final training state summary."""
    exp_dir = Path(recipe.exp_dir)
    cfg = recipe.train
    last_path, best_path = exp_dir / "last.pt", exp_dir / "best.pt"
    if resume and not last_path.is_file():
        raise UserError(f"--resume: {last_path} not found; start without --resume")
    if not resume and last_path.is_file():
        raise UserError(f"{exp_dir} already holds a run ({last_path.name}); add --resume to continue it or change exp_dir")
    setup_logging(exp_dir)
    ensure_data(recipe)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    device = pick_device(cfg.device)
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)

    train_utts = read_data_dir(recipe.data.train)
    dev_utts = read_data_dir(recipe.data.dev)
    state = load_checkpoint(last_path) if resume else None
    vocab = Vocab(state["vocab"]) if state else Vocab.build(u.text for u in train_utts)
    train_utts, train_frames, dropped = filter_trainable(train_utts, vocab, recipe.model.stack)
    log.info(
        f"train: {len(train_utts)} utterances ({sum(train_frames) / 360000:.2f} h), skipped {dropped} "
        f"unreadable or too short for their transcript; dev: {len(dev_utts)}; vocab: {len(vocab)} units; device: {device}"
    )
    if not train_utts:
        raise UserError(f"{recipe.data.train}: no usable training utterances")
    train_set = FeatureDataset(train_utts, recipe.features, vocab, cache=cfg.cache_features)
    dev_set = FeatureDataset(dev_utts, recipe.features, vocab, cache=cfg.cache_features)
    workers = 0 if cfg.cache_features else cfg.num_workers
    sampler = LengthGroupedSampler(train_frames, cfg.batch_size, shuffle=True, seed=cfg.seed)
    train_loader = DataLoader(train_set, batch_sampler=sampler, collate_fn=collate, num_workers=workers)
    dev_frames = [estimated_frames(u) for u in dev_utts]
    dev_loader = DataLoader(dev_set, batch_sampler=LengthGroupedSampler(dev_frames, cfg.batch_size, shuffle=False),
                            collate_fn=collate, num_workers=workers)

    model = CTCModel(recipe.features.dim, len(vocab), recipe.model)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    ctc = torch.nn.CTCLoss(blank=vocab.blank, reduction="sum", zero_infinity=True)
    start_epoch, best_cer, history = 0, math.inf, []
    if state:
        model.load_state_dict(state["model"])
        ts = state["train_state"]
        optimizer.load_state_dict(ts["optimizer"])
        start_epoch, best_cer, history = ts["epoch"], ts["best_cer"], ts["history"]
        torch.set_rng_state(ts["torch_rng"])
        log.info(f"resumed from {last_path} after epoch {start_epoch} (best dev CER {best_cer:.4f})")
    else:
        mean, std = compute_cmvn(train_set, cfg.cmvn_utterances, cfg.seed)
        model.set_cmvn(mean, std)
        (exp_dir / "config.yaml").write_text(yaml.safe_dump(to_dict(recipe), allow_unicode=True, sort_keys=False))
        (exp_dir / "vocab.txt").write_text("".join(u + "\n" for u in vocab.units), encoding="utf-8")
    model.to(device)
    for group in optimizer.param_groups:
        group["lr"] = cfg.lr * cfg.lr_decay**start_epoch
    n_params = sum(p.numel() for p in model.parameters())
    log.info(f"model: {recipe.model.layers}x{recipe.model.hidden} BiLSTM, {n_params / 1e6:.2f} M parameters")

    for epoch in range(start_epoch, cfg.epochs):
        sampler.set_epoch(epoch)
        model.train()
        t0, frames, loss_sum, n_utts, nonfinite = time.time(), 0, 0.0, 0, 0
        with _progress() as progress:
            task = progress.add_task(f"epoch {epoch + 1}/{cfg.epochs}", total=len(sampler), loss=0.0, fps=0.0)
            for batch in train_loader:
                if not batch.ids:
                    progress.advance(task)
                    continue
                batch = batch.to(device)
                log_probs, out_lens = model(batch.feats, batch.feat_lens)
                loss = ctc(log_probs.transpose(0, 1), batch.targets, out_lens, batch.target_lens) / len(batch.ids)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                if not (torch.isfinite(loss) and torch.isfinite(grad_norm)):
                    nonfinite += 1  # keep the weights finite: skip this update
                    progress.advance(task)
                    continue
                optimizer.step()
                frames += int(batch.feat_lens.sum())
                loss_sum += loss.item() * len(batch.ids)
                n_utts += len(batch.ids)
                progress.update(task, advance=1, loss=loss_sum / max(n_utts, 1), fps=frames / (time.time() - t0))
        train_time = time.time() - t0
        dev = evaluate_loader(model, dev_loader, vocab, device)
        for group in optimizer.param_groups:
            group["lr"] *= cfg.lr_decay
        row = {
            "epoch": epoch + 1, "train_loss": loss_sum / max(n_utts, 1), "dev_cer": dev["cer"], "dev_wer": dev["wer"],
            "frames_per_s": frames / train_time, "seconds": train_time, "skipped_nonfinite": nonfinite,
        }
        history.append(row)
        improved = dev["cer"] < best_cer
        best_cer = min(best_cer, dev["cer"])
        train_state = {
            "optimizer": optimizer.state_dict(), "epoch": epoch + 1, "best_cer": best_cer,
            "history": history, "torch_rng": torch.get_rng_state(),
        }
        save_checkpoint(last_path, recipe, vocab, model, train_state)
        if improved:
            save_checkpoint(best_path, recipe, vocab, model, {"epoch": epoch + 1, "best_cer": best_cer, "history": history})
        failed = len(train_set.failed)
        log.info(
            f"epoch {epoch + 1}/{cfg.epochs}: loss {row['train_loss']:.3f}, dev CER {dev['cer']:.2%} "
            f"WER {dev['wer']:.2%}, {row['frames_per_s']:.0f} frames/s, {train_time:.0f} s"
            + (" (best)" if improved else "")
            + (f", {nonfinite} non-finite steps skipped" if nonfinite else "")
            + (f", {failed} unreadable files skipped" if failed else "")
        )
    log.info(f"done: best dev CER {best_cer:.2%}; model: {best_path}")
    return {"best_cer": best_cer, "history": history, "exp_dir": str(exp_dir)}
