"""The training loop: CTC loss, Adam, warm-up/decay/plateau schedule, gradient clipping, AMP
(CUDA, and bf16 on CPUs), DDP under torchrun, dev CER every epoch, exact resume, TensorBoard and CSV metrics.

`train` sets the process up and tears it down; `_train` reads as the loop it runs: make the data
and the state (new or resumed), then per epoch `_run_epoch` (a `train_step` per batch) and
`_end_epoch` (dev and fit-sample CER, checkpoints, metrics), then asr/trainend.py's `finish`
(averaging, the model handed on scored on data.test, summary.json). `Run` holds what stays
fixed for the whole run; `TrainState` holds everything that changes and that `last.pt` carries.
"""

from __future__ import annotations

import gc
import math
import time
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.distributed as dist

from asr.checkpoint import check_init_recipe, load_checkpoint, save_checkpoint
from asr.config import Recipe
from asr.corpora import ensure_data
from asr.data import Batch, collate
from asr.errors import UserError
from asr.evaluate import evaluate_loader
from asr.losses import training_loss
from asr.model import TrainingView
from asr.monitor import epoch_line, log, progress_bar, setup_logging, write_metrics
from asr.runtime import (
    Dist,
    all_ranks,
    amp_dtype,
    amp_name,
    choose_amp,
    gather_rng,
    max_over_ranks,
    pick_device,
    rng_state,
    seed_rank,
    set_rng_state,
    sum_over_ranks,
)
from asr.trainend import finish
from asr.trainstate import Loaders, Run, Running, TrainState, make_loaders, make_state, read_data
from asr.vocab import Vocab


def train(recipe: Recipe, resume: bool = False) -> dict:
    """Train `recipe` into recipe.exp_dir; returns {"best_cer", "history", "exp_dir", "out_of_time",
    "lr" (the last step's learning rate)}."""
    d = Dist.from_env()
    exp_dir = Path(recipe.exp_dir)
    last_path = exp_dir / "last.pt"
    if resume and not last_path.is_file():
        raise UserError(f"--resume: {last_path} not found; start without --resume")
    if not resume and last_path.is_file():
        raise UserError(
            f"{exp_dir} already holds a run ({last_path.name}); add --resume to continue it or change exp_dir"
        )
    # fine-tuning a new run: the model file read once, and one that does not fit refused before any corpus is prepared
    init = load_checkpoint(recipe.train.init) if recipe.train.init and not resume else None
    if init is not None and recipe.train.init:
        check_init_recipe(recipe, init, recipe.train.init)
    setup_logging(exp_dir, d.main)
    if d.main:
        ensure_data(recipe)
    device = pick_device(recipe.train.device, d)
    if d.world == 1:
        return _train(recipe, resume, d, device, init)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        ensure_data(recipe)  # rank 0 prepared it before joining
        summary = _train(recipe, resume, d, device, init)
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


def _train(recipe: Recipe, resume: bool, d: Dist, device: torch.device, init: dict | None) -> dict:
    """The run, on this process's device; `init`: the model file a new run fine-tunes (train read it)."""
    cfg = recipe.train
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    rank_seed = seed_rank(cfg.seed, d)  # the model's initial weights are rank 0's, broadcast below
    saved = load_checkpoint(Path(recipe.exp_dir) / "last.pt") if resume else None
    known = saved or init
    data = read_data(recipe, d, device, Vocab(known["vocab"], recipe.text) if known else None, extend=init is not None)
    run = Run(recipe, d, device, data.vocab, rank_seed, amp_dtype(cfg.amp, device))
    loaders = make_loaders(run, data)
    ts = make_state(run, saved, loaders.train_set, init)
    net: torch.nn.Module = TrainingView(ts.model)
    if d.world > 1:  # rank 0's weights and CMVN everywhere; gradients averaged on every step
        for t in ts.model.state_dict().values():
            dist.broadcast(t, 0)
        net = torch.nn.parallel.DistributedDataParallel(
            net, device_ids=[device.index] if device.type == "cuda" else None
        )
    amp = _choose_amp(run, ts, loaders)
    n_params = sum(p.numel() for p in ts.model.parameters())
    log.info(
        f"model: {recipe.model.layers}x{recipe.model.hidden} bidirectional {recipe.model.cell}, {n_params / 1e6:.2f} M parameters; "
        f"{amp}{', loss scaling' if ts.scaler.is_enabled() else ''}"
    )
    if d.main:
        from torch.utils.tensorboard import SummaryWriter

        run.writer = SummaryWriter(str(run.exp_dir / "tensorboard"), purge_step=ts.step)
    run.started = time.time() - ts.spent
    run.deadline = time.time() + 60 * cfg.max_minutes if cfg.max_minutes else None
    out_of_time = _epochs(run, ts, net, loaders)
    return finish(run, ts, loaders, data.test, out_of_time)


