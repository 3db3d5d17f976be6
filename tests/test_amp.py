"""Mixed precision on the CPU: bf16 autocast when asked, and `auto`'s probe, in training and
inference."""

import json
import math

import pytest
import torch

import asr.runtime
from asr.checkpoint import load_checkpoint
from asr.config import load_recipe
from asr.errors import UserError
from asr.model import TrainingView
from asr.recognizer import Recognizer
from asr.runtime import choose_amp
from asr.train import train
from conftest import ROOT, SAMPLES, run_asr, tiny_overrides

DEMO = ROOT / "recipes" / "demo.yaml"


def fake_step(seconds: dict, result: float = 1.0):
    """A step taking seconds[dtype] on the clock choose_amp reads (no sleeping), returning `result`."""
    clock = [0.0]

    def step(dtype):
        clock[0] += seconds[dtype]
        return result if dtype is not None else 1.0

    return step, lambda: clock[0]


@pytest.mark.parametrize(
    "bf16_seconds,result,chosen,words",
    [
        (0.1, 1.0, torch.bfloat16, "bf16 (step 0.1 s vs 0.3 s float32, medians of 3, avx512_bf16)"),
        (0.5, 1.0, None, "float32 (bf16 is not 10% faster here: step 0.5 s vs 0.3 s float32"),
        (0.28, 1.0, None, "float32 (bf16 is not 10% faster here: step 0.28 s vs 0.3 s float32"),
        (0.1, math.nan, None, "float32 (the bf16 step was not finite"),
    ],
)
def test_auto_takes_bf16_where_a_step_is_faster_and_finite(monkeypatch, bf16_seconds, result, chosen, words):
    monkeypatch.setattr(asr.runtime, "cpu_bf16_path", lambda: "avx512_bf16")
    step, clock = fake_step({None: 0.3, torch.bfloat16: bf16_seconds}, result)
    monkeypatch.setattr(asr.runtime.time, "perf_counter", clock)
    dtype, why = choose_amp(step)
    assert dtype == chosen and why.startswith(words), why


def test_auto_goes_by_the_median_not_one_timing(monkeypatch):
    """One slow float32 timing (a neighbour's burst) does not make bf16 look faster."""
    monkeypatch.setattr(asr.runtime, "cpu_bf16_path", lambda: "avx512_bf16")
    fp32 = iter([0.3, 0.3, 0.9, 0.3])  # warm-up, then 3 timed runs: one of them slowed down
    clock = [0.0]

    def step(dtype):
        clock[0] += 0.3 if dtype is not None else next(fp32)
        return 1.0

    monkeypatch.setattr(asr.runtime.time, "perf_counter", lambda: clock[0])
    dtype, why = choose_amp(step)
    assert dtype is None and "0.3 s vs 0.3 s float32, medians of 3" in why, why


def test_auto_stays_float32_on_a_cpu_without_a_bf16_path(monkeypatch):
    monkeypatch.setattr(asr.runtime, "cpu_bf16_path", lambda: None)
    dtype, why = choose_amp(lambda dtype: pytest.fail("no step is timed"))
    assert dtype is None and why.startswith("float32 (this CPU has no bf16 path: none of amx_bf16, avx512_bf16")


def test_the_cpu_flags_are_read_from_proc_cpuinfo():
    flags = open("/proc/cpuinfo").read().split()
    assert asr.runtime.cpu_bf16_path() == next((f for f in asr.runtime.BF16_FLAGS if f in flags), None)


def autocast_seen(monkeypatch) -> list[tuple[bool, torch.dtype]]:
    """(CPU autocast on, the log-probs' dtype) of every training forward call."""
    seen = []
    forward = TrainingView.forward

    def spy(self, feats, feat_lens):
        out = forward(self, feats, feat_lens)
        seen.append((torch.is_autocast_enabled("cpu"), out[0].dtype))
        return out

    monkeypatch.setattr(TrainingView, "forward", spy)
    return seen


