"""Augmentation steps: shape and length contracts, reproducibility from the seed, independence of
the steps' random streams, SpecAugment on log-mel bands, VTLP, and strict settings."""

import dataclasses

import numpy as np
import pytest
import torch

from asr.audio import load_audio
from asr.augment import (
    AugmentConfig,
    Augmenter,
    Babble,
    Equalizer,
    Gain,
    Narrowband,
    Noise,
    Pitch,
    Reverb,
    Speed,
    spec_augment,
)
from asr.config import load_recipe
from asr.data import FeatureDataset
from asr.datadir import read_data_dir
from asr.errors import UserError
from asr.features import FeatureConfig, compute_features, log_mel
from conftest import ROOT, SAMPLES

UTTS = read_data_dir(SAMPLES)
PATHS = [u.path for u in UTTS]
WAVE = load_audio(PATHS[0]).numpy()

STEPS = {
    "pitch": Pitch(1.0, (-3.0, 3.0)),
    "reverb": Reverb(1.0, (0.3, 0.6), bank=50),
    "eq": Equalizer(1.0, 10.0),
    "babble": Babble(1.0, (5.0, 10.0), (1, 3), PATHS[1:]),
    "noise": Noise(1.0, (5.0, 10.0)),
    "narrowband": Narrowband(1.0),
    "gain": Gain(1.0, (-20.0, 6.0)),
}


@pytest.mark.parametrize("name", sorted(STEPS))
def test_waveform_steps_keep_length_and_are_seeded(name):
    step = STEPS[name]
    out = step(WAVE, np.random.default_rng(1))
    assert out.dtype == np.float32 and out.shape == WAVE.shape and np.isfinite(out).all()
    assert np.abs(out).max() <= 1.0 + 1e-6
    assert not np.allclose(out, WAVE, atol=1e-4)  # it did something
    assert np.array_equal(out, step(WAVE, np.random.default_rng(1)))  # reproducible from the seed
    if name != "narrowband":  # the one step with nothing to draw once it applies
        assert not np.array_equal(out, step(WAVE, np.random.default_rng(2)))  # drawn afresh


def test_steps_at_probability_zero_are_the_identity():
    for step in [Pitch(0.0, (-3, 3)), Reverb(0.0, (0.3, 0.6)), Equalizer(0.0, 10.0), Noise(0.0, (5, 10))]:
        assert step(WAVE, np.random.default_rng(0)) is WAVE


def test_speed_changes_length_by_its_factor():
    out = Speed((0.9,))(WAVE, np.random.default_rng(0))
    assert abs(out.shape[0] - WAVE.shape[0] / 0.9) <= 2


def test_reverb_is_aligned_on_the_direct_path_and_keeps_the_level():
    out = STEPS["reverb"](WAVE, np.random.default_rng(3))
    rms = lambda x: float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    assert rms(out) == pytest.approx(rms(WAVE), rel=1e-3)
    # aligned on the direct path: a click comes out where it went in, followed by its echoes
    click = np.zeros(16000, np.float32)
    click[1000] = 0.5
    out = STEPS["reverb"](click, np.random.default_rng(3))
    assert int(np.argmax(np.abs(out))) == 1000 and np.abs(out[:990]).max() < 0.05 * np.abs(out).max()
    assert np.abs(out[1100:]).max() > 0  # the room's tail


def test_spec_augment_masks_log_mel_bands_and_frames():
    logmel = log_mel(torch.from_numpy(WAVE))
    cfg = AugmentConfig(freq_masks=2, freq_width=4, time_masks=2, time_width=20, time_ratio=0.2)
    out = spec_augment(logmel, cfg, np.random.default_rng(0))
    assert out.shape == logmel.shape and not torch.equal(out, logmel)
    changed = out != logmel
    constant_bands = [f for f in range(logmel.shape[1]) if changed[:, f].float().mean() > 0.5]
    assert 1 <= len(constant_bands) <= 8
    for f in constant_bands:  # a masked band carries no information: one value over time
        assert torch.allclose(out[:, f], logmel[:, f].mean().expand(logmel.shape[0]))
    masked_frames = (out == logmel.mean(0)).all(1).sum()
    assert masked_frames <= 0.2 * logmel.shape[0]
    assert torch.equal(out, spec_augment(logmel, cfg, np.random.default_rng(0)))


def test_vtlp_warps_the_filterbank_without_changing_shapes():
    wave = torch.from_numpy(WAVE)
    a, b = log_mel(wave), log_mel(wave, warp=1.1)
    assert a.shape == b.shape and not torch.allclose(a, b)
    assert torch.equal(log_mel(wave, warp=1.0), a)


