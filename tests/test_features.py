import pytest
import torch
import torchaudio.compliance.kaldi as kaldi

from asr.audio import load_audio
from asr.features import CMVNAccumulator, FeatureConfig, add_deltas, compute_features, mfcc, num_frames
from conftest import SAMPLES, TEST_DATA

SPEECH = [TEST_DATA / "human_haobangbang.wav", SAMPLES / "test-belinda-00054.wav"]


@pytest.mark.parametrize("path", SPEECH, ids=["human", "synthetic"])
@pytest.mark.parametrize("n_mels,n_mfcc", [(23, 13), (40, 40)])
def test_mfcc_matches_torchaudio_kaldi(path, n_mels, n_mfcc):
    wave = load_audio(path)
    ours = mfcc(wave, FeatureConfig(n_mels=n_mels, n_mfcc=n_mfcc))
    ref = kaldi.mfcc(wave[None] * 32768, num_mel_bins=n_mels, num_ceps=n_mfcc, snip_edges=False, dither=0.0)
    assert ours.shape == ref.shape
    # Same float32 arithmetic up to summation order: agreement to 1e-3 absolute on values of ~10-100.
    assert torch.allclose(ours, ref, atol=1e-3, rtol=1e-5), (ours - ref).abs().max()


@pytest.mark.parametrize("seconds", [1.0, 2.5, 0.3, 7.01])
def test_one_hundred_frames_per_second(seconds):
    n = int(seconds * 16000)
    assert num_frames(n) == round(seconds * 100)
    assert mfcc(torch.randn(n) * 0.1).shape == (round(seconds * 100), 13)


def test_shorter_than_one_frame_is_rejected():
    with pytest.raises(ValueError, match="shorter than one"):
        mfcc(torch.zeros(399))


def test_deltas_shape_and_values():
    feats = torch.arange(20.0)[:, None].repeat(1, 13)  # a ramp: delta 1 inside, 0 delta-delta
    out = add_deltas(feats)
    assert out.shape == (20, 39)
    assert torch.allclose(out[4:-4, 13:26], torch.ones(12, 13))
    assert torch.allclose(out[6:-6, 26:], torch.zeros(8, 13), atol=1e-6)
    assert compute_features(torch.randn(16000) * 0.1).shape == (100, 39)


@pytest.mark.parametrize("frames", [1, 2, 3, 5, 301])
def test_deltas_equal_torchaudios_compute_deltas(frames):
    import torchaudio.functional as AF

    feats = torch.randn(frames, 13)
    d1 = AF.compute_deltas(feats.T, win_length=5)
    expected = torch.cat([feats.T, d1, AF.compute_deltas(d1, win_length=5)]).T
    assert torch.allclose(add_deltas(feats), expected, atol=1e-5)


def test_cmvn_statistics():
    a, b = torch.randn(50, 4) * 3 + 1, torch.randn(70, 4) * 3 + 1
    acc = CMVNAccumulator(4)
    acc.add(a)
    acc.add(b)
    mean, std = acc.stats()
    both = torch.cat([a, b])
    assert torch.allclose(mean, both.mean(0), atol=1e-5)
    assert torch.allclose(std, both.std(0, unbiased=False), atol=1e-4)