def test_amp_bf16_trains_under_cpu_autocast(tmp_path, monkeypatch):
    seen = autocast_seen(monkeypatch)
    exp = tmp_path / "exp"
    summary = train(load_recipe(DEMO, tiny_overrides(exp, epochs=1) + ["train.amp=bf16"]))
    assert seen and all(on and dtype == torch.bfloat16 for on, dtype in seen)
    assert math.isfinite(summary["history"][0]["train_loss"])
    assert json.loads((exp / "summary.json").read_text())["amp"] == "bf16"
    assert "amp: bf16" in (exp / "train.log").read_text()


def test_auto_on_a_cpu_without_bf16_trains_in_float32_and_says_why(tmp_path, monkeypatch):
    monkeypatch.setattr(asr.runtime, "cpu_bf16_path", lambda: None)
    seen = autocast_seen(monkeypatch)
    exp = tmp_path / "exp"
    train(load_recipe(DEMO, tiny_overrides(exp, epochs=1) + ["train.amp=auto"]))
    assert seen and not any(on for on, _ in seen)
    assert "amp auto: float32 (this CPU has no bf16 path" in (exp / "train.log").read_text()
    assert load_checkpoint(exp / "last.pt")["train_state"]["amp"] == "off"


def test_auto_s_probe_does_not_train(tmp_path, monkeypatch):
    """A run that chose with the probe ends with the weights of a run told its choice."""
    monkeypatch.setattr(asr.runtime, "cpu_bf16_path", lambda: "avx512_bf16")
    sets = ["model.dropout=0.2"]  # the probe's dropout draws must be undone too
    train(load_recipe(DEMO, tiny_overrides(tmp_path / "auto", epochs=1) + sets + ["train.amp=auto"]))
    chosen = load_checkpoint(tmp_path / "auto" / "last.pt")["train_state"]["amp"]
    assert "amp auto: " in (tmp_path / "auto" / "train.log").read_text()
    train(load_recipe(DEMO, tiny_overrides(tmp_path / "told", epochs=1) + sets + [f"train.amp={chosen}"]))
    a, b = (load_checkpoint(tmp_path / run / "last.pt")["model"] for run in ("auto", "told"))
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    exp = tmp_path_factory.mktemp("amp") / "exp"
    train(load_recipe(DEMO, tiny_overrides(exp, epochs=1)))
    return exp / "best.pt"


def test_the_recognizer_runs_its_forward_pass_under_the_amp_asked(small_model, monkeypatch):
    feats = [torch.randn(200, 39), torch.randn(120, 39)]
    off, bf16 = Recognizer(small_model), Recognizer(small_model, amp="bf16")
    assert (off.amp, bf16.amp) == ("off", "bf16")
    seen = []
    forward = off.model.forward
    monkeypatch.setattr(bf16.model, "forward", lambda *a: seen.append(torch.is_autocast_enabled("cpu")) or forward(*a))
    lp16, lens16 = bf16.log_probs(feats)
    lp32, lens32 = off.log_probs(feats)
    assert seen == [True] and lp16.dtype == torch.float32 and torch.equal(lens16, lens32)
    assert (lp16 - lp32).abs().max() < 0.5  # bf16 rounding, not another model
    monkeypatch.setattr(asr.runtime, "cpu_bf16_path", lambda: None)
    auto = Recognizer(small_model, amp="auto")
    assert auto.amp == "off" and auto.amp_why.startswith("float32 (this CPU has no bf16 path")
    with pytest.raises(UserError, match="amp: expected off, bf16 or auto"):
        Recognizer(small_model, amp="fp16")
    with pytest.raises(UserError, match="--int8"):
        Recognizer(small_model, amp="bf16", int8=True)


def test_transcribe_amp_auto_says_what_it_chose(small_model):
    res = run_asr("transcribe", "-m", small_model, "--amp", "auto", "--threads", "1", SAMPLES / "test-f2-00114.wav")
    assert res.returncode == 0, res.stderr
    assert res.stderr.startswith("amp auto: ") and "test-f2-00114.wav" in res.stdout
