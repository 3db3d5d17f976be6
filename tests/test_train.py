import math

import pytest
import torch

from asr.checkpoint import load_checkpoint, model_from_checkpoint
from asr.config import load_recipe
from asr.errors import UserError
from asr.evaluate import error_rates
from asr.train import train
from conftest import ROOT, SAMPLES, tiny_overrides

DEMO = ROOT / "recipes" / "demo.yaml"


def sample_texts() -> dict[str, str]:
    return dict(line.split(" ", 1) for line in (SAMPLES / "text").read_text(encoding="utf-8").splitlines())


def test_tiny_training_learns_the_samples(tiny_model, tiny_reads):
    # a learning test: a bound that holds on any CPU (one machine's rounding memorizes all eight
    # samples exactly, another's misses a character); the reads are of best.pt, file by file
    history = tiny_model["history"]
    assert history[0]["dev_cer"] > 0.5
    assert tiny_model["best_cer"] <= 0.05
    assert all(math.isfinite(h["train_loss"]) for h in history)
    assert history[-1]["train_loss"] < history[0]["train_loss"] / 10
    texts = sample_texts()
    assert error_rates(list(texts.values()), [tiny_reads[k] for k in texts])["cer"] <= 0.05


def test_checkpoint_is_self_contained(tiny_model):
    exp = tiny_model["exp_dir"]
    assert {"best.pt", "last.pt", "config.yaml", "train.log", "vocab.txt"} <= {p.name for p in exp.iterdir()}
    ckpt = load_checkpoint(tiny_model["model"])
    recipe, vocab, model = model_from_checkpoint(ckpt)
    assert vocab.units == (exp / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert recipe.model.hidden == 96
    assert model.cmvn_std.min() > 0 and model.cmvn_mean.abs().sum() > 0  # CMVN travels with it
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, ckpt["model"][name])
    assert not list(exp.glob("*.tmp"))  # atomic writes leave no temporaries


def test_resume_continues_to_the_same_weights(tmp_path):
    straight = tmp_path / "straight"
    train(load_recipe(DEMO, tiny_overrides(straight, epochs=4)))
    split = tmp_path / "split"
    train(load_recipe(DEMO, tiny_overrides(split, epochs=2)))
    with pytest.raises(UserError, match="--resume"):
        train(load_recipe(DEMO, tiny_overrides(split, epochs=4)))
    summary = train(load_recipe(DEMO, tiny_overrides(split, epochs=4)), resume=True)
    assert [h["epoch"] for h in summary["history"]] == [1, 2, 3, 4]
    a = load_checkpoint(straight / "last.pt")
    b = load_checkpoint(split / "last.pt")
    for name in a["model"]:
        assert torch.allclose(a["model"][name], b["model"][name], atol=1e-6), name
    assert a["train_state"]["history"][-1]["dev_cer"] == b["train_state"]["history"][-1]["dev_cer"]


def test_resume_without_a_run_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="last.pt not found"):
        train(load_recipe(DEMO, tiny_overrides(tmp_path / "none", epochs=1)), resume=True)


def test_too_short_utterances_are_skipped(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    lines = (SAMPLES / "wav.scp").read_text().splitlines()[:3]
    (data / "wav.scp").write_text("".join(f"{l.split()[0]} {SAMPLES / l.split()[1]}\n" for l in lines))
    texts = sample_texts()
    ids = [l.split()[0] for l in lines]
    # the last utterance gets a transcript far longer than its audio can carry under CTC
    rows = [f"{i} {texts[i]}" for i in ids[:2]] + [f"{ids[2]} {'一' * 400}"]
    (data / "text").write_text("\n".join(rows) + "\n", encoding="utf-8")
    summary = train(load_recipe(DEMO, tiny_overrides(tmp_path / "exp", epochs=1, data=data)))
    log = (tmp_path / "exp" / "train.log").read_text(encoding="utf-8")
    assert "train: 2 utterances" in log and "skipped: 1 too short for transcript" in log
    assert math.isfinite(summary["history"][0]["train_loss"])
