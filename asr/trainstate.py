"""The state of a training run: what stays fixed (`Run`), what changes and `last.pt` carries
(`TrainState`), the data loaders, and how they are made, new or resumed."""

from __future__ import annotations

import math
import os
import random
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import yaml
from torch.utils.data import DataLoader

from asr.checkpoint import init_from
from asr.config import Recipe, to_dict
from asr.data import BucketSampler, FeatureDataset, collate, compute_cmvn, estimated_frames, filter_trainable
from asr.datadir import Utterance, read_data_dir
from asr.errors import UserError
from asr.model import CTCModel
from asr.monitor import log
from asr.runtime import Dist, loss_scaling, restore_rng
from asr.schedule import LRSchedule
from asr.vocab import Vocab

if TYPE_CHECKING:  # imported where a run makes one: tensorboard takes seconds to import
    from torch.utils.tensorboard import SummaryWriter


@dataclass
class Running:
    """Sums over the current epoch's steps, this rank's: last.pt carries them, so that an epoch
    resumed mid-way reports as a whole one."""

    loss: float = 0.0  # CTC loss summed over the utterances of the steps taken
    utts: int = 0  # utterances of the steps taken
    frames: int = 0  # their feature frames
    seconds: float = 0.0  # the epoch's training time so far
    grad_norm_max: float = 0.0  # the largest gradient norm of a step taken, before clipping
    nonfinite: int = 0  # steps skipped: the loss or the gradients were not finite
    overflow: int = 0  # steps skipped: the fp16 loss scale was too high (and is lowered)
    unreadable: int = 0  # utterances whose audio could not be read

    @classmethod
    def from_dict(cls, saved: dict) -> Running:
        """From a checkpoint's `running`: a dict, with only the keys its writer knew (last.pt
        files of older versions lack some: those start at 0)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in saved.items() if k in known})


@dataclass
class TrainState:
    """What changes as training goes, all of which `last.pt` carries for an exact resume."""

    model: CTCModel
    optimizer: torch.optim.Optimizer
    schedule: LRSchedule
    scaler: torch.amp.GradScaler
    epoch: int = 0  # epochs done
    batch: int = 0  # batches of the current epoch done
    step: int = 0  # optimizer steps (taken or skipped as non-finite) since the start
    best_cer: float = math.inf
    history: list[dict] = field(default_factory=list)  # one metrics row per epoch
    stale: int = 0  # epochs since the best dev CER
    running: Running = field(default_factory=Running)
    spent: float = 0.0  # wall-clock seconds of training so far, over every call (lr_over: budget)
    amp: str = ""  # the run's autocast: bf16, fp16 or off ("": not chosen yet); kept on --resume

    def to_dict(self, rngs: list[dict]) -> dict:
        return {
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "batch": self.batch,
            "step": self.step,
            "best_cer": self.best_cer,
            "history": self.history,
            "stale": self.stale,
            "running": asdict(self.running),  # a plain dict: model files are read with weights_only
            "spent": self.spent,
            "amp": self.amp,
            "rng": rngs,
        }

    def load(self, ts: dict) -> None:
        """Restore from a checkpoint's train_state (the model's weights are loaded separately)."""
        self.optimizer.load_state_dict(ts["optimizer"])
        self.schedule.load_state_dict(ts["schedule"])
        if ts["scaler"] or not self.scaler.is_enabled():  # saved by a run that scaled no loss: start fresh
            self.scaler.load_state_dict(ts["scaler"])
        self.epoch, self.batch, self.step = ts["epoch"], ts["batch"], ts["step"]
        self.best_cer, self.history, self.stale = ts["best_cer"], ts["history"], ts["stale"]
        self.running = Running.from_dict(ts["running"])
        self.spent = ts.get("spent", 0.0)
        self.amp = ts.get("amp", "")


@dataclass
class Run:
    """What stays fixed for the whole run."""

    recipe: Recipe
    d: Dist
    device: torch.device
    vocab: Vocab
    rank_seed: int
    dtype: torch.dtype | None  # autocast dtype, None for float32
    writer: SummaryWriter | None = None  # TensorBoard's, on rank 0
    started: float = 0.0  # time.time() when training would have started, had it run in one call (ts.spent)
    deadline: float | None = None  # time.time() when this call's time budget (train.max_minutes) is spent

    @property
    def exp_dir(self) -> Path:
        return Path(self.recipe.exp_dir)

    def budget_spent(self, now: float) -> str:
        """This call's time budget as spent at time.time() `now`: "7.5 of 13 min" ("" without one)."""
        if self.deadline is None:
            return ""
        budget = self.recipe.train.max_minutes
        return f"{budget - (self.deadline - now) / 60:.1f} of {budget:g} min"