def _epochs(run: Run, ts: TrainState, net: torch.nn.Module, loaders: Loaders) -> bool:
    """Train epoch after epoch until train.epochs, early stopping or the time budget ends the
    run; returns whether the budget did."""
    cfg = run.recipe.train
    stop = False
    named: set[str] = set()  # the unreadable files already named in the log
    while ts.epoch < cfg.epochs and not stop:
        if not _run_epoch(run, ts, net, loaders, named):
            _end_partial(run, ts, loaders)
            _save_last(run, ts)
            log.info(
                f"time budget of {cfg.max_minutes:g} min spent: stopped in epoch {ts.epoch + 1} at batch {ts.batch}; "
                f"best.pt holds the best dev CER so far ({ts.best_cer:.2%}); --resume goes on from here"
            )
            return True
        stop = _end_epoch(run, ts, loaders)
        if run.deadline and ts.epoch < cfg.epochs and not stop and not _in_time(run):
            log.info(f"time budget of {cfg.max_minutes:g} min spent after epoch {ts.epoch}; --resume goes on from here")
            return True
    return False


def _in_time(run: Run) -> bool:
    """Whether every rank is still within the time budget (all ranks stop together)."""
    return run.deadline is None or all_ranks(time.time() < run.deadline, run.d, run.device)


def _run_epoch(run: Run, ts: TrainState, net: torch.nn.Module, loaders: Loaders, named: set[str]) -> bool:
    """The rest of epoch ts.epoch, from batch ts.batch on (mid-epoch after a resume). Returns
    False when the time budget ran out before the epoch's last batch. A file that fails to load
    is named in the log unless it is in `named` (then added)."""
    cfg = run.recipe.train
    loaders.sampler.set_epoch(ts.epoch, ts.batch)
    net.train()
    t0 = time.time() - ts.running.seconds
    with progress_bar(run.d.main) as progress:
        total = len(loaders.sampler.batches())
        # under a time budget the epoch count means little (few_hours.yaml's is 1000): minutes do
        title = f"epoch {ts.epoch + 1}" + ("" if run.deadline else f"/{cfg.epochs}")
        task = progress.add_task(
            title,
            total=total,
            completed=ts.batch,
            loss=0.0,
            fps=0.0,
        )
        for batch in loaders.train:
            ts.batch += 1
            ts.running.unreadable += len(batch.failed)
            for why in batch.failed.values():  # each file named once a run (the epoch's line counts them)
                if why not in named:
                    named.add(why)
                    log.warning(f"skipped an audio file that failed to load: {why}")
            # every file of some rank's batch failed: all ranks skip it together (one that skipped
            # alone would leave the others waiting in the gradient all-reduce)
            if not all_ranks(len(batch.ids) > 0, run.d, run.device):
                progress.update(task, advance=1)
                continue
            lr, grad_norm = train_step(run, ts, net, batch)
            ts.running.seconds = time.time() - t0
            mean_loss = ts.running.loss / max(ts.running.utts, 1)
            fps = ts.running.frames / max(ts.running.seconds, 1e-9)
            spent = run.budget_spent(t0 + ts.running.seconds)
            progress.update(
                task, advance=1, loss=mean_loss, fps=fps, description=f"{title} ({spent})" if spent else title
            )
            if run.writer and ts.step % cfg.log_every_steps == 0:
                run.writer.add_scalar("train/loss", mean_loss, ts.step)
                run.writer.add_scalar("train/lr", lr, ts.step)
                run.writer.add_scalar("train/grad_norm", grad_norm, ts.step)
            if cfg.save_every_steps and ts.step % cfg.save_every_steps == 0:
                _save_last(run, ts)
            if ts.batch < total and not _in_time(run):
                return False
    return True


