"""Training at scale: bucketing, augmentation, caches, DDP, exact resume after SIGKILL, guards."""

import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch

from asr.augment import AugmentConfig
from asr.checkpoint import load_checkpoint
from asr.config import load_recipe
from asr.data import BucketSampler, FeatureDataset
from asr.datadir import read_data_dir
from asr.features import FeatureConfig
from asr.model import CTCModel
from asr.train import train
from conftest import ROOT, SAMPLES, run_asr, tiny_overrides

DEMO = ROOT / "recipes" / "demo.yaml"


@pytest.mark.parametrize("max_frames,max_utts,multiple", [(3000, 0, 1), (1500, 4, 1), (0, 3, 1), (6000, 0, 4)])
def test_bucketing_budget_and_coverage(max_frames, max_utts, multiple):
    rng = random.Random(0)
    lengths = [rng.randint(30, 1400) for _ in range(500)]
    sampler = BucketSampler(lengths, max_frames=max_frames, max_utts=max_utts, seed=1, multiple=multiple)
    orders = []
    for epoch in range(3):
        sampler.set_epoch(epoch)
        batches = [[i for _, i in b] for b in sampler]
        assert sorted(i for b in batches for i in b) == list(range(500))  # each exactly once
        for b in batches:
            if max_frames:
                assert len(b) * max(lengths[i] for i in b) <= max_frames
            if max_utts:
                assert len(b) <= max_utts
        if multiple > 1:  # all but a few batches (tails that could not grow) are multiples
            assert sum(len(b) % multiple == 0 for b in batches) >= 0.9 * len(batches)
        orders.append(batches)
    assert orders[0] != orders[1]  # reshuffled every epoch


def test_bucketing_resume_position_and_ranks():
    lengths = list(range(100, 1100, 10))
    sampler = BucketSampler(lengths, max_frames=2000, max_utts=0, seed=3)
    sampler.set_epoch(2)
    full = list(sampler)
    sampler.set_epoch(2, start=5)
    assert list(sampler) == full[5:]
    ranks = [BucketSampler(lengths, max_frames=2000, max_utts=0, seed=3, rank=r, world=2) for r in (0, 1)]
    for r in ranks:
        r.set_epoch(2)
    a, b = list(ranks[0]), list(ranks[1])
    assert len(a) == len(b)
    assert {i for batch in a + b for _, i in batch} == set(range(len(lengths)))


def test_augmentation_is_a_no_op_in_eval():
    # dev/test datasets are built without augmentation: the same features each time
    utts = read_data_dir(SAMPLES)[:2]
    clean = FeatureDataset(utts, FeatureConfig(), None)
    noisy = FeatureDataset(utts, FeatureConfig(), None, augment=AugmentConfig(speeds=(0.9, 1.1), noise_prob=1.0))
    masked = FeatureDataset(utts, FeatureConfig(), None, cache=True, augment=AugmentConfig(freq_masks=2, time_masks=2))
    assert torch.equal(clean[(0, 0)]["feats"], clean[(1, 0)]["feats"])
    assert noisy[(0, 0)]["feats"].shape != clean[(0, 0)]["feats"].shape
    assert torch.equal(noisy[(4, 1)]["feats"], noisy[(4, 1)]["feats"])  # seeded by (epoch, utterance)
    assert masked[(0, 0)]["feats"].shape == clean[(0, 0)]["feats"].shape
    assert not torch.equal(masked[(0, 0)]["feats"], clean[(0, 0)]["feats"])
    assert torch.equal(masked.features(0), clean.features(0))  # the cache holds clean log-mels


def test_feature_cache_on_disk(tmp_path):
    utts = read_data_dir(SAMPLES)[:2]
    first = FeatureDataset(utts, FeatureConfig(), None, cache_dir=tmp_path)
    feats = first.features(0)
    files = list(tmp_path.rglob("*.pt"))
    assert len(files) == 1
    second = FeatureDataset(utts, FeatureConfig(), None, cache_dir=tmp_path)
    assert torch.equal(second.disk.get(utts[0]), first.log_mel(0))  # the cache holds log mel energies
    assert torch.equal(second.features(0), feats)
    other = FeatureDataset(utts, FeatureConfig(n_mfcc=20, n_mels=40), None, cache_dir=tmp_path)
    assert other.disk.get(utts[0]) is None  # other frontend settings: a separate cache
    assert other.features(0).shape[1] == 60


