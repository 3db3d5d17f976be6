"""The benchmarks' shared helpers: timing, peak memory, the checkout measured, tables; and that
bench/train.py times asr.train's own step."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

import asr.train
import bench.train
from asr.config import load_recipe
from asr.runtime import Dist
from asr.trainstate import Run
from asr.vocab import Vocab
from bench.common import checkout, peak_rss_mib, run_asr, table, timed
from conftest import ROOT


def test_timed_calls_warmup_then_repeat_and_keeps_the_last_result():
    calls = []
    t = timed(lambda: calls.append(len(calls)) or len(calls), repeat=4, warmup=2)
    assert len(calls) == 6
    assert len(t.seconds) == 4 and all(s > 0 for s in t.seconds)
    assert t.result == 6
    assert t.best == min(t.seconds) <= t.median <= max(t.seconds)
    assert t.best <= t.mean <= max(t.seconds)


def test_peak_rss_of_a_child_sees_its_allocation_and_not_this_process_s():
    def child(code: str) -> tuple[float, subprocess.Popen]:
        proc = subprocess.Popen([sys.executable, "-c", f"import time; {code}; time.sleep(0.2)"])
        return peak_rss_mib(proc, wait=True), proc

    idle, _ = child("pass")
    busy, proc = child("x = b'1' * (200 << 20)")  # written, so resident
    assert proc.returncode == 0  # waited for by the helper
    assert busy - idle > 150
    assert idle < 100 < peak_rss_mib()  # this process imported torch; its child did not


def test_checkout_refuses_a_folder_that_is_not_one(tmp_path):
    with pytest.raises(SystemExit, match="is not an asr checkout"):
        checkout(tmp_path)
    assert checkout() == ROOT


def test_another_checkout_s_asr_is_the_one_that_runs(tmp_path):
    (tmp_path / "asr").mkdir()
    (tmp_path / "asr" / "__init__.py").write_text("")
    (tmp_path / "asr" / "__main__.py").write_text("import sys; print('other', *sys.argv[1:])")
    assert run_asr(checkout(tmp_path), "lm", "tune") == "other lm tune\n"
    with pytest.raises(RuntimeError, match="already imported"):  # this process's asr is this checkout's
        checkout(tmp_path, import_here=True)
    assert str(tmp_path) not in sys.path


def test_table():
    assert table("a | b", [(1, "x"), (2, "y")]) == ["| a | b |", "|---|---|", "| 1 | x |", "| 2 | y |"]


def test_bench_train_times_asr_train_s_own_step(monkeypatch):
    calls = []

    def counted(*args):
        calls.append(1)
        return asr.train.train_step(*args)

    monkeypatch.setattr(bench.train, "train_step", counted)
    recipe = load_recipe(ROOT / "recipes" / "demo.yaml", ["model.hidden=8", "model.layers=1"])
    vocab = Vocab(["<blank>", "<unk>", "a", "b", "c"])
    items = bench.train.synthetic_features(4, recipe.features.dim, len(vocab))
    run = Run(recipe, Dist(), torch.device("cpu"), vocab, rank_seed=0, dtype=None)
    assert bench.train.throughput(items, [[0, 1], [2, 3]], run, steps=2) > 0
    assert len(calls) == 5  # 3 warm-up steps, then the 2 timed