def train_step(run: Run, ts: TrainState, net: torch.nn.Module, batch: Batch) -> tuple[float, float]:
    """One optimizer step on `batch`: the scheduled rate, forward (autocast to run.dtype), the
    loss (asr/losses.py: CTC, with InterCTC and CR-CTC when the recipe asks) summed over the batch
    / its utterances, backward, clipping to train.grad_clip, Adam (the step skipped, and counted,
    when the loss or gradients are not finite on any rank). Returns its learning rate and its
    gradient norm before clipping. `net` is TrainingView(ts.model) or its DDP wrapper;
    bench/train.py times this step alone on a `Run` and `new_state(run)`."""
    cfg, d = run.recipe.train, run.d
    ts.spent = time.time() - run.started
    if cfg.lr_over == "budget":  # every rank steps with the same rate: the slowest clock's
        ts.spent = max_over_ranks(ts.spent, d, run.device)
    lr = ts.schedule.lr(ts.step, ts.epoch, ts.spent)
    for group in ts.optimizer.param_groups:
        group["lr"] = lr
    loss = _loss(run, net, batch.to(run.device), run.dtype)
    ts.optimizer.zero_grad(set_to_none=True)
    ts.scaler.scale(loss).backward()
    ts.scaler.unscale_(ts.optimizer)
    if ts.epoch < cfg.freeze_epochs:  # fine-tuning: the lowest layers keep their weights (Adam skips grad None)
        for layer in ts.model.layers[: cfg.freeze_layers]:
            for p in layer.parameters():
                p.grad = None
    # grad_clip 0: measured, not clipped (clip_grad_norm_ with 0 would zero every gradient)
    grad_norm = torch.nn.utils.clip_grad_norm_(ts.model.parameters(), cfg.grad_clip or float("inf"))
    finite = bool(torch.isfinite(loss) & torch.isfinite(grad_norm))
    running = ts.running
    if all_ranks(finite, d, run.device):  # every rank must take (or skip) the same step
        ts.scaler.step(ts.optimizer)
        running.loss += loss.item() * len(batch.ids)
        running.utts += len(batch.ids)
        running.frames += int(batch.feat_lens.sum())
        running.grad_norm_max = max(running.grad_norm_max, float(grad_norm))
    elif ts.scaler.is_enabled() and torch.isfinite(loss):
        running.overflow += 1  # fp16 loss scale too high: lowered
    else:
        running.nonfinite += 1  # the weights stay as they were; the step is counted
    ts.scaler.update()
    ts.step += 1
    return lr, float(grad_norm)


def _loss(run: Run, net: torch.nn.Module, batch: Batch, dtype: torch.dtype | None) -> torch.Tensor:
    """The loss of `batch` (on the device) per utterance: forward under autocast to `dtype`
    (None: float32), then asr.losses.training_loss in float32."""
    cfg = run.recipe.train
    feats, lens, cr = batch.feats, batch.feat_lens, cfg.cr_ctc_weight or None
    if cr is not None:  # CR-CTC: both views in one pass, the first B rows one, the last B the other
        feats = torch.cat([feats, batch.feats if batch.feats2 is None else batch.feats2])
        lens = torch.cat([lens, lens])
    with torch.autocast(run.device.type, dtype=dtype) if dtype else nullcontext():
        log_probs, out_lens, inter = net(feats, lens)
    loss = training_loss(
        log_probs, inter, out_lens, batch.targets, batch.target_lens, run.vocab.blank, cfg.inter_ctc_weight, cr
    )
    return loss / max(len(batch.ids), 1)