def test_nonfinite_guard_skips_an_injected_nan(tmp_path, monkeypatch):
    forward = CTCModel.forward_inter  # what a training step calls (TrainingView)
    calls = {"n": 0}

    def poisoned(self, feats, lens):
        calls["n"] += 1
        log_probs, out_lens, inter = forward(self, feats, lens)
        if self.training and calls["n"] == 2:
            log_probs = log_probs * float("nan")
        return log_probs, out_lens, inter

    monkeypatch.setattr(CTCModel, "forward_inter", poisoned)
    summary = train(load_recipe(DEMO, tiny_overrides(tmp_path / "exp", epochs=1)))
    assert summary["history"][0]["skipped_nonfinite"] == 1
    weights = load_checkpoint(tmp_path / "exp" / "last.pt")["model"]
    assert all(torch.isfinite(w).all() for w in weights.values() if w.is_floating_point())
    assert "1 non-finite steps skipped" in (tmp_path / "exp" / "train.log").read_text()


def test_metrics_plot_averaging_and_early_stop(tmp_path):
    exp = tmp_path / "exp"
    sets = tiny_overrides(exp, epochs=6) + ["train.average_last=2", "train.early_stop_patience=1", "train.lr=1e-12"]
    summary = train(load_recipe(DEMO, sets))
    assert (
        len(summary["history"]) == 2
    )  # lr 1e-12 moves no float32 weight: no improvement after epoch 1, stop after epoch 2
    assert (exp / "avg.pt").is_file() and load_checkpoint(exp / "avg.pt")["train_state"]["averaged"] == [
        "epoch1.pt",
        "epoch2.pt",
    ]
    header = (exp / "metrics.csv").read_text().splitlines()[0]
    assert "dev_cer" in header and "train_loss" in header
    assert list((exp / "tensorboard").iterdir())
    res = run_asr("plot", exp)
    assert res.returncode == 0, res.stderr
    png = exp / "curves.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _weights(path):
    return load_checkpoint(path)["model"]


def test_sigkill_mid_epoch_then_resume_gives_the_same_weights(tmp_path):
    args = [
        "--set",
        "train.save_every_steps=1",
        "--set",
        "model.dropout=0.3",
        "--set",
        "augment.freq_masks=1",
        "--set",
        "augment.time_masks=1",
    ]
    sets = lambda exp: [a for s in tiny_overrides(exp, epochs=3) for a in ("--set", s)] + args  # noqa: E731
    straight = tmp_path / "straight"
    res = run_asr("train", DEMO, *sets(straight))
    assert res.returncode == 0, res.stderr
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "asr", "train", str(DEMO), *sets(killed)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    step = 0
    while time.time() < deadline and proc.poll() is None:
        try:
            state = load_checkpoint(killed / "last.pt")["train_state"]
            step = state["step"]
        except Exception:
            state = None
        if state and state["step"] >= 6 and state["batch"] > 0:  # mid-epoch (4 batches per epoch)
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert 0 < step < 12
    res = run_asr("train", DEMO, "--resume", *sets(killed))
    assert res.returncode == 0, res.stderr
    a, b = _weights(straight / "last.pt"), _weights(killed / "last.pt")
    for name in a:
        assert torch.equal(a[name], b[name]), name


