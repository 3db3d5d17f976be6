"""Utterances of a data dir (asr/datadir.py) -> datasets of (features, targets) ->
length-grouped padded batches; the filter of what can be trained on, and global CMVN."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import pickle
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from asr.audio import SAMPLE_RATE
from asr.augment import AugmentConfig, Augmenter, at_speed
from asr.datadir import Utterance
from asr.errors import AudioError
from asr.features import CMVNAccumulator, FeatureConfig, cepstra, finish, log_mel, num_frames
from asr.vocab import Vocab


def estimated_frames(utt: Utterance) -> int:
    """Feature frames of an utterance from its header alone (no decoding); 0 if unusable."""
    return num_frames(round(utt.check()[0] * SAMPLE_RATE))


def ctc_min_frames(ids: list[int]) -> int:
    """Shortest CTC output that can carry `ids`: one frame per unit plus a blank between repeats."""
    return len(ids) + sum(a == b for a, b in zip(ids, ids[1:]))


class FeatureCache:
    """Log mel energies on disk (what the features are finished from, and where SpecAugment
    masks), one file per utterance under a folder named by the frontend settings, so changing a
    setting starts a fresh cache; a file records its audio's size and mtime and is recomputed
    when the audio changes."""

    def __init__(self, root: str | Path, feat_cfg: FeatureConfig) -> None:
        settings = json.dumps({"logmel": dataclasses.asdict(feat_cfg)}, sort_keys=True)
        key = hashlib.sha1(settings.encode()).hexdigest()[:12]
        self.dir = Path(root) / key
        self.dir.mkdir(parents=True, exist_ok=True)

    def _file(self, utt: Utterance) -> Path:
        return self.dir / (hashlib.sha1(utt.id.encode()).hexdigest()[:2]) / f"{utt.id.replace('/', '_')}.pt"

    @staticmethod
    def _source(utt: Utterance) -> list:
        st = utt.path.stat()
        return [str(utt.path), st.st_size, st.st_mtime_ns, utt.start, utt.end]

    def get(self, utt: Utterance) -> torch.Tensor | None:
        f = self._file(utt)
        try:
            item = torch.load(f, weights_only=True)
            return item["logmel"] if item["source"] == self._source(utt) else None
        except (OSError, RuntimeError, KeyError, EOFError, pickle.UnpicklingError):
            return None

    def put(self, utt: Utterance, logmel: torch.Tensor) -> None:
        f = self._file(utt)
        f.parent.mkdir(exist_ok=True)
        tmp = f.with_suffix(f".{os.getpid()}.tmp")
        torch.save({"logmel": logmel, "source": self._source(utt)}, tmp)
        os.replace(tmp, f)


class FeatureDataset(Dataset):
    """Utterances -> {"id", "feats" (T, F), "target" (L,), "text"}; an unreadable one -> {"id", "error"}.

    Indexed by (epoch, i) pairs (what BucketSampler yields) so that augmentation is drawn from
    generators seeded by (seed, epoch, i): identical in any worker, and on resume. Clean log mel
    energies are cached in memory (cache=True; use num_workers=0 with it, since workers would
    each fill a private copy) and/or on disk (cache_dir); features are finished from them, after
    SpecAugment's masks when those are on (a set without augmentation keeps finished features).
    Augmentation that changes the audio or the filterbank (`augment.on_the_fly`) computes every
    item from its audio, in the loader's workers; but with speed perturbation as its only such
    step (`augment.speed_only`), the memory cache also keeps each utterance's version at each
    speed, computed the first time it is drawn: the same features.
    """

    def __init__(
        self,
        utts: list[Utterance],
        feat_cfg: FeatureConfig,
        vocab: Vocab | None,
        cache: bool = False,
        cache_dir: str | Path | None = None,
        augment: AugmentConfig | None = None,
        seed: int = 0,
        views: int = 1,
    ) -> None:
        self.utts = utts
        self.views = views  # 2: items carry a second view, "feats2", with other masks (CR-CTC)
        self.feat_cfg = feat_cfg
        self.vocab = vocab
        self.memory: dict[int, torch.Tensor] | None = {} if cache else None
        # speed perturbation alone: the log mels of the other speeds are cached too, (i, speed) -> (T, n_mels)
        self.versions: dict[tuple[int, float], torch.Tensor] | None = None
        if cache and augment is not None and augment.speed_only:
            self.versions = {}
        self.disk = FeatureCache(cache_dir, feat_cfg) if cache_dir else None
        self.augmenter: Augmenter | None = None
        if augment is not None and (augment.on_the_fly or augment.masks):
            self.augmenter = Augmenter(augment, feat_cfg, seed, [u.path for u in utts])
        # never augmented: the memory cache keeps finished features instead of log mels
        self.finished: dict[int, torch.Tensor] | None = None
        if cache and self.augmenter is None:
            self.memory, self.finished = None, {}
        self.failed: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self.utts)

    def _guarded(self, utt: Utterance, compute: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor | None:
        try:
            return compute(utt.load())
        except AudioError as exc:
            self.failed[utt.id] = str(exc)
        except ValueError as exc:  # shorter than one frame
            self.failed[utt.id] = f"{utt.path}: {exc}"
        return None

    def log_mel(self, i: int) -> torch.Tensor | None:
        """Clean (T, n_mels) log mel energies of utterance i, through the caches (the memory cache
        holds log mels only in a set that is augmented: see `features`)."""
        if self.memory is not None and i in self.memory:
            return self.memory[i]
        logmel = self._log_mel(i)
        if logmel is not None and self.memory is not None:
            self.memory[i] = logmel
        return logmel

    def _log_mel(self, i: int) -> torch.Tensor | None:
        """log_mel past the memory cache: from the disk cache or the audio."""
        utt = self.utts[i]
        logmel = self.disk.get(utt) if self.disk else None
        if logmel is None:
            logmel = self._guarded(utt, lambda wave: log_mel(wave, self.feat_cfg))
            if logmel is not None and self.disk:
                self.disk.put(utt, logmel)
        return logmel

    def log_mel_at(self, i: int, speed: float) -> torch.Tensor | None:
        """Log mel energies of utterance i played at `speed`, through the cache of those."""
        if speed == 1.0:
            return self.log_mel(i)
        assert self.versions is not None
        if (i, speed) not in self.versions:
            logmel = self._guarded(
                self.utts[i],
                lambda wave: log_mel(
                    torch.from_numpy(np.ascontiguousarray(at_speed(wave.numpy(), speed), np.float32)), self.feat_cfg
                ),
            )
            if logmel is None:
                return None
            self.versions[i, speed] = logmel
        return self.versions[i, speed]

    def _finish(self, logmel: torch.Tensor) -> torch.Tensor:
        return finish(cepstra(logmel, self.feat_cfg), self.feat_cfg)

    def features(self, i: int) -> torch.Tensor | None:
        """Clean (T, F) features of utterance i (before global CMVN). A set that is never
        augmented (dev, the fit sample) keeps them finished in its memory cache, so that scoring
        it every epoch does not compute its cepstra and deltas again (1% of a training run)."""
        if self.finished is not None:  # (never augmented)
            if i not in self.finished:
                logmel = self._log_mel(i)
                if logmel is None:
                    return None
                self.finished[i] = self._finish(logmel)
            return self.finished[i]  # shared, not copied: collate pads it into a new tensor
        logmel = self.log_mel(i)
        return None if logmel is None else self._finish(logmel)

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        epoch, i = key if isinstance(key, tuple) else (0, key)
        utt, aug = self.utts[i], self.augmenter
        if aug is not None and not aug.active(epoch):
            aug = None
        views: torch.Tensor | None  # (views, T, F); one when clean (the views would be alike)
        if aug is not None and aug.cfg.on_the_fly and self.versions is None:
            views = self._guarded(utt, lambda wave: aug.views(wave, epoch, i, self.views))
        elif aug is not None:  # the same features as views' from the log mels' caches
            logmel = self.log_mel_at(i, aug.speed_factor(epoch, i)) if self.versions is not None else self.log_mel(i)
            views = (
                None
                if logmel is None
                else torch.stack([self._finish(aug.masked(logmel, epoch, i, v)) for v in range(self.views)])
            )
        else:
            feats = self.features(i)
            views = None if feats is None else feats[None]
        if views is None:  # the reason travels with the item: workers' `failed` dicts are copies
            return {"id": utt.id, "error": self.failed[utt.id]}
        ids = self.vocab.encode(utt.text) if (self.vocab is not None and utt.text is not None) else []
        item = {"id": utt.id, "feats": views[0], "target": torch.tensor(ids, dtype=torch.long), "text": utt.text}
        return {**item, "feats2": views[1]} if len(views) > 1 else item


@dataclass
class Batch:
    ids: list[str]
    feats: torch.Tensor  # (B, T, F), zero padded
    feat_lens: torch.Tensor  # (B,)
    targets: torch.Tensor  # (B, L), zero padded
    target_lens: torch.Tensor  # (B,)
    texts: list[str | None]
    failed: dict[str, str] = dataclasses.field(default_factory=dict)  # id -> why it could not be read
    feats2: torch.Tensor | None = None  # (B, T, F): CR-CTC's second view (other masks), when augmented

    def to(self, device: torch.device) -> Batch:
        return Batch(
            self.ids,
            self.feats.to(device, non_blocking=True),
            self.feat_lens.to(device),
            self.targets.to(device),
            self.target_lens.to(device),
            self.texts,
            self.failed,
            None if self.feats2 is None else self.feats2.to(device, non_blocking=True),
        )


def collate(items: list[dict]) -> Batch:
    """Dataset items -> a padded Batch. Items that failed to load are left out and listed in
    `failed`; when all did, the batch is empty (B = 0), which the training loop skips."""
    failed = {it["id"]: it["error"] for it in items if "error" in it}
    items = [it for it in items if "error" not in it]
    if not items:
        empty = torch.zeros(0, dtype=torch.long)
        return Batch([], torch.zeros(0, 0, 0), empty, torch.zeros(0, 0, dtype=torch.long), empty, [], failed)
    feats = torch.nn.utils.rnn.pad_sequence([it["feats"] for it in items], batch_first=True)
    targets = torch.nn.utils.rnn.pad_sequence([it["target"] for it in items], batch_first=True)
    return Batch(
        ids=[it["id"] for it in items],
        feats=feats,
        feat_lens=torch.tensor([it["feats"].shape[0] for it in items], dtype=torch.long),
        targets=targets,
        target_lens=torch.tensor([it["target"].shape[0] for it in items], dtype=torch.long),
        texts=[it["text"] for it in items],
        failed=failed,
        # every item has a second view or none does: augmentation is on or off for the whole epoch
        feats2=torch.nn.utils.rnn.pad_sequence([it["feats2"] for it in items], batch_first=True)
        if "feats2" in items[0]
        else None,
    )


class BucketSampler(Sampler[list[tuple[int, int]]]):
    """Batches of utterances of similar length under a padded-frames budget, reshuffled per epoch.

    Utterances are sorted by length with a random jitter of a few percent (so batch membership
    changes between epochs), cut into batches where len(batch) * longest <= max_frames and
    len(batch) <= max_utts (rounded down to a multiple of `multiple` where possible: GPU kernels
    for bf16/fp16 LSTMs want batch sizes divisible by 8), and the batches are shuffled across all
    lengths. Padding stays small without packed sequences. With world > 1, each rank takes every world-th batch; the
    list is first padded by repeating batches so every rank runs the same number of steps.
    With `sortagrad`, the first epoch goes from the shortest batches to the longest (SortaGrad,
    Amodei et al. 2016): short utterances get CTC past its all-blank start quickly.
    Yields lists of (epoch, index) for FeatureDataset.
    """

    def __init__(
        self,
        lengths: list[int],
        max_frames: int = 0,
        max_utts: int = 16,
        shuffle: bool = True,
        seed: int = 0,
        rank: int = 0,
        world: int = 1,
        multiple: int = 1,
        sortagrad: bool = False,
    ) -> None:
        self.lengths = lengths
        self.sortagrad = sortagrad
        self.multiple = multiple
        self.max_frames = max_frames
        self.max_utts = max_utts
        self.shuffle = shuffle
        self.seed = seed
        self.rank, self.world = rank, world
        self.epoch, self.start = 0, 0
        self._cached: tuple[int, list[list[int]]] | None = None  # (epoch, its batches)

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Select the epoch's batches; skip its first `start` batches (resuming mid-epoch)."""
        self.epoch, self.start = epoch, start

    def batches(self) -> list[list[int]]:
        """This rank's batches of the current epoch, all of them (ignores `start`)."""
        if self._cached is None or self._cached[0] != self.epoch:
            self._cached = (self.epoch, self._make_batches())
        return self._cached[1]

    def _make_batches(self) -> list[list[int]]:
        g = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
        n = len(self.lengths)
        jitter = (1 + 0.05 * torch.rand(n, generator=g)).tolist() if self.shuffle else [1.0] * n
        order = sorted(range(n), key=lambda i: self.lengths[i] * jitter[i])
        batches: list[list[int]] = []
        cur: list[int] = []
        longest = 0
        for i in order:
            longest_if = max(longest, self.lengths[i])
            full = (self.max_utts and len(cur) >= self.max_utts) or (
                self.max_frames and cur and longest_if * (len(cur) + 1) > self.max_frames
            )
            if full:
                keep = len(cur) - len(cur) % self.multiple if len(cur) > self.multiple else len(cur)
                batches.append(cur[:keep])
                cur = cur[keep:]  # the rest opens the next batch: sizes stay multiples of `multiple`
                if self.max_frames and cur and (len(cur) + 1) * self.lengths[i] > self.max_frames:
                    batches.append(cur)  # the rest cannot take this longer utterance too
                    cur = []
                longest_if = max([self.lengths[j] for j in cur] + [self.lengths[i]])
            cur.append(i)
            longest = longest_if
        if cur:
            batches.append(cur)
        if self.shuffle and not (self.sortagrad and self.epoch == 0):
            batches = [batches[i] for i in torch.randperm(len(batches), generator=g).tolist()]
        if self.world > 1:
            pad = (-len(batches)) % self.world
            batches = (batches + batches[:pad])[self.rank :: self.world]
        return batches

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for batch in self.batches()[self.start :]:
            yield [(self.epoch, i) for i in batch]

    def __len__(self) -> int:
        return len(self.batches()) - self.start


def filter_trainable(
    utts: list[Utterance], vocab: Vocab, stack: int, max_frames: int
) -> tuple[list[Utterance], list[int], dict]:
    """Drop utterances that cannot be read, are too short for their transcript under CTC, or are
    longer than a whole batch may be. Returns (kept, their frame counts, {reason: ids})."""
    kept, frames = [], []
    dropped: dict[str, list[str]] = {}
    for u in utts:
        seconds, why = u.check()
        t = num_frames(round(seconds * SAMPLE_RATE))
        if why or t == 0:  # in load_audio's words: file not found, contains no audio samples, ...
            dropped.setdefault((why or "too short for one frame").split(" (")[0], []).append(u.id)
        elif math.ceil(t / stack) < ctc_min_frames(vocab.encode(u.text or "")):
            dropped.setdefault("too short for transcript", []).append(u.id)
        elif max_frames and t > max_frames:
            dropped.setdefault("longer than max_frames", []).append(u.id)
        else:
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
