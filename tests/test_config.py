import pytest

from asr.config import DataConfig, Recipe, from_dict, load_recipe, to_dict
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


@pytest.mark.parametrize("recipe", sorted((ROOT / "recipes").glob("*.yaml")), ids=lambda p: p.name)
def test_every_recipe_passes_the_checks(recipe):
    assert load_recipe(recipe).exp_dir


def test_the_defaults_pass_the_checks():
    assert Recipe(exp_dir="x", data=DataConfig(train="a", dev="b")).train.epochs >= 1


# One per kind of refusal, with what the message says besides the key: the allowed values.
REFUSED = [
    ("features.n_mels=0", "features.n_mels", "[4, 256]"),
    ("features.n_mels=127", "features.n_mels", "use at most 126"),  # its lowest bands would hold no FFT bin
    ("features.n_mfcc=30", "features.n_mfcc", "at most n_mels"),  # demo: 23 bands
    ("features.sample_rate=8000", "features.sample_rate", "resampled to 16 kHz"),
    ("features.high_freq=9000", "features.high_freq", "(-8000, 8000]"),
    ("features.cepstral_lifter=0", "features.cepstral_lifter", "> 0"),
    ("features.utterance_norm=cms", "features.utterance_norm", "none, mean or mean_var"),
    ("model.layers=0", "model.layers", ">= 1"),
    ("model.dropout=1.0", "model.dropout", "[0, 1)"),
    ("train.lr=-1", "train.lr", "> 0"),
    ("train.lr=.nan", "train.lr", "> 0"),
    ("train.lr=.inf", "train.lr", "> 0"),
    ("train.epochs=0", "train.epochs", ">= 1"),
    ("train.batch_size=-1", "train.batch_size", ">= 0"),
    ("train.lr_decay=1.5", "train.lr_decay", "(0, 1]"),
    ("train.seed=-1", "train.seed", "[0, 4294967295]"),
    ("train.log_every_steps=0", "train.log_every_steps", ">= 1"),
    ("train.device=tpu", "train.device", "auto, cpu, cuda or cuda:N"),
    ("train.amp=fp8", "train.amp", "auto, bf16, fp16 or off"),
    ("train.lr_over=steps", "train.lr_over", "epochs or budget"),
    ("augment.noise_prob=1.5", "augment.noise_prob", "[0, 1]"),
    ("augment.gain_db=[6, -20]", "augment.gain_db", "[low, high]"),
    ("augment.reverb_rt60=[0, 1]", "augment.reverb_rt60", "> 0"),
    ("augment.vtlp_warp=[0.1, 1.0]", "augment.vtlp_warp", "[0.5, 2]"),
    ("augment.time_ratio=2", "augment.time_ratio", "[0, 1]"),
    ("augment.freq_masks=-1", "augment.freq_masks", ">= 0"),
    ("decode.beam=0", "decode.beam", ">= 1"),
    ("decode.blank_skip=0.3", "decode.blank_skip", "(0.5, 1]"),
    ("decode.token_min_logp=1", "decode.token_min_logp", "<= 0"),
    ("slots.batch_size=0", "slots.batch_size", ">= 1"),
    ("slots.lr=0", "slots.lr", "> 0"),
    ("data.corpus=timit", "data.corpus", "aishell, librispeech or commonvoice"),
    # across sections
    ("features.low_freq=150", "augment.vtlp_prob", "features.low_freq below 100"),  # demo.yaml has VTLP on
    (["train.freeze_layers=4", "train.freeze_epochs=1"], "train.freeze_layers", "at most model.layers (3)"),
    ("train.inter_ctc_weight=1", "train.inter_ctc_weight", "[0, 1)"),
    ("train.cr_ctc_weight=-0.1", "train.cr_ctc_weight", "[0, 1)"),
    ("train.cr_ctc_time_masking=0.5", "train.cr_ctc_time_masking", ">= 1"),
    (["model.inter_ctc_layers=[3]", "train.inter_ctc_weight=0.3"], "model.inter_ctc_layers", "[1, 2] (below the top"),
    (["model.inter_ctc_layers=[1, 1]", "train.inter_ctc_weight=0.3"], "model.inter_ctc_layers", "each layer once"),
    ("train.inter_ctc_weight=0.3", "train.inter_ctc_weight", "set both"),
    ("model.inter_ctc_layers=[1]", "model.inter_ctc_layers", "set both"),
    (["train.cr_ctc_weight=0.2", "augment.time_masks=0", "augment.freq_masks=0"], "train.cr_ctc_weight", "SpecAugment"),
]


@pytest.mark.parametrize("overrides,key,allowed", REFUSED, ids=[str(r[0]) for r in REFUSED])
def test_values_out_of_range_are_refused_naming_the_key(overrides, key, allowed):
    overrides = [overrides] if isinstance(overrides, str) else overrides
    with pytest.raises(UserError) as info:
        load_recipe(ROOT / "recipes" / "demo.yaml", overrides)
    message = str(info.value)
    assert message.startswith(f"{key}:") and allowed in message and "\n" not in message, message


def test_a_recipe_file_and_a_model_files_recipe_are_checked_alike(tmp_path):
    bad = tmp_path / "r.yaml"
    bad.write_text("exp_dir: x\ndata: {train: a, dev: b}\nfeatures: {n_mels: 40, n_mfcc: 50}\n")
    with pytest.raises(
        UserError, match=r"^features.n_mfcc: expected an integer in \[1, 40\] \(at most n_mels\), got 50$"
    ):
        load_recipe(bad)
    stored = to_dict(load_recipe(ROOT / "recipes" / "demo.yaml"))  # what a model file holds
    assert from_dict(Recipe, stored) == load_recipe(ROOT / "recipes" / "demo.yaml")
    stored["train"]["lr"] = 0.0
    with pytest.raises(UserError, match=r"^train.lr: expected a number > 0, got 0$"):
        from_dict(Recipe, stored)


def test_off_reads_as_off_though_yaml_reads_it_as_false(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("exp_dir: x\ndata: {train: a, dev: b}\ntrain: {amp: off}\n")
    assert load_recipe(recipe).train.amp == "off"
    assert load_recipe(ROOT / "recipes" / "demo.yaml", ["train.amp=off"]).train.amp == "off"
    with pytest.raises(UserError, match="train.amp: expected auto, bf16, fp16 or off, got 'on'"):
        load_recipe(ROOT / "recipes" / "demo.yaml", ["train.amp=on"])