def ddp_env(tmp_path) -> dict[str, str]:
    """The environment of a torchrun test: one thread per process, and TMPDIR in the test's folder
    (torchrun leaves a torchelastic_* folder there on every run)."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "TMPDIR": str(tmp_path)}


def test_ddp_two_processes_match_one(tmp_path):
    # one global batch of 4 utterances: a single process takes it whole, two ranks take 2 each;
    # with gradients averaged across ranks, one Adam step must give the same weights
    data = tmp_path / "four"
    data.mkdir()
    lines = (SAMPLES / "wav.scp").read_text().splitlines()[:4]
    (data / "wav.scp").write_text("".join(f"{l.split()[0]} {SAMPLES / l.split()[1]}\n" for l in lines))
    ids = {l.split()[0] for l in lines}
    (data / "text").write_text(
        "".join(l + "\n" for l in (SAMPLES / "text").read_text(encoding="utf-8").splitlines() if l.split()[0] in ids),
        encoding="utf-8",
    )
    common = tiny_overrides(tmp_path / "x", epochs=1, data=data)[1:] + ["model.dropout=0.0", "train.threads=1"]
    single = [a for s in [f"exp_dir={tmp_path / 'one'}", *common, "train.batch_size=4"] for a in ("--set", s)]
    double = [a for s in [f"exp_dir={tmp_path / 'two'}", *common, "train.batch_size=2"] for a in ("--set", s)]
    res = run_asr("train", DEMO, *single)
    assert res.returncode == 0, res.stderr
    env = ddp_env(tmp_path)
    res = run_asr("train", DEMO, "--nproc", "2", *double, env=env, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "processes: 2" in (tmp_path / "two" / "train.log").read_text()
    one, two = _weights(tmp_path / "one" / "last.pt"), _weights(tmp_path / "two" / "last.pt")
    # Adam's first step moves every weight by lr * g / (|g| + eps), about lr (0.01) in the sign of
    # its gradient; a rank training on its own half-batch would flip many of those signs (a 0.02
    # difference). Summation order differs, and where |g| is within a few eps that order moves
    # the step by a visible fraction (1e-4 was seen): allow 10% of a step.
    for name in one:
        assert torch.allclose(one[name], two[name], atol=1e-3), (name, (one[name] - two[name]).abs().max())


def _data_with_a_nan_file(root):
    """Three sample utterances and one whose header reads fine but whose samples are NaN: it
    passes the header-based filter and fails when loaded, inside a DataLoader worker."""
    root.mkdir()
    lines = (SAMPLES / "wav.scp").read_text().splitlines()[:3]
    texts = dict(l.split(" ", 1) for l in (SAMPLES / "text").read_text(encoding="utf-8").splitlines())
    nan = root / "nan.wav"
    import numpy as np
    import soundfile as sf

    sf.write(nan, np.full(48000, np.nan, np.float32), 16000, subtype="FLOAT")
    scp = [f"{l.split()[0]} {SAMPLES / l.split()[1]}" for l in lines] + [f"zz-nan {nan}"]
    (root / "wav.scp").write_text("\n".join(scp) + "\n")
    (root / "text").write_text(
        "".join(f"{l.split()[0]} {texts[l.split()[0]]}\n" for l in lines) + "zz-nan 好棒\n", encoding="utf-8"
    )
    return root


@pytest.mark.parametrize("nproc", [1, 2])
def test_a_batch_of_unreadable_files_is_skipped_and_counted(tmp_path, nproc):
    # batches of one: the NaN file's batch is empty; with two ranks, the other rank must not
    # wait for it in the gradient all-reduce (it did: the run hung)
    data = _data_with_a_nan_file(tmp_path / "data")
    sets = tiny_overrides(tmp_path / "exp", epochs=2, data=data) + [
        "train.batch_size=1",
        "train.cache_features=false",
        "train.num_workers=1",
        "train.threads=1",
    ]
    env = ddp_env(tmp_path)
    res = run_asr("train", DEMO, "--nproc", str(nproc), *[a for s in sets for a in ("--set", s)], env=env, timeout=240)
    assert res.returncode == 0, res.stdout + res.stderr
    log = (tmp_path / "exp" / "train.log").read_text(encoding="utf-8")
    assert log.count("skipped 1 audio file(s) that failed to load") == 2, (
        log
    )  # once per epoch, counted across workers and ranks
    if nproc == 1:  # named once a run, with the reason (on the rank that read it: here the only one)
        named = [line for line in log.splitlines() if "skipped an audio file that failed to load" in line]
        assert len(named) == 1 and "nan.wav" in named[0] and "NaN" in named[0], log


def test_ddp_ranks_keep_their_own_random_streams_across_resume(tmp_path):
    # dropout and SpecAugment masks draw from each rank's own stream; last.pt holds one state
    # per rank and each rank restores its own, so a resumed 2-process run equals an uninterrupted one
    extra = ["model.dropout=0.3", "augment.freq_masks=1", "augment.time_masks=1", "train.threads=1"]
    env = ddp_env(tmp_path)

    def run(exp, epochs, *flags):
        sets = tiny_overrides(exp, epochs=epochs) + extra
        res = run_asr(
            "train", DEMO, "--nproc", "2", *flags, *[a for s in sets for a in ("--set", s)], env=env, timeout=300
        )
        assert res.returncode == 0, res.stdout + res.stderr

    run(tmp_path / "straight", 2)
    run(tmp_path / "split", 1)
    states = load_checkpoint(tmp_path / "split" / "last.pt")["train_state"]["rng"]
    assert len(states) == 2 and not torch.equal(states[0]["torch"], states[1]["torch"])
    run(tmp_path / "split", 2, "--resume")
    a, b = _weights(tmp_path / "straight" / "last.pt"), _weights(tmp_path / "split" / "last.pt")
    for name in a:
        assert torch.allclose(a[name], b[name], atol=1e-6), name


def test_sortagrad_orders_the_first_epoch_only():
    rng = random.Random(0)
    lengths = [rng.randint(30, 1400) for _ in range(300)]
    sampler = BucketSampler(lengths, max_frames=3000, max_utts=0, seed=1, sortagrad=True)

    def rising() -> float:  # correlation of a batch's position with its longest utterance
        longest = torch.tensor([float(max(lengths[i] for i in b)) for b in sampler.batches()])
        return float(torch.corrcoef(torch.stack([torch.arange(len(longest), dtype=torch.float), longest]))[0, 1])

    assert rising() > 0.95  # sorted, up to the few-percent length jitter
    sampler.set_epoch(1)
    assert abs(rising()) < 0.5