@dataclass
class Loaders:
    train_set: FeatureDataset
    sampler: BucketSampler
    train: DataLoader
    dev: DataLoader
    fit: DataLoader | None  # the fixed sample of training utterances, clean (train.fit_sample; None: off)


@dataclass
class Data:
    """The run's data, read before any training: a data dir that is missing or unreadable (test's
    too, which is scored only at the end) is an error now, not after the run."""

    vocab: Vocab
    train: list[Utterance]  # the trainable utterances
    budget_lengths: list[int]  # their frames at the slowest speed perturbation (for batching)
    dev: list[Utterance]
    test: list[Utterance]  # empty without data.test


def read_data(recipe: Recipe, d: Dist, device: torch.device, vocab: Vocab | None, extend: bool = False) -> Data:
    """The data dirs, read; logs what was skipped. `vocab`: a resumed run's, kept as it is, or
    (`extend`) a fine-tuned model's, which the training text's new characters are appended to."""
    cfg = recipe.train
    train_utts = read_data_dir(recipe.data.train)
    dev_utts = read_data_dir(recipe.data.dev)
    test_utts = read_data_dir(recipe.data.test) if recipe.data.test else []
    if vocab is not None and extend:  # fine-tuning: the model file's units first, at their indices
        vocab = vocab.extend(u.text or "" for u in train_utts)  # read_data_dir: every one has a text
    vocab = vocab or Vocab.build((u.text or "" for u in train_utts), text=recipe.text)
    slowest = min(recipe.augment.speeds)  # speed perturbation lengthens utterances by up to 1/slowest
    train_utts, frames, dropped = filter_trainable(train_utts, vocab, recipe.model.stack, int(cfg.max_frames * slowest))
    log.info(
        f"train: {len(train_utts)} utterances ({sum(frames) / 360000:.2f} h), skipped: "
        f"{', '.join(f'{why}: {len(ids)} ({_some(ids)})' for why, ids in dropped.items()) or 'none'}; "
        f"dev: {len(dev_utts)}; {f'test: {len(test_utts)}; ' if recipe.data.test else ''}"
        f"vocab: {len(vocab)} units; device: {device}; processes: {d.world}"
    )
    if not train_utts:
        raise UserError(f"{recipe.data.train}: no usable training utterances")
    return Data(vocab, train_utts, [math.ceil(f / slowest) for f in frames], dev_utts, test_utts)


def _some(ids: list[str], shown: int = 3) -> str:
    """The first `shown` ids, and how many more."""
    return ", ".join(ids[:shown]) + (f" and {len(ids) - shown} more" if len(ids) > shown else "")


def fit_sample(utts: list[Utterance], n: int, seed: int) -> list[Utterance]:
    """Up to `n` training utterances, the same draw for a seed (in the training order): the
    sample whose CER, beside dev's, tells underfitting from overfitting."""
    picked = random.Random(seed).sample(range(len(utts)), min(n, len(utts)))
    return [utts[i] for i in sorted(picked)]


def make_loaders(run: Run, data: Data) -> Loaders:
    recipe, cfg, d = run.recipe, run.recipe.train, run.d
    # a memory cache lives in the main process (workers would each fill a private copy), but
    # on-the-fly augmentation has nothing to cache and wants workers; speed perturbation alone
    # has a few versions of each utterance, which the cache keeps
    augment = recipe.augment
    cached = cfg.cache_features and (not augment.on_the_fly or augment.speed_only)
    train_workers = 0 if cached else cfg.num_workers
    if cached and augment.speed_only:
        clean = sum(data.budget_lengths) * min(augment.speeds)  # budget_lengths are at the slowest speed
        mib = clean * recipe.features.n_mels * 4 * sum(1 / s for s in set(augment.speeds)) / 2**20
        log.info(
            f"speed perturbation alone: each utterance's log mels at each speed cached in memory as drawn "
            f"(about {mib:.0f} MiB once all are), no loader workers; train.cache_features=false computes "
            f"them in workers instead"
        )
    if cfg.cr_ctc_weight:  # CR-CTC masks more time on both views (Yao et al. 2024: 2.5 times)
        more = cfg.cr_ctc_time_masking
        augment = replace(
            augment, time_masks=math.ceil(augment.time_masks * more), time_ratio=min(1.0, augment.time_ratio * more)
        )
    train_set = FeatureDataset(
        data.train,
        recipe.features,
        run.vocab,
        cache=cached,
        cache_dir=cfg.feature_cache_dir,
        augment=augment,
        seed=cfg.seed,
        views=2 if cfg.cr_ctc_weight else 1,
    )
    sampler = BucketSampler(
        data.budget_lengths,
        cfg.max_frames,
        cfg.batch_size,
        shuffle=True,
        seed=cfg.seed,
        rank=d.rank,
        world=d.world,
        multiple=cfg.batch_multiple,
        sortagrad=cfg.sortagrad,
    )
    # the loader gets a generator of its own: drawing its worker seed from the global RNG at
    # every epoch start would shift dropout's random stream after a mid-epoch resume
    train = DataLoader(
        train_set,
        batch_sampler=sampler,
        collate_fn=collate,
        num_workers=train_workers,
        persistent_workers=train_workers > 0,  # start-up (imports, numba) once per run, not per epoch
        pin_memory=run.device.type == "cuda",
        generator=torch.Generator().manual_seed(run.rank_seed),
        worker_init_fn=_lower_priority,
    )
    fit = _scoring_loader(run, fit_sample(data.train, cfg.fit_sample, cfg.seed)) if cfg.fit_sample else None
    return Loaders(train_set, sampler, train, _scoring_loader(run, data.dev), fit)


