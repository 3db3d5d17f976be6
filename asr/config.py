"""Typed, strict, frozen recipe schema. An unknown or mistyped key is an error, not a surprise."""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from asr.augment import AugmentConfig
from asr.decoding import DecodeConfig  # noqa: F401 (part of the recipe schema)
from asr.errors import UserError, check_choice, check_ranges
from asr.features import VTLN_BAND, FeatureConfig
from asr.model import ModelConfig
from asr.slots import SlotConfig
from asr.vocab import TextConfig

CORPORA = ("aishell", "librispeech", "commonvoice")  # the layouts asr/corpora prepares data dirs from


@dataclass(frozen=True)
class DataConfig:
    train: str  # Kaldi-style data dirs (wav.scp + text)
    dev: str
    test: str | None = None
    corpus: str | None = None  # "aishell": build the data dirs from corpus_dir when they are missing
    corpus_dir: str | None = None

    def __post_init__(self) -> None:
        if self.corpus is not None:
            check_choice("data.corpus", self.corpus, CORPORA)


# The allowed values of train's numeric keys. 0 switches off batch_size, max_frames (no limit),
# max_minutes (no budget), lr_final (lr_decay applies), grad_clip, threads (all cores), the step
# counts, early stopping and averaging. Seeds seed NumPy's generators too, which take 0..2^32-1.
TRAIN_RANGES = dict(
    epochs="[1, inf)",
    batch_size="[0, inf)",
    max_frames="[0, inf)",
    max_minutes="[0, inf)",
    batch_multiple="[1, inf)",
    lr="(0, inf)",
    warmup_steps="[0, inf)",
    lr_decay="(0, 1]",
    lr_final="[0, 1]",
    plateau_factor="(0, 1]",
    plateau_patience="[1, inf)",
    early_stop_patience="[0, inf)",
    average_last="[0, inf)",
    weight_decay="[0, inf)",
    grad_clip="[0, inf)",
    seed=f"[0, {2**32 - 1}]",
    threads="[0, inf)",
    num_workers="[0, inf)",
    cmvn_utterances="[1, inf)",
    save_every_steps="[0, inf)",
    log_every_steps="[1, inf)",
    freeze_layers="[0, inf)",
    freeze_epochs="[0, inf)",
    fit_sample="[0, inf)",
    inter_ctc_weight="[0, 1)",
    cr_ctc_weight="[0, 1)",
    cr_ctc_time_masking="[1, inf)",
)


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
    amp: str = "auto"  # auto (bf16 on CUDA; on a CPU bf16 where a timed step is 10% faster) | bf16 | fp16 (CUDA) | off
    threads: int = 0  # torch CPU threads; 0 = all cores
    num_workers: int = 0  # DataLoader workers for audio loading and features
    cache_features: bool = True  # keep features in memory after first use (num_workers is then 0): log mels
    # where the set is augmented (masks drawn afresh), finished features where it is not (wider: 60 vs 40 columns);
    # with speed perturbation the only audio step, log mels at each speed (about 3x for 0.9, 1.0, 1.1)
    feature_cache_dir: str | None = None  # also keep them on disk, reused across epochs and runs
    cmvn_utterances: int = 5000  # training utterances sampled for global CMVN statistics
    save_every_steps: int = 0  # also write last.pt every N steps within an epoch (0: at epoch ends)
    log_every_steps: int = 50  # TensorBoard loss/lr points
    init: str | None = None  # fine-tune: start from this model file's weights (vocab extended, see README)
    init_cmvn: str = "keep"  # keep (the model file's CMVN statistics) | estimate (from the new training data)
    freeze_layers: int = 0  # fine-tune: the lowest N recurrent layers (frame stacking side) stay fixed ...
    freeze_epochs: int = 0  # ... for the first N epochs
    fit_sample: int = 200  # training utterances (a fixed draw, clean) scored like dev every epoch (0: off)
    inter_ctc_weight: float = 0.0  # InterCTC: the share of model.inter_ctc_layers' CTC losses in the loss
    cr_ctc_weight: float = 0.0  # CR-CTC: two masked views per utterance, their consistency's weight (0: off)
    cr_ctc_time_masking: float = 2.5  # CR-CTC: augment.time_masks and time_ratio multiplied by this

    def __post_init__(self) -> None:
        check_ranges("train", self, **TRAIN_RANGES)
        check_choice("train.amp", self.amp, ("auto", "bf16", "fp16", "off"))
        if self.device not in ("auto", "cpu", "cuda") and not re.fullmatch(r"cuda:\d+", self.device):
            raise UserError(f"train.device: expected auto, cpu, cuda or cuda:N (N: a GPU's index), got {self.device!r}")
        check_choice("train.lr_over", self.lr_over, ("epochs", "budget"))
        check_choice("train.init_cmvn", self.init_cmvn, ("keep", "estimate"))
        if self.lr_final and self.lr_decay != 1.0:
            raise UserError("train: set lr_decay or lr_final, not both (lr_final sets the per-epoch decay)")
        if self.lr_over == "budget" and not (self.max_minutes and self.lr_final):
            raise UserError("train.lr_over: budget decays lr to lr_final over max_minutes: set both")
        if bool(self.freeze_layers) != bool(self.freeze_epochs):  # one alone would freeze nothing
            raise UserError(
                "train.freeze_layers and train.freeze_epochs go together: the N lowest layers stay fixed "
                "for the first E epochs (set both, or neither)"
            )
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

    def __post_init__(self) -> None:
        """What one section allows given another's values (each section checks its own keys)."""
        if bool(self.train.inter_ctc_weight) != bool(self.model.inter_ctc_layers):  # one alone does nothing
            key = "train.inter_ctc_weight" if self.train.inter_ctc_weight else "model.inter_ctc_layers"
            raise UserError(
                f"{key}: InterCTC weighs the CTC losses of the layers model.inter_ctc_layers lists by "
                "train.inter_ctc_weight: set both (e.g. [2] and 0.3) or neither"
            )
        if self.train.cr_ctc_weight and not self.augment.masks:
            raise UserError(
                "train.cr_ctc_weight: CR-CTC's two views differ by their SpecAugment masks: "
                "set augment.time_masks (or freq_masks) above 0"
            )
        if self.train.freeze_layers > self.model.layers:
            raise UserError(
                f"train.freeze_layers: expected at most model.layers ({self.model.layers}), got {self.train.freeze_layers}"
            )
        low, high = self.features.band
        if self.augment.vtlp_prob > 0 and not (low < VTLN_BAND[0] and high > VTLN_BAND[1]):
            raise UserError(
                f"augment.vtlp_prob: VTLP warps the mel filterbank between {VTLN_BAND[0]:g} and {VTLN_BAND[1]:g} Hz, "
                f"outside the features' band of {low:g}-{high:g} Hz: set augment.vtlp_prob=0, or widen the band "
                f"(features.low_freq below {VTLN_BAND[0]:g}, the high edge above {VTLN_BAND[1]:g})"
            )


