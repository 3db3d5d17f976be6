"""GPU paths. They skip, saying why, on machines without CUDA (CI has none): run them where
there is a GPU. Without CUDA, what can be checked is that asking for it is one clear error."""

import pytest
import torch

from asr.model import CTCModel, ModelConfig
from asr.recognizer import Recognizer
from conftest import SAMPLES, run_asr

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU visible: GPU path not exercised here")


def test_asking_for_a_missing_gpu_is_one_line(tiny_model):
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is visible")
    res = run_asr("transcribe", "-m", tiny_model["model"], "--device", "cuda", SAMPLES / "test-f2-00114.wav")
    assert res.returncode == 2 and "no CUDA GPU is visible" in res.stderr and "Traceback" not in res.stderr
    res = run_asr("transcribe", "-m", tiny_model["model"], "--device", "tpu", SAMPLES / "test-f2-00114.wav")
    assert res.returncode == 2 and "expected auto, cpu, cuda or cuda:N" in res.stderr


@cuda
def test_gpu_transcripts_equal_the_cpus(tiny_model):
    wavs = sorted(SAMPLES.glob("*.wav"))
    cpu = [r.text for r in Recognizer(tiny_model["model"], device="cpu").transcribe_many(wavs, batch_size=4)]
    gpu_rec = Recognizer(tiny_model["model"], device="cuda")
    assert next(gpu_rec.model.parameters()).is_cuda
    assert [r.text for r in gpu_rec.transcribe_many(wavs, batch_size=4)] == cpu
    res = run_asr("transcribe", "-m", tiny_model["model"], "--device", "cuda", "--batch-size", "4", *wavs)
    assert res.returncode == 0, res.stderr
    assert [line.split("\t")[1] for line in res.stdout.splitlines()] == cpu


@cuda
def test_bf16_autocast_scales_the_loss_exactly_when_the_lstm_runs_in_fp16():
    # autocast wraps cuDNN's RNN (_cudnn_rnn) and casts its inputs and weights; log_softmax stays
    # float32. bf16 has float32's exponent range and needs no loss scaling, but torch 2.11 with
    # cuDNN 9.19 ran the RNN in float16 under bf16 autocast: then the loss must be scaled
    if not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")
    from asr.runtime import loss_scaling

    model = CTCModel(39, 12, ModelConfig(hidden=64, layers=2)).cuda()
    seen = []
    model.layers[0].fwd.register_forward_hook(lambda m, i, o: seen.append(o[0].dtype))
    feats, lens = torch.randn(4, 120, 39, device="cuda"), torch.tensor([120, 100, 90, 60], device="cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        log_probs, out_lens = model(feats, lens)
    assert seen[0] in (torch.bfloat16, torch.float16) and log_probs.dtype == torch.float32
    assert loss_scaling(torch.bfloat16, torch.device("cuda")) == (seen[0] == torch.float16)
    assert loss_scaling(torch.float16, torch.device("cuda")) and not loss_scaling(None, torch.device("cuda"))
    targets = torch.randint(2, 12, (4, 8), device="cuda")
    loss = torch.nn.functional.ctc_loss(
        log_probs.transpose(0, 1), targets, out_lens, torch.full((4,), 8, device="cuda")
    )
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() and g.abs().sum() > 0 for g in grads)
