"""The recurrent cells: each against torch's own layer or a slow loop written here, padding
invariance, gradients through time, exports, checkpoints, and training on the samples."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from asr.cells import CELLS, BiLayer, PeepholeLSTM, _peephole_scan, _PeepholeFunction
from asr.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from asr.config import load_recipe
from asr.errors import UserError
from asr.model import CTCModel, ModelConfig
from asr.train import train
from asr.vocab import Vocab
from conftest import ROOT, tiny_overrides

DEMO = ROOT / "recipes" / "demo.yaml"
FUSED = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "elman": torch.nn.RNN, "irnn": torch.nn.RNN}


def config(cell: str, hidden: int = 16, **kw) -> ModelConfig:
    return ModelConfig(hidden=hidden, layers=2, dropout=0.0, stack=1, cell=cell, **kw)


def padded_batch(dim: int = 7) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    lengths = torch.tensor([13, 5, 9, 1])
    x = torch.randn(4, 13, dim)
    for b, n in enumerate(lengths.tolist()):
        x[b, n:] = 100.0  # padding must not matter
    return x, lengths


@pytest.mark.parametrize("cell", CELLS)
def test_padding_does_not_change_outputs(cell):
    torch.manual_seed(0)
    layer = BiLayer(7, config(cell)).eval()
    x, lengths = padded_batch()
    with torch.no_grad():
        batched = layer(x, lengths)
        assert batched.shape == (4, 13, 32)
        for b, n in enumerate(lengths.tolist()):
            alone = layer(x[b : b + 1, :n], lengths[b : b + 1])
            assert (alone[0] - batched[b, :n]).abs().max() < 1e-5


@pytest.mark.parametrize("cell", CELLS)
def test_gradients_reach_the_first_step(cell):
    torch.manual_seed(0)
    layer = BiLayer(7, config(cell))
    if cell == "irnn":  # a diagonal start: one unit's path breaks wherever its ReLU hits zero
        with torch.no_grad():
            layer.fwd.weight_hh_l0.add_(0.2 * torch.randn(16, 16))
    x = torch.randn(2, 12, 7, requires_grad=True)
    out = layer(x, torch.tensor([12, 12]))
    out[:, -1, :16].sum().backward()  # the forward direction's last step ...
    assert x.grad[:, 0].abs().sum() > 0  # ... depends on the first input through the recurrence
    assert all(p.grad is not None for p in layer.fwd.parameters())


@pytest.mark.parametrize("cell", sorted(FUSED))
def test_fused_cells_equal_torch_bidirectional_over_packed_sequences(cell):
    torch.manual_seed(0)
    layer = BiLayer(7, config(cell)).eval()
    kw = {"nonlinearity": layer.fwd.nonlinearity} if cell in ("elman", "irnn") else {}
    ref = FUSED[cell](7, 16, batch_first=True, bidirectional=True, **kw).eval()
    with torch.no_grad():  # direction 0 is fwd, direction 1 (suffix _reverse) is bwd
        for name, p in ref.named_parameters():
            src = layer.bwd if name.endswith("_reverse") else layer.fwd
            p.copy_(getattr(src, name.removesuffix("_reverse")))
    x, lengths = padded_batch()
    with torch.no_grad():
        ours = layer(x, lengths)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        theirs, _ = pad_packed_sequence(ref(packed)[0], batch_first=True, total_length=13)
    for b, n in enumerate(lengths.tolist()):
        assert (ours[b, :n] - theirs[b, :n]).abs().max() < 1e-5


def test_irnn_starts_from_a_scaled_identity():
    layer = BiLayer(7, config("irnn", irnn_scale=0.5))
    assert layer.fwd.nonlinearity == "relu"
    assert torch.equal(layer.fwd.weight_hh_l0, 0.5 * torch.eye(16))
    assert not layer.fwd.bias_ih_l0.any() and not layer.fwd.bias_hh_l0.any()


# Slow, obviously-correct loops, one step at a time, straight from the equations.


def ref_peephole(m, x):
    h = c = torch.zeros(x.shape[0], m.w_hh.shape[1])
    outs = []
    for t in range(x.shape[1]):
        i, f, g, o = (m.ih(x[:, t]) + h @ m.w_hh.T).chunk(4, 1)
        i = torch.sigmoid(i + m.peep[0] * c)
        f = torch.sigmoid(f + m.peep[1] * c)
        c = f * c + i * torch.tanh(g)
        o = torch.sigmoid(o + m.peep[2] * c)
        h = o * torch.tanh(c)
        outs.append(h)
    return torch.stack(outs, 1)


def ref_jordan(m, x):
    y = torch.zeros(x.shape[0], m.w_yh.shape[0])
    outs = []
    for t in range(x.shape[1]):
        h = torch.tanh(m.ih(x[:, t]) + y @ m.w_yh.T)
        y = torch.tanh(h @ m.w_hy.T + m.b_y)
        outs.append(y)
    return torch.stack(outs, 1)


def ref_clockwork(m, x, modules=4):
    n = m.w_hh.shape[0]
    size = n // modules
    h = torch.zeros(x.shape[0], n)
    outs = []
    for t in range(x.shape[1]):
        new = h.clone()
        for k in range(modules):
            if t % 2**k == 0:
                rows = slice(k * size, (k + 1) * size)
                cols = slice(k * size, n)  # this module and the slower ones
                new[:, rows] = torch.tanh(m.ih(x[:, t])[:, rows] + h[:, cols] @ m.w_hh[rows, cols].T)
        h = new
        outs.append(h)
    return torch.stack(outs, 1)


def ref_scrn(m, x):
    s = torch.zeros(x.shape[0], m.p.weight.shape[1])
    h = torch.zeros(x.shape[0], m.w_hh.shape[0])
    outs = []
    for t in range(x.shape[1]):
        s = (1 - m.alpha) * m.b(x[:, t]) + m.alpha * s
        h = torch.tanh(m.p(s) + m.a(x[:, t]) + h @ m.w_hh.T)
        outs.append(torch.cat([h, s], -1))
    return torch.stack(outs, 1)


@pytest.mark.parametrize(
    "cell,ref",
    [("lstm_peephole", ref_peephole), ("jordan", ref_jordan), ("clockwork", ref_clockwork), ("scrn", ref_scrn)],
)
def test_custom_cells_equal_a_step_by_step_loop(cell, ref):
    torch.manual_seed(0)
    m = BiLayer(7, config(cell)).fwd
    x = torch.randn(3, 11, 7)
    with torch.no_grad():
        assert (m(x)[0] - ref(m, x)).abs().max() < 1e-5
    got = m(x)[0]  # the training path (the peephole LSTM's hand-written backward) too
    assert (got - ref(m, x)).abs().max() < 1e-5


def test_peephole_lstm_without_peepholes_is_torch_lstm():
    torch.manual_seed(0)
    m = PeepholeLSTM(7, 16)
    lstm = torch.nn.LSTM(7, 16, batch_first=True)
    with torch.no_grad():
        m.peep.zero_()
        lstm.weight_ih_l0.copy_(m.ih.weight)
        lstm.bias_ih_l0.copy_(m.ih.bias)
        lstm.weight_hh_l0.copy_(m.w_hh)
        lstm.bias_hh_l0.zero_()
        x = torch.randn(3, 11, 7)
        assert (m(x)[0] - lstm(x)[0]).abs().max() < 1e-5


def test_peephole_backward_by_hand_matches_numerical_gradients():
    torch.manual_seed(0)
    xp = torch.randn(3, 6, 16, dtype=torch.double, requires_grad=True)
    w_hh = (0.5 * torch.randn(16, 4, dtype=torch.double)).requires_grad_()
    peep = torch.randn(3, 4, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(_PeepholeFunction.apply, (xp, w_hh, peep))
    # and it equals autograd through the scripted loop
    auto = torch.autograd.grad(_peephole_scan(xp, w_hh, peep)[0].sin().sum(), (xp, w_hh, peep))
    hand = torch.autograd.grad(_PeepholeFunction.apply(xp, w_hh, peep).sin().sum(), (xp, w_hh, peep))
    for a, b in zip(auto, hand):
        assert (a - b).abs().max() < 1e-10


def test_clockwork_slow_modules_hold_between_their_updates():
    torch.manual_seed(0)
    m = BiLayer(7, config("clockwork", hidden=16)).fwd  # 4 modules of 4 units: periods 1, 2, 4, 8
    with torch.no_grad():
        h = m(torch.randn(2, 20, 7))[0]
    for k in range(4):
        units = slice(4 * k, 4 * (k + 1))
        for t in range(1, 20):
            same = torch.equal(h[:, t, units], h[:, t - 1, units])
            assert same == (t % 2**k != 0), (k, t)  # changes exactly on its own clock


def test_clockwork_recurrence_is_block_upper_triangular():
    m = BiLayer(7, config("clockwork", hidden=16)).fwd
    mask = m.mask.view(4, 4, 4, 4)[:, 0, :, 0]  # module written x module read
    assert torch.equal(mask, torch.ones(4, 4).triu())


def test_scrn_context_is_a_fixed_leaky_average():
    torch.manual_seed(0)
    m = BiLayer(7, config("scrn", hidden=16, scrn_context=6, scrn_alpha=0.9)).fwd
    x = torch.randn(2, 5, 7)
    with torch.no_grad():
        out = m(x)[0]
        s = m.b(x)
    assert out.shape == (2, 5, 16)
    assert torch.allclose(out[:, 1, 10:], 0.1 * s[:, 1] + 0.9 * 0.1 * s[:, 0], atol=1e-6)


def checkpoint(cell: str, path) -> None:
    torch.manual_seed(0)
    recipe = load_recipe(DEMO, [f"model.cell={cell}", "model.hidden=16", "model.layers=2"])
    vocab = Vocab(["<blank>", "<unk>", *"abcdefgh"])
    model = CTCModel(recipe.features.dim, len(vocab), recipe.model)
    model.set_cmvn(torch.randn(recipe.features.dim), torch.rand(recipe.features.dim) + 0.5)
    save_checkpoint(path, recipe, vocab, model)


def features(dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(2)
    return torch.randn(3, 130, dim) * 4, torch.tensor([130, 77, 31])


@pytest.mark.parametrize("cell", CELLS)
def test_checkpoint_round_trip(cell, tmp_path):
    checkpoint(cell, tmp_path / "m.pt")
    recipe, _, model = model_from_checkpoint(load_checkpoint(tmp_path / "m.pt"))
    assert recipe.model.cell == cell
    again = CTCModel(recipe.features.dim, 10, recipe.model)
    again.load_state_dict(model.state_dict())
    feats, lens = features(recipe.features.dim)
    with torch.no_grad():
        assert torch.equal(model.eval()(feats, lens)[0], again.eval()(feats, lens)[0])


@pytest.mark.parametrize("cell", CELLS)
def test_exports_match_pytorch(cell, tmp_path):
    from asr.export import export_onnx, export_torchscript

    checkpoint(cell, tmp_path / "m.pt")
    recipe, _, model = model_from_checkpoint(load_checkpoint(tmp_path / "m.pt"))
    feats, lens = features(recipe.features.dim)  # another batch size and length than the export's example
    with torch.no_grad():
        ref, ref_lens = model(feats, lens)
        scripted = torch.jit.load(str(export_torchscript(tmp_path / "m.pt", tmp_path / "m.ts")))
        got, _ = scripted(feats, lens)
    results = [got.numpy()]
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(export_onnx(tmp_path / "m.pt", tmp_path / "m.onnx")))
    results.append(session.run(None, {"feats": feats.numpy(), "feat_lens": lens.numpy()})[0])
    for out in results:
        assert out.shape == tuple(ref.shape)
        for b, n in enumerate(ref_lens.tolist()):
            assert abs(out[b, :n] - ref[b, :n].numpy()).max() < 1e-4


@pytest.mark.parametrize("cell", CELLS)
def test_every_cell_learns_the_samples(cell, tmp_path, record_property):
    sets = tiny_overrides(tmp_path / "exp", epochs=8) + [
        f"model.cell={cell}",
        "model.hidden=48",
        "model.layers=1",
        "augment.narrowband_prob=0",
    ]
    history = train(load_recipe(DEMO, sets))["history"]
    losses = [row["train_loss"] for row in history]
    assert all(map(torch.isfinite, torch.tensor(losses)))
    record_property("loss_ratio", losses[-1] / losses[0])
    assert losses[-1] < 0.5 * losses[0], losses


def test_unknown_cell_and_bad_settings_are_clear_errors():
    with pytest.raises(UserError, match="model.cell: expected one of lstm, lstm_peephole, gru"):
        load_recipe(DEMO, ["model.cell=transformer"])
    with pytest.raises(UserError, match="clockwork_modules"):
        load_recipe(DEMO, ["model.cell=clockwork", "model.hidden=50", "model.clockwork_modules=4"])
    with pytest.raises(UserError, match="scrn_context"):
        load_recipe(DEMO, ["model.cell=scrn", "model.hidden=16", "model.scrn_context=16"])
    with pytest.raises(UserError, match="grad_clip"):
        load_recipe(DEMO, ["train.grad_clip=-1"])
