"""Typed, strict, frozen recipe schema. An unknown or mistyped key is an error, not a surprise."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from asr.augment import AugmentConfig
from asr.decoding import DecodeConfig  # noqa: F401 (part of the recipe schema)
from asr.errors import UserError
from asr.features import FeatureConfig
from asr.model import ModelConfig
from asr.slots import SlotConfig
from asr.vocab import TextConfig


@dataclass(frozen=True)
class DataConfig:
    train: str  # Kaldi-style data dirs (wav.scp + text)
    dev: str
    test: str | None = None
    corpus: str | None = None  # "aishell": build the data dirs from corpus_dir when they are missing
    corpus_dir: str | None = None


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 20
    batch_size: int = 16  # most utterances per batch (0: no limit)
    max_frames: int = 0  # most padded feature frames per batch (0: no limit); buckets by length
    max_minutes: float = 0.0  # time budget of one `asr train` call: stops cleanly (last.pt, best.pt) when spent
    batch_multiple: int = 1  # batch sizes rounded down to a multiple of this (8 suits GPU AMP kernels)
    sortagrad: bool = False  # first epoch from short to long utterances (quicker start for CTC)
    lr: float = 1e-3
    warmup_steps: int = 0  # linear warm-up of the learning rate
    lr_decay: float = 1.0  # multiplied into the learning rate after every epoch
    lr_final: float = 0.0  # or: the last epoch's rate as a fraction of lr, whatever `epochs` is (sets lr_decay)
    lr_over: str = "epochs"  # epochs: lr_final at the last epoch | budget: at the end of max_minutes (wall clock)
    plateau_factor: float = 1.0  # ... and this when dev CER has not improved for plateau_patience epochs
    plateau_patience: int = 2
    early_stop_patience: int = 0  # stop after this many epochs without a better dev CER (0: never)
    average_last: int = 0  # average the weights of the last N epochs into avg.pt (0: off)
    weight_decay: float = 0.0
    grad_clip: float = 5.0  # max global gradient norm (0: no clipping)
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    amp: str = "auto"  # auto (bf16 on CUDA, off on CPU) | bf16 | fp16 | off
    threads: int = 0  # torch CPU threads; 0 = all cores
    num_workers: int = 0  # DataLoader workers for audio loading and features
    cache_features: bool = True  # keep features in memory after first use (num_workers is then 0)
    feature_cache_dir: str | None = None  # also keep them on disk, reused across epochs and runs
    cmvn_utterances: int = 5000  # training utterances sampled for global CMVN statistics
    save_every_steps: int = 0  # also write last.pt every N steps within an epoch (0: at epoch ends)
    log_every_steps: int = 50  # TensorBoard loss/lr points
    init: str | None = None  # fine-tune: start from this model file's weights (vocab extended, see README)
    init_cmvn: str = "keep"  # keep (the model file's CMVN statistics) | estimate (from the new training data)
    freeze_layers: int = 0  # fine-tune: the lowest N recurrent layers (frame stacking side) stay fixed ...
    freeze_epochs: int = 0  # ... for the first N epochs

    def __post_init__(self) -> None:
        if self.amp not in ("auto", "bf16", "fp16", "off"):
            raise UserError(f"train.amp: expected auto, bf16, fp16 or off, got {self.amp!r}")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise UserError(f"train.device: expected auto, cpu or cuda, got {self.device!r}")
        if self.lr_final and self.lr_decay != 1.0:
            raise UserError("train: set lr_decay or lr_final, not both (lr_final sets the per-epoch decay)")
        if not 0.0 <= self.lr_final <= 1.0:
            raise UserError(f"train.lr_final: expected a fraction of lr in (0, 1], got {self.lr_final}")
        if self.max_minutes < 0:
            raise UserError(f"train.max_minutes: expected 0 (no limit) or more, got {self.max_minutes}")
        if self.lr_over not in ("epochs", "budget"):
            raise UserError(f"train.lr_over: expected epochs or budget, got {self.lr_over!r}")
        if self.lr_over == "budget" and not (self.max_minutes and self.lr_final):
            raise UserError("train.lr_over: budget decays lr to lr_final over max_minutes: set both")
        if self.init_cmvn not in ("keep", "estimate"):
            raise UserError(f"train.init_cmvn: expected keep or estimate, got {self.init_cmvn!r}")
        if self.freeze_layers < 0 or self.freeze_epochs < 0:
            raise UserError("train.freeze_layers and train.freeze_epochs: expected 0 or more")
        if bool(self.freeze_layers) != bool(self.freeze_epochs):  # one alone would freeze nothing
            raise UserError(
                "train.freeze_layers and train.freeze_epochs go together: the N lowest layers stay fixed "
                "for the first E epochs (set both, or neither)"
            )
        if self.grad_clip < 0:
            raise UserError(f"train.grad_clip: expected 0 (off) or a positive norm, got {self.grad_clip}")
        if self.batch_size <= 0 and self.max_frames <= 0:
            raise UserError("train: set batch_size or max_frames (or both)")

    @property
    def epoch_decay(self) -> float:
        """The learning rate's factor per epoch: lr_decay, or what takes lr to lr * lr_final at the
        last epoch (1 when lr_over is budget: the schedule decays by the time spent instead)."""
        if self.lr_over == "budget":
            return 1.0
        if self.lr_final and self.epochs > 1:
            return self.lr_final ** (1.0 / (self.epochs - 1))
        return self.lr_decay


@dataclass(frozen=True)
class Recipe:
    exp_dir: str
    data: DataConfig
    text: TextConfig = field(default_factory=TextConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    slots: SlotConfig = field(default_factory=SlotConfig)  # the slot tagger (asr slots train)


def _convert(tp: Any, value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise UserError(f"{where}: expected a mapping, got {value!r}")
        return from_dict(tp, value, where)
    if typing.get_origin(tp) is tuple:  # tuple[float, ...] or tuple[float, float] from a YAML list
        if not isinstance(value, (list, tuple)):
            raise UserError(f"{where}: expected a list, got {value!r}")
        args = typing.get_args(tp)
        items = args[:1] * len(value) if len(args) == 2 and args[1] is Ellipsis else args
        if len(items) != len(value):
            raise UserError(f"{where}: expected {len(items)} values, got {len(value)}")
        return tuple(_convert(t, v, f"{where}[{i}]") for i, (t, v) in enumerate(zip(items, value)))
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        (tp,) = [a for a in args if a is not type(None)]
    if tp is float and isinstance(value, (int, str)) and not isinstance(value, bool):
        try:  # PyYAML reads 1e-4 (no dot) as a string; accept it as the number it means
            return float(value)
        except ValueError:
            pass
    if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
        raise UserError(f"{where}: expected {tp.__name__}, got {value!r}")
    return value


def from_dict(cls: type, values: dict, where: str = "recipe") -> Any:
    """Build dataclass `cls` from a mapping; unknown keys, missing keys and wrong types fail."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise UserError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(names))}")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in values:
            kwargs[f.name] = _convert(hints[f.name], values[f.name], f"{where}.{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise UserError(f"{where}: missing required key {f.name!r}")
    return cls(**kwargs)


def apply_overrides(values: dict, overrides: list[str]) -> dict:
    """Apply `section.key=value` overrides (values parsed as YAML) to a nested mapping;
    `section.key=null` unsets the key, so that its default applies (the recipe's lr_decay gives
    way to lr_final, say)."""
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise UserError(f"override {item!r}: expected section.key=value")
        node = values
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise UserError(f"override {item!r}: {p} is not a section")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            raise UserError(f"override {item!r}: the value is not valid YAML (quote it: {key}='\"...\"')") from None
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return values


def _read_mapping(path: str | Path, what: str) -> dict:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: {what} not found")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(values, dict):
        raise UserError(f"{path}: a {what} is a YAML mapping")
    return values


def load_recipe(path: str | Path, overrides: list[str] = ()) -> Recipe:
    values = _read_mapping(path, "recipe")
    return from_dict(Recipe, apply_overrides(values, list(overrides)), where=Path(path).name)


def load_slot_config(recipe: str | Path | None, overrides: list[str] = ()) -> SlotConfig:
    """The slot tagger's settings: a recipe's `slots:` section (defaults without a recipe) with
    `slots.key=value` overrides."""
    values = {"slots": (_read_mapping(recipe, "recipe").get("slots") or {}) if recipe else {}}
    return from_dict(SlotConfig, apply_overrides(values, list(overrides)).get("slots", {}), where="slots")


def load_section(path: str | Path, cls: type) -> dict:
    """Read a YAML mapping of one recipe section, checked against `cls`; returns the given keys."""
    values = _read_mapping(path, "settings file")
    checked = from_dict(cls, values, where=Path(path).name)
    return {k: getattr(checked, k) for k in values}


def to_dict(recipe: Recipe) -> dict:
    return dataclasses.asdict(recipe)