def _convert(tp: Any, value: Any, where: str) -> Any:
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
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
    if tp is str and isinstance(value, bool) and where.endswith(".amp"):  # YAML 1.1 reads `amp: off` as False
        return "off" if value is False else "on"
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


def load_recipe(path: str | Path, overrides: Sequence[str] = ()) -> Recipe:
    values = _read_mapping(path, "recipe")
    return from_dict(Recipe, apply_overrides(values, list(overrides)), where=Path(path).name)


def load_slot_config(recipe: str | Path | None, overrides: Sequence[str] = ()) -> SlotConfig:
    """The slot tagger's settings: a recipe's `slots:` section (defaults without a recipe) with
    `slots.key=value` overrides."""
    other = sorted({o.split("=", 1)[0] for o in overrides if not o.startswith("slots.")})
    if other:
        raise UserError(f"--set {', '.join(other)}: the slot tagger's settings are slots.KEY=VALUE")
    values = {"slots": (_read_mapping(recipe, "recipe").get("slots") or {}) if recipe else {}}
    return from_dict(SlotConfig, apply_overrides(values, list(overrides)).get("slots", {}), where="slots")


def load_section(path: str | Path, cls: type) -> dict:
    """Read a YAML mapping of one recipe section, checked against `cls`; returns the given keys."""
    values = _read_mapping(path, "settings file")
    checked = from_dict(cls, values, where=Path(path).name)
    return {k: getattr(checked, k) for k in values}


def to_dict(recipe: Recipe) -> dict:
    return dataclasses.asdict(recipe)