def test_every_step_together_keeps_the_feature_contract():
    cfg = AugmentConfig(
        speeds=(0.9, 1.0, 1.1),
        pitch_prob=0.5,
        reverb_prob=0.5,
        eq_prob=0.5,
        babble_prob=0.5,
        noise_prob=0.5,
        narrowband_prob=0.5,
        gain_prob=0.5,
        vtlp_prob=0.5,
        freq_masks=2,
        time_masks=2,
    )
    feat_cfg = FeatureConfig(mel_floor=1e5)
    aug = Augmenter(cfg, feat_cfg, seed=7, paths=PATHS)
    wave = torch.from_numpy(WAVE)
    for epoch in range(4):
        feats = aug.features(wave, epoch, 0)
        n = aug.waveform(wave, epoch, 0).shape[0]
        assert feats.shape == (round(n / 160), feat_cfg.dim) and torch.isfinite(feats).all()
    assert torch.equal(aug.features(wave, 2, 0), Augmenter(cfg, feat_cfg, 7, PATHS).features(wave, 2, 0))
    assert not torch.equal(aug.features(wave, 2, 0), Augmenter(cfg, feat_cfg, 8, PATHS).features(wave, 2, 0))


def test_switching_a_step_off_leaves_the_others_draws_alone():
    # each step has its own random stream: ablations compare the same speed draws with and without reverb
    speed = Augmenter(AugmentConfig(speeds=(0.9, 1.0, 1.1)), FeatureConfig(), seed=0)
    both = Augmenter(AugmentConfig(speeds=(0.9, 1.0, 1.1), gain_prob=1.0), FeatureConfig(), seed=0)
    wave = torch.from_numpy(WAVE)
    lengths = [(speed.waveform(wave, e, 0).shape[0], both.waveform(wave, e, 0).shape[0]) for e in range(6)]
    assert all(a == b for a, b in lengths) and len({a for a, _ in lengths}) > 1


def test_dataset_items_follow_the_epoch_and_the_seed():
    cfg = AugmentConfig(speeds=(0.9, 1.0, 1.1), vtlp_prob=1.0, reverb_prob=0.5)
    data = lambda seed: FeatureDataset(UTTS, FeatureConfig(), None, augment=cfg, seed=seed)
    a, b = data(0), data(0)
    assert torch.equal(a[(3, 2)]["feats"], b[(3, 2)]["feats"])
    assert not torch.equal(a[(3, 2)]["feats"], a[(4, 2)]["feats"])
    assert not torch.equal(a[(3, 2)]["feats"], data(1)[(3, 2)]["feats"])
    assert torch.equal(a.features(2), compute_features(load_audio(UTTS[2].path)))  # CMVN sees clean audio
    late = FeatureDataset(UTTS, FeatureConfig(), None, augment=dataclasses.replace(cfg, start_epoch=2))
    assert torch.equal(late[(1, 2)]["feats"], a.features(2))  # clean epochs first
    assert torch.equal(late[(3, 2)]["feats"], a[(3, 2)]["feats"])


def test_speed_perturbation_alone_is_cached_and_gives_the_features_computed_on_the_fly():
    cfg = AugmentConfig(speeds=(0.9, 1.0, 1.1), freq_masks=2, time_masks=2)
    assert cfg.speed_only and not dataclasses.replace(cfg, vtlp_prob=0.5).speed_only
    assert not dataclasses.replace(cfg, gain_prob=0.5).speed_only and not AugmentConfig().speed_only
    fly = FeatureDataset(UTTS[:3], FeatureConfig(), None, augment=cfg, seed=5)
    cached = FeatureDataset(UTTS[:3], FeatureConfig(), None, cache=True, augment=cfg, seed=5)
    keys = [(epoch, i) for epoch in range(4) for i in range(3)]
    for key in keys * 2:  # the second round reads the caches
        assert torch.equal(cached[key]["feats"], fly[key]["feats"])
    assert cached.versions is not None and fly.versions is None
    speeds = {cached.augmenter.speed_factor(e, i) for e, i in keys}
    assert speeds == {0.9, 1.0, 1.1}  # every version drawn, each computed once: 1.0 in the clean cache
    assert set(cached.versions) == {(i, s) for e, i in keys if (s := cached.augmenter.speed_factor(e, i)) != 1.0}


def test_unreadable_babble_source_is_skipped(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio")
    out = Babble(1.0, (5.0, 10.0), (1, 1), [bad])(WAVE, np.random.default_rng(0))
    assert np.array_equal(out, WAVE)


@pytest.mark.parametrize(
    "override,message",
    [
        ("augment.reverb_prob=1.5", "a probability in [0, 1]"),
        ("augment.pitch_semitones=[3, -3]", "expected [low, high]"),
        ("augment.speeds=[0, 1]", "positive factors"),
        ("features.utterance_norm=cepstral", "expected none, mean or mean_var"),
    ],
)
def test_bad_settings_are_one_line_errors(override, message):
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_recipe(ROOT / "recipes" / "demo.yaml", [override])


def test_utterance_normalization():
    wave = torch.from_numpy(WAVE)
    mean = compute_features(wave, FeatureConfig(utterance_norm="mean"))
    assert torch.allclose(mean.mean(0), torch.zeros(mean.shape[1]), atol=1e-4)
    mv = compute_features(wave, FeatureConfig(utterance_norm="mean_var"))
    assert torch.allclose(mv.std(0), torch.ones(mv.shape[1]), atol=1e-3)
    # a fixed channel gain is a constant offset of c0 in the log domain: mean normalization removes it
    loud = compute_features(wave * 0.25, FeatureConfig(utterance_norm="mean"))
    plain = compute_features(wave * 0.25)
    assert (loud - mean).abs().max() < 0.05 < (plain - compute_features(wave)).abs().max()