def _choose_amp(run: Run, ts: TrainState, loaders: Loaders) -> str:
    """Settle run.dtype and ts.amp; returns the log's words for them. train.amp auto on the CPU:
    a run resumed keeps its choice; a new one times a step on its first batch both ways
    (runtime.choose_amp). The probe takes no optimizer step and its dropout draws are undone,
    so the run trains as it would have without it; every rank must find bf16 faster."""
    cfg = run.recipe.train
    if cfg.amp != "auto" or run.device.type != "cpu":
        ts.amp = amp_name(run.dtype)
        return f"amp: {ts.amp}"
    if ts.amp:
        run.dtype = torch.bfloat16 if ts.amp == "bf16" else None
        return f"amp auto: {ts.amp} (this run's choice, kept on --resume)"
    loaders.sampler.set_epoch(ts.epoch, ts.batch)
    first = loaders.sampler.batches()[min(ts.batch, len(loaders.sampler.batches()) - 1)]
    batch = collate([loaders.train_set[(ts.epoch, i)] for i in first])
    if not batch.ids:
        dtype, why = None, "float32 (the first batch had no readable utterance to time a step on)"
    else:
        net, saved = TrainingView(ts.model).train(), rng_state(run.device)

        def step(dtype: torch.dtype | None) -> float:
            loss = _loss(run, net, batch, dtype)
            loss.backward()
            ts.model.zero_grad(set_to_none=True)
            return loss.item()

        dtype, why = choose_amp(step)
        set_rng_state(saved, run.device)
    bf16 = all_ranks(dtype is not None, run.d, run.device)
    run.dtype = torch.bfloat16 if bf16 else None
    ts.amp = amp_name(run.dtype)
    return f"amp auto: {why if bf16 == (dtype is not None) else 'float32 (not every process found bf16 faster)'}"


def _save_last(run: Run, ts: TrainState) -> None:
    """last.pt on rank 0, with every rank's RNG state (collective: all ranks call it together)."""
    rngs = gather_rng(run.d, run.device)
    if run.d.main:
        save_checkpoint(run.exp_dir / "last.pt", run.recipe, run.vocab, ts.model, ts.to_dict(rngs))


def _end_epoch(run: Run, ts: TrainState, loaders: Loaders) -> bool:
    """Dev CER (rank 0's, shared so every rank decides alike), schedule, checkpoints, metrics.
    Returns True when early stopping ends the run."""
    cfg, d = run.recipe.train, run.d
    scores = _scores(run, ts, loaders)
    improved = scores["dev_cer"] < ts.best_cer
    ts.best_cer = min(ts.best_cer, scores["dev_cer"])
    ts.stale = 0 if improved else ts.stale + 1
    ts.schedule.end_epoch(improved)
    row = _row(run, ts, scores, 1.0)
    ts.history.append(row)
    stop = bool(cfg.early_stop_patience) and ts.stale >= cfg.early_stop_patience
    ts.epoch, ts.batch, ts.running = ts.epoch + 1, 0, Running()
    _save_last(run, ts)
    if d.main:
        _write_epoch(run, ts, row, improved)
        if stop:
            log.info(f"early stop: no better dev CER for {ts.stale} epochs")
    return stop


