"""Fine-tuning: a model trained on one corpus starts another from its weights (train.init)."""

from __future__ import annotations

import pytest
import torch

from asr.checkpoint import load_checkpoint, model_from_checkpoint
from asr.config import load_recipe
from asr.datadir import Utterance, read_data_dir, write_data_dir
from asr.errors import UserError
from asr.evaluate import error_rates
from asr.recognizer import Recognizer
from asr.train import train
from conftest import ROOT, SAMPLES, tiny_overrides

DEMO = ROOT / "recipes" / "demo.yaml"


def corpus_b(tmp_path):
    """The samples read as if 广州 were written 穗城: two characters model A never saw."""
    utts = [Utterance(u.id, u.path.resolve(), u.text.replace("广州", "穗城")) for u in read_data_dir(SAMPLES)]
    write_data_dir(tmp_path / "b", utts)
    return tmp_path / "b", utts


def test_fine_tuning_extends_the_vocabulary_and_learns_new_characters(tiny_model, tmp_path, record_property):
    data_b, utts = corpus_b(tmp_path)
    exp = tmp_path / "exp"
    sets = tiny_overrides(exp, epochs=30, data=data_b) + [f"train.init={tiny_model['model']}"]
    train(load_recipe(DEMO, sets))
    _, vocab_a, model_a = model_from_checkpoint(load_checkpoint(tiny_model["model"]))
    _, vocab_b, model_b = model_from_checkpoint(load_checkpoint(exp / "best.pt"))
    assert vocab_b.units[: len(vocab_a)] == vocab_a.units  # A's units keep their indices
    assert sorted(vocab_b.units[len(vocab_a) :]) == sorted("穗城")
    assert torch.equal(model_b.cmvn_mean, model_a.cmvn_mean)  # init_cmvn: keep
    assert (exp / "vocab.txt").read_text(encoding="utf-8").splitlines() == vocab_b.units
    assert (exp / "config.yaml").is_file()
    rec = Recognizer(exp / "best.pt")
    hyps = [rec.transcribe(u.path).text for u in utts]
    said = "".join(h for h, u in zip(hyps, utts) if "穗城" in u.text)
    record_property("cer", error_rates([u.text for u in utts], hyps)["cer"])
    record_property("new_chars_heard", sum(said.count(c) for c in "穗城"))
    assert "穗" in said and "城" in said, hyps
    assert "广" not in said and "州" not in said, hyps
    assert error_rates([u.text for u in utts], hyps)["cer"] < 0.25, hyps


def test_new_output_rows_start_small_and_old_outputs_are_kept(tiny_model, tmp_path):
    from asr.checkpoint import init_from
    from asr.model import CTCModel

    ckpt = load_checkpoint(tiny_model["model"])
    recipe, vocab_a, model_a = model_from_checkpoint(ckpt)
    vocab_b = vocab_a.extend(["穗城"])
    model_b = CTCModel(recipe.features.dim, len(vocab_b), recipe.model)
    assert init_from(model_b, ckpt, recipe, vocab_b, "a.pt") == 2
    model_b.eval()
    feats, lens = torch.randn(1, 200, recipe.features.dim), torch.tensor([200])
    with torch.no_grad():
        la, _ = model_a(feats, lens)
        lb, _ = model_b(feats, lens)
    # the old units' logits are unchanged: their log-probs differ only by the new units' share
    shift = (lb[..., : len(vocab_a)] - la).amax(-1) - (lb[..., : len(vocab_a)] - la).amin(-1)
    assert shift.max() < 1e-4
    assert model_b.output.weight[len(vocab_a) :].abs().max() < 0.1


def test_fine_tuning_another_architecture_is_a_clear_error(tiny_model, tmp_path):
    sets = tiny_overrides(tmp_path / "exp", epochs=1) + [f"train.init={tiny_model['model']}", "model.hidden=64"]
    with pytest.raises(UserError, match=r"model.hidden=96 \(this recipe: \d+\).*: -s model.hidden=96"):
        train(load_recipe(DEMO, sets))
    # every difference in one message, so that one try fixes them all
    with pytest.raises(UserError) as caught:
        train(load_recipe(DEMO, [*sets, "features.n_mfcc=20"]))
    assert "-s model.hidden=96" in str(caught.value) and "-s features.n_mfcc=13" in str(caught.value)


@pytest.mark.parametrize("half", ["train.freeze_layers=1", "train.freeze_epochs=2"])
def test_freezing_layers_without_epochs_or_epochs_without_layers_is_a_clear_error(half):
    with pytest.raises(UserError, match="set both, or neither"):
        load_recipe(DEMO, [half])


def test_frozen_layers_keep_their_weights(tiny_model, tmp_path):
    data_b, _ = corpus_b(tmp_path)
    exp = tmp_path / "exp"
    sets = tiny_overrides(exp, epochs=1, data=data_b) + [
        f"train.init={tiny_model['model']}",
        "train.freeze_layers=1",
        "train.freeze_epochs=1",
    ]
    train(load_recipe(DEMO, sets))
    a = load_checkpoint(tiny_model["model"])["model"]
    b = load_checkpoint(exp / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a if k.startswith("layers.0."))
    assert not all(torch.equal(a[k], b[k]) for k in a if k.startswith("layers.1."))
