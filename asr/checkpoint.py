"""Self-contained model files: recipe, vocabulary, CMVN and weights, written atomically.

Files are loaded with torch.load(weights_only=True): they hold only tensors and plain Python
containers, so a crafted file cannot run code when it is opened.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from asr.config import Recipe, from_dict, to_dict
from asr.errors import UserError
from asr.model import CTCModel
from asr.modelfile import FORMAT, SLOTS_FORMAT, read_torch_file, write_torch_file
from asr.vocab import Vocab

VERSION = 1
# model keys that shape training, not the weights: a fine-tuning recipe may set them otherwise
TRAINING_ONLY = ("dropout", "inter_ctc_layers")


def save_checkpoint(
    path: str | Path, recipe: Recipe, vocab: Vocab, model: CTCModel, train_state: dict | None = None
) -> None:
    """Write the model (and optionally the training state) to `path`; readers never see half a file."""
    path = Path(path)
    payload: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "recipe": to_dict(recipe),
        "vocab": list(vocab.units),
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    if train_state is not None:
        payload["train_state"] = train_state
    write_torch_file(path, payload)


def load_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint written by save_checkpoint; UserError for anything else."""
    path = Path(path)
    ckpt = read_torch_file(path)
    if ckpt.get("format") == SLOTS_FORMAT:
        raise UserError(f"{path}: a slot model, not a speech recognition model (use it with --slots)")
    if ckpt.get("format") != FORMAT:
        raise UserError(f"{path}: not an asr model file")
    if ckpt.get("version") != VERSION:
        raise UserError(
            f"{path}: model file format version {ckpt.get('version')} is not supported by this "
            f"asr (reads version {VERSION}); use the asr release that wrote it"
        )
    return ckpt


def model_from_checkpoint(ckpt: dict) -> tuple[Recipe, Vocab, CTCModel]:
    """Rebuild (recipe, vocab, model in eval mode) from a loaded checkpoint."""
    recipe = from_dict(Recipe, ckpt["recipe"])
    vocab = Vocab(ckpt["vocab"], recipe.text)
    model = CTCModel(recipe.features.dim, len(vocab), recipe.model)
    model.load_state_dict(ckpt["model"])
    return recipe, vocab, model.eval()


def average_checkpoints(paths: list[Path]) -> dict[str, torch.Tensor]:
    """Element-wise mean of the models in `paths` (integer buffers taken from the last one)."""
    states = [load_checkpoint(p)["model"] for p in paths]
    avg = {}
    for name, last in states[-1].items():
        avg[name] = sum(s[name] for s in states) / len(states) if last.is_floating_point() else last
    return avg


def check_init_recipe(recipe: Recipe, ckpt: dict, path: str | Path) -> None:
    """UserError listing every setting of the frontend and the model in which `recipe` differs
    from the model file it fine-tunes (`ckpt`, read from `path`), with the overrides that fix them."""
    old = from_dict(Recipe, ckpt["recipe"])
    differ = [
        (f"{section}.{key}", getattr(ours, key), value)
        for section, ours, theirs in (("features", recipe.features, old.features), ("model", recipe.model, old.model))
        for key, value in vars(theirs).items()
        if key not in TRAINING_ONLY and getattr(ours, key) != value
    ]
    if differ:
        said = ", ".join(f"{key}={value} (this recipe: {ours})" for key, ours, value in differ)
        fix = " ".join(f"-s {key}={value}" for key, _, value in differ)
        raise UserError(f"train.init: {path} was trained with {said}; fine-tuning keeps the model: {fix}")


def init_from(model: CTCModel, ckpt: dict, recipe: Recipe, vocab: Vocab, path: str | Path) -> int:
    """Load a model file's weights into `model` (built for `recipe` and `vocab`, which extends the
    file's vocabulary) to fine-tune it; returns the number of new output units.

    The architecture and frontend must be the file's: every weight is copied, the output rows of
    the file's units keep their index, and new units' rows start small (weights ~N(0, 0.01), bias
    the mean of the old characters' biases), so the model's old outputs are unchanged at first.
    """
    check_init_recipe(recipe, ckpt, path)
    old_vocab = Vocab(ckpt["vocab"])
    if vocab.units[: len(old_vocab)] != old_vocab.units:
        raise ValueError(f"the vocabulary does not extend {path}'s")
    state = dict(ckpt["model"])
    n_old, n_new = len(old_vocab), len(vocab) - len(old_vocab)
    weight, bias = state["output.weight"], state["output.bias"]
    g = torch.Generator().manual_seed(0)
    state["output.weight"] = torch.cat([weight, 0.01 * torch.randn(n_new, weight.shape[1], generator=g)])
    chars = bias[2:n_old].mean() if n_old > 2 else bias.new_zeros(())
    state["output.bias"] = torch.cat([bias, chars.expand(n_new)])
    model.load_state_dict(state)
    return n_new