def _row(run: Run, ts: TrainState, scores: dict, done: float) -> dict:
    """The metrics row of epoch ts.epoch + 1 (`done`: the share of its batches trained, 1 for a
    whole epoch). Collective: every rank's unreadable files are summed."""
    r, d = ts.running, run.d
    return {
        "epoch": ts.epoch + 1,
        "done": done,
        "step": ts.step,
        "train_loss": r.loss / max(r.utts, 1),
        "train_cer": scores["train_cer"],  # the fixed sample of training utterances, clean (NaN: off)
        "dev_cer": scores["dev_cer"],
        "dev_wer": scores["dev_wer"],
        "lr": ts.schedule.lr(ts.step, ts.epoch, ts.spent),
        "frames_per_s": r.frames * d.world / max(r.seconds, 1e-9),
        "seconds": r.seconds,
        "grad_norm_max": r.grad_norm_max,  # before clipping
        "skipped_nonfinite": r.nonfinite,
        "skipped_fp16_overflow": r.overflow,
        "unreadable": sum_over_ranks(r.unreadable, d, run.device),
    }


def _scores(run: Run, ts: TrainState, loaders: Loaders) -> dict:
    """{"dev_cer", "dev_wer", "train_cer"} of the current weights (train_cer: the fit sample's,
    NaN without one): rank 0's, shared so that every rank decides alike."""
    scores = {}
    if run.d.main:
        dev = evaluate_loader(ts.model, loaders.dev, run.vocab, run.device)
        fit = evaluate_loader(ts.model, loaders.fit, run.vocab, run.device)["cer"] if loaders.fit else math.nan
        scores = {"dev_cer": dev["cer"], "dev_wer": dev["wer"], "train_cer": fit}
    if run.d.world > 1:
        shared = [scores]
        dist.broadcast_object_list(shared, 0)
        scores = shared[0]
    return scores


def _end_partial(run: Run, ts: TrainState, loaders: Loaders) -> None:
    """The time budget ran out mid-epoch: the weights trained so far are scored as an epoch's are
    (best.pt when better; with averaging, the last of the averaged), so that the budget's last
    minutes, where lr_over: budget has brought the rate down, are not thrown away. Their row goes
    to metrics.csv but not into the history: a resumed run's whole epoch takes its place."""
    scores = _scores(run, ts, loaders)
    improved = scores["dev_cer"] < ts.best_cer
    ts.best_cer = min(ts.best_cer, scores["dev_cer"])
    row = _row(run, ts, scores, ts.batch / max(len(loaders.sampler.batches()), 1))
    if run.d.main:
        if improved:
            _save_best(run, ts)
        _save_epoch(run, ts, ts.epoch + 1)
        write_metrics(run.exp_dir, [*ts.history, row], run.writer)
        log.info(epoch_line(row, run.recipe.train.epochs, improved))


def _save_epoch(run: Run, ts: TrainState, epoch: int) -> None:
    """With averaging (train.average_last k), epoch{epoch}.pt, and the file k epochs older gone:
    the last k are what the end of the run averages."""
    k = run.recipe.train.average_last
    if k:
        save_checkpoint(run.exp_dir / f"epoch{epoch}.pt", run.recipe, run.vocab, ts.model)
        (run.exp_dir / f"epoch{epoch - k}.pt").unlink(missing_ok=True)


def _save_best(run: Run, ts: TrainState) -> None:
    save_checkpoint(
        run.exp_dir / "best.pt",
        run.recipe,
        run.vocab,
        ts.model,
        {"epoch": ts.epoch, "best_cer": ts.best_cer, "history": ts.history},
    )


def _write_epoch(run: Run, ts: TrainState, row: dict, improved: bool) -> None:
    """Rank 0's end-of-epoch files: best.pt, epochN.pt for averaging, metrics; and the log line."""
    cfg, exp_dir = run.recipe.train, run.exp_dir
    if improved:
        _save_best(run, ts)
    _save_epoch(run, ts, ts.epoch)
    write_metrics(exp_dir, ts.history, run.writer)
    log.info(epoch_line(row, cfg.epochs, improved, run.budget_spent(time.time())))