def _scoring_loader(run: Run, utts: list[Utterance]) -> DataLoader:
    """Clean features of `utts` in batches of similar length, in a fixed order (dev, fit sample)."""
    cfg = run.recipe.train
    dataset = FeatureDataset(
        utts, run.recipe.features, run.vocab, cache=cfg.cache_features, cache_dir=cfg.feature_cache_dir
    )
    sampler = BucketSampler([estimated_frames(u) for u in utts], cfg.max_frames, cfg.batch_size, shuffle=False)
    return DataLoader(
        dataset,
        batch_sampler=sampler,
        collate_fn=collate,
        num_workers=0 if cfg.cache_features else cfg.num_workers,
        generator=torch.Generator().manual_seed(cfg.seed),
    )


def _lower_priority(worker_id: int) -> None:
    """Data workers yield the CPU to the training process: its OpenMP threads spin at every
    barrier, and a worker preempting one stalls all of them (on 2 cores, 2 equal-priority
    workers cost 32% of the training frames/s; bench/augment.py)."""
    try:
        os.nice(10)
    except OSError:
        pass


def new_state(run: Run) -> TrainState:
    """A model with the recipe's shape and fresh weights (identity CMVN, on the CPU), and the
    recipe's optimizer, rate schedule and loss scaler for it."""
    recipe, cfg = run.recipe, run.recipe.train
    model = CTCModel(recipe.features.dim, len(run.vocab), recipe.model)
    return TrainState(
        model,
        torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay),
        LRSchedule(
            cfg.lr,
            cfg.warmup_steps,
            cfg.epoch_decay,
            cfg.plateau_factor,
            cfg.plateau_patience,
            *((cfg.lr_final, 60 * cfg.max_minutes) if cfg.lr_over == "budget" else ()),
        ),
        torch.amp.GradScaler("cuda", enabled=loss_scaling(run.dtype, run.device)),
    )


def make_state(run: Run, saved: dict | None, train_set: FeatureDataset, init: dict | None = None) -> TrainState:
    """A new state (CMVN from the training set, config and vocab written), or the saved one;
    `init`: the model file a new run fine-tunes (train.init), already loaded."""
    recipe, cfg, d = run.recipe, run.recipe.train, run.d
    ts = new_state(run)
    model = ts.model
    if saved:
        model.load_state_dict(saved["model"])
        model.to(run.device)
        ts.load(saved["train_state"])
        if not restore_rng(saved["train_state"]["rng"], d, run.device, run.rank_seed + ts.step) and d.main:
            log.warning(
                f"resume: the checkpoint holds the RNG states of another number of processes than {d.world}; "
                "random streams are reseeded, so the run is not bit-exact with an uninterrupted one"
            )
        log.info(
            f"resumed from {run.exp_dir / 'last.pt'}: epoch {ts.epoch + 1}, batch {ts.batch}, step {ts.step} "
            f"(best dev CER {ts.best_cer:.2%})"
        )
        return ts
    if init is not None:
        assert cfg.init is not None  # init is the model file it names
        n_new = init_from(model, init, recipe, run.vocab, cfg.init)
        log.info(f"fine-tuning {cfg.init}: {len(run.vocab) - n_new} units kept, {n_new} new; CMVN: {cfg.init_cmvn}")
    if d.main:
        if init is None or cfg.init_cmvn == "estimate":
            model.set_cmvn(*compute_cmvn(train_set, cfg.cmvn_utterances, cfg.seed))
        (run.exp_dir / "config.yaml").write_text(yaml.safe_dump(to_dict(recipe), allow_unicode=True, sort_keys=False))
        (run.exp_dir / "vocab.txt").write_text("".join(u + "\n" for u in run.vocab.units), encoding="utf-8")
    model.to(run.device)
    return ts
