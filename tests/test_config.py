import pytest

from asr.config import load_recipe
from asr.errors import UserError
from conftest import ROOT


def test_recipes_load():
    demo = load_recipe(ROOT / "recipes" / "demo.yaml")
    aishell = load_recipe(ROOT / "recipes" / "aishell.yaml")
    assert demo.data.train == "data/demo/train"
    assert aishell.data.corpus == "aishell" and aishell.data.corpus_dir == "data/aishell"
    assert aishell.model.layers >= 4 and aishell.model.hidden >= 320
    # the flagship recipe trains the way the GPUs want: buckets, SpecAugment, speed perturbation, AMP
    assert aishell.train.max_frames > 0 and aishell.train.batch_multiple == 8
    assert aishell.augment.freq_masks > 0 and aishell.augment.time_masks > 0
    assert set(aishell.augment.speeds) == {0.9, 1.0, 1.1}
    assert aishell.train.amp == "auto" and aishell.train.device == "auto"


def test_unknown_and_mistyped_keys_fail(tmp_path):
    bad = tmp_path / "r.yaml"
    bad.write_text("exp_dir: x\ndata: {train: a, dev: b}\nmodel: {hiden: 3}\n")
    with pytest.raises(UserError, match="unknown key.*hiden"):
        load_recipe(bad)
    bad.write_text("exp_dir: x\ndata: {train: a, dev: b}\ntrain: {epochs: many}\n")
    with pytest.raises(UserError, match="train.epochs: expected int"):
        load_recipe(bad)
    with pytest.raises(UserError, match="missing required key 'dev'"):
        bad.write_text("exp_dir: x\ndata: {train: a}\n")
        load_recipe(bad)


def test_overrides():
    r = load_recipe(ROOT / "recipes" / "demo.yaml", ["model.hidden=8", "train.lr=1e-4", "exp_dir=/tmp/x"])
    assert (r.model.hidden, r.train.lr, r.exp_dir) == (8, 1e-4, "/tmp/x")
    with pytest.raises(UserError, match="unknown key"):
        load_recipe(ROOT / "recipes" / "demo.yaml", ["model.hiden=8"])


def test_null_override_unsets_a_key(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("exp_dir: x\ndata: {train: a, dev: b, test: c}\ntrain: {lr_decay: 0.9, epochs: 5}\n")
    with pytest.raises(UserError, match="set lr_decay or lr_final, not both"):
        load_recipe(recipe, ["train.lr_final=0.1"])
    r = load_recipe(recipe, ["train.lr_decay=null", "train.lr_final=0.1", "data.test=null"])
    assert r.train.lr_decay == 1.0 and r.train.lr_final == 0.1 and r.data.test is None
    assert r.train.epoch_decay == pytest.approx(0.1 ** (1 / 4))
    assert load_recipe(recipe, ["train.seed=null"]).train.seed == 0  # a key the recipe never set: no change
    with pytest.raises(UserError, match="missing required key 'train'"):
        load_recipe(recipe, ["data.train=null"])
