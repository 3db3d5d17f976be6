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
