"""Kaldi-style data dirs and batches."""

import torch

from asr.data import FeatureDataset, collate
from asr.datadir import read_data_dir
from asr.features import FeatureConfig
from conftest import SAMPLES


def test_tables_split_on_any_whitespace(tmp_path):
    wav = (SAMPLES / "test-f2-00114.wav").resolve()
    (tmp_path / "wav.scp").write_text(f"a\t{wav}\nb  \t {wav}\n\n")
    (tmp_path / "text").write_text("a\t广州 好棒棒\nb   好棒\n", encoding="utf-8")
    utts = read_data_dir(tmp_path)
    assert [(u.id, u.path, u.text) for u in utts] == [("a", wav, "广州 好棒棒"), ("b", wav, "好棒")]


def test_a_batch_whose_every_file_failed_is_empty(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    (tmp_path / "wav.scp").write_text(f"x {bad}\ny {tmp_path / 'missing.wav'}\n")
    (tmp_path / "text").write_text("x 好\ny 棒\n", encoding="utf-8")
    data = FeatureDataset(read_data_dir(tmp_path), FeatureConfig(), None)
    batch = collate([data[0], data[1]])
    assert batch.ids == [] and batch.feats.shape[0] == 0 and batch.feat_lens.numel() == 0
    assert set(batch.failed) == {"x", "y"} and "missing.wav" in batch.failed["y"]


def test_failed_files_are_counted_through_workers(tmp_path):
    good = (SAMPLES / "test-f2-00114.wav").resolve()
    (tmp_path / "wav.scp").write_text(f"g {good}\nx {tmp_path / 'missing.wav'}\n")
    (tmp_path / "text").write_text("g 广州好棒棒\nx 棒\n", encoding="utf-8")
    data = FeatureDataset(read_data_dir(tmp_path), FeatureConfig(), None)
    loader = torch.utils.data.DataLoader(data, batch_size=1, collate_fn=collate, num_workers=1)
    failed = {k: v for b in loader for k, v in b.failed.items()}
    assert list(failed) == ["x"]  # what a worker saw reaches the main process


def test_a_set_never_augmented_keeps_finished_features(tmp_path, monkeypatch):
    wav = (SAMPLES / "test-f2-00114.wav").resolve()
    (tmp_path / "wav.scp").write_text(f"a {wav}\n")
    (tmp_path / "text").write_text("a 广州好棒棒\n", encoding="utf-8")
    utts = read_data_dir(tmp_path)
    plain = FeatureDataset(utts, FeatureConfig(), None)[0]["feats"]
    cached = FeatureDataset(utts, FeatureConfig(), None, cache=True)
    reads = []
    monkeypatch.setattr(cached, "_finish", lambda logmel: reads.append(1) or FeatureDataset._finish(cached, logmel))
    first, second = cached[0]["feats"], cached[0]["feats"]
    assert torch.equal(first, plain) and second.data_ptr() == first.data_ptr()  # the same features, finished once
    assert reads == [1]
