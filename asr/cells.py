"""Recurrent cells of the RNN literature, and the bidirectional layer that runs any of them.

A *direction* module runs one cell forward in time over a padded batch: `forward(x (B, T, I))
-> (out (B, T, H), state)`, the contract of torch's own `nn.LSTM`/`nn.GRU`/`nn.RNN`, which
serve the cells they have fused CPU/cuDNN kernels for (lstm, gru, elman, irnn). The others
(lstm_peephole, jordan, clockwork, scrn) project the inputs of all time steps in one matrix
product and loop only over the recurrent part, in TorchScript functions: no Python per step,
and the loop stays a loop (any length) in TorchScript and ONNX exports. `BiLayer` gives every
cell bidirectionality and padding invariance; `asr/model.py` stacks the layers.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from asr.model import ModelConfig

CELLS = ("lstm", "lstm_peephole", "gru", "elman", "jordan", "irnn", "clockwork", "scrn")


def reverse_padded(x: Tensor, lengths: Tensor) -> Tensor:
    """Reverse each sequence of x (B, T, F) within its own length; padding stays at the end.

    Rows of the flattened (B * T, F) view are picked with index_select: a gather along time
    reads an int64 index per element and took ~10x as long (on the CPU, at inference)."""
    b, t = x.shape[0], x.shape[1]
    steps = torch.arange(t, device=x.device)[None, :]
    idx = torch.where(steps < lengths[:, None], lengths[:, None] - 1 - steps, steps)
    rows = (idx + t * torch.arange(b, device=x.device)[:, None]).reshape(-1)
    return x.reshape(b * t, -1).index_select(0, rows).view(x.shape)


def _uniform_(module: nn.Module, hidden: int) -> None:
    """torch's RNN initialization, U(-1/sqrt(H), 1/sqrt(H)), for every parameter of `module`."""
    bound = 1.0 / math.sqrt(hidden)
    for p in module.parameters():
        nn.init.uniform_(p, -bound, bound)


# ---- the recurrent loops: (B, T, G) input projections in, (B, T, H) outputs out ----

# torch 2.x marks torch.jit.script deprecated in favour of torch.compile, which needs a C++
# compiler at run time and does not reach the TorchScript and ONNX exports; TorchScript still
# works and is what those exports are made of.
warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", category=FutureWarning)


@torch.jit.script
def _peephole_scan(xp: Tensor, w_hh: Tensor, peep: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Returns the outputs h (B, T, H), the cell states c (B, T, H) and the gate activations
    [i, f, g, o] (B, T, 4H): the last two are what the hand-written backward needs."""
    h = xp.new_zeros(xp.size(0), w_hh.size(1))
    c = torch.zeros_like(h)
    w = w_hh.t().contiguous()
    hs: list[Tensor] = []
    cs: list[Tensor] = []
    gates: list[Tensor] = []
    for t in range(xp.size(1)):
        i, f, g, o = torch.addmm(xp[:, t], h, w).chunk(4, 1)
        i = torch.sigmoid(i + peep[0] * c)
        f = torch.sigmoid(f + peep[1] * c)
        g = torch.tanh(g)
        c = f * c + i * g
        o = torch.sigmoid(o + peep[2] * c)  # the output gate sees the new cell
        h = o * torch.tanh(c)
        hs.append(h)
        cs.append(c)
        gates.append(torch.cat([i, f, g, o], 1))
    return torch.stack(hs, 1), torch.stack(cs, 1), torch.stack(gates, 1)


@torch.jit.script
def _peephole_backward(
    grad_h: Tensor, hs: Tensor, cs: Tensor, gates: Tensor, w_hh: Tensor, peep: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """BPTT through _peephole_scan by hand: (d xp, d w_hh, d peep) from d h (B, T, H)."""
    n = w_hh.size(1)
    dh = torch.zeros_like(grad_h[:, 0])
    dc = torch.zeros_like(dh)
    zero = torch.zeros_like(dh)
    das: list[Tensor] = []
    for t in range(grad_h.size(1) - 1, -1, -1):
        i, f, g, o = gates[:, t].chunk(4, 1)
        c = cs[:, t]
        c_prev = cs[:, t - 1] if t > 0 else zero
        tc = torch.tanh(c)
        dh = dh + grad_h[:, t]
        da_o = dh * tc * o * (1.0 - o)
        dc = dc + dh * o * (1.0 - tc * tc) + da_o * peep[2]
        da_i = dc * g * i * (1.0 - i)
        da_f = dc * c_prev * f * (1.0 - f)
        da_g = dc * i * (1.0 - g * g)
        dc = dc * f + da_i * peep[0] + da_f * peep[1]
        da = torch.cat([da_i, da_f, da_g, da_o], 1)
        dh = torch.mm(da, w_hh)
        das.append(da)
    das.reverse()
    d_xp = torch.stack(das, 1)  # (B, T, 4H)
    h_prev = torch.cat([torch.zeros_like(hs[:, :1]), hs[:, :-1]], 1)
    c_prev = torch.cat([torch.zeros_like(cs[:, :1]), cs[:, :-1]], 1)
    d_w = torch.mm(d_xp.reshape(-1, 4 * n).t(), h_prev.reshape(-1, n))
    d_peep = torch.stack(
        [
            (d_xp[:, :, :n] * c_prev).sum((0, 1)),
            (d_xp[:, :, n : 2 * n] * c_prev).sum((0, 1)),
            (d_xp[:, :, 3 * n :] * cs).sum((0, 1)),
        ]
    )
    return d_xp, d_w, d_peep


class _PeepholeFunction(torch.autograd.Function):
    """The peephole LSTM's recurrence for training: the loop runs without recording a graph and
    the backward is _peephole_backward (one matrix product per step, the weight gradient in one
    product at the end), about twice as fast on CPU as autograd through the scripted loop."""

    @staticmethod
    def forward(ctx, xp: Tensor, w_hh: Tensor, peep: Tensor) -> Tensor:
        hs, cs, gates = _peephole_scan(xp, w_hh, peep)
        ctx.save_for_backward(hs, cs, gates, w_hh, peep)
        return hs

    @staticmethod
    def backward(ctx, grad_h: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return _peephole_backward(grad_h.contiguous(), *ctx.saved_tensors)


@torch.jit.script
def _jordan_scan(xp: Tensor, w_yh: Tensor, w_hy: Tensor, b_y: Tensor) -> Tensor:
    y = xp.new_zeros(xp.size(0), w_yh.size(1))
    outs: list[Tensor] = []
    for t in range(xp.size(1)):
        h = torch.tanh(xp[:, t] + torch.mm(y, w_yh.t()))
        y = torch.tanh(torch.addmm(b_y, h, w_hy.t()))
        outs.append(y)
    return torch.stack(outs, 1)


@torch.jit.script
def _clockwork_scan(xp: Tensor, w_hh: Tensor, active: Tensor) -> Tensor:
    h = xp.new_zeros(xp.size(0), w_hh.size(1))
    outs: list[Tensor] = []
    for t in range(xp.size(1)):
        h = torch.where(active[t], torch.tanh(xp[:, t] + torch.mm(h, w_hh.t())), h)
        outs.append(h)
    return torch.stack(outs, 1)


@torch.jit.script
def _leaky_scan(x: Tensor, alpha: float) -> Tensor:
    """s_t = (1 - alpha) x_t + alpha s_{t-1}, s_{-1} = 0, for x (B, T, C)."""
    s = torch.zeros_like(x[:, 0])
    outs: list[Tensor] = []
    for t in range(x.size(1)):
        s = (1.0 - alpha) * x[:, t] + alpha * s
        outs.append(s)
    return torch.stack(outs, 1)


@torch.jit.script
def _tanh_scan(xp: Tensor, w_hh: Tensor) -> Tensor:
    h = xp.new_zeros(xp.size(0), w_hh.size(1))
    outs: list[Tensor] = []
    for t in range(xp.size(1)):
        h = torch.tanh(xp[:, t] + torch.mm(h, w_hh.t()))
        outs.append(h)
    return torch.stack(outs, 1)


# ---- the cells with no fused kernel ----


class PeepholeLSTM(nn.Module):
    """LSTM with peephole connections (Gers and Schmidhuber 2000): the input and forget gates
    see the previous cell state, the output gate the new one (diagonal weights `peep`)."""

    def __init__(self, input_size: int, hidden: int) -> None:
        super().__init__()
        self.ih = nn.Linear(input_size, 4 * hidden)  # gates in nn.LSTM's order: i, f, g, o
        self.w_hh = nn.Parameter(torch.empty(4 * hidden, hidden))
        self.peep = nn.Parameter(torch.empty(3, hidden))  # input, forget, output gate
        _uniform_(self, hidden)

    def forward(self, x: Tensor) -> tuple[Tensor, None]:
        xp = self.ih(x)
        if torch.is_grad_enabled() and not torch.jit.is_tracing():
            return _PeepholeFunction.apply(xp, self.w_hh, self.peep), None
        return _peephole_scan(xp, self.w_hh, self.peep)[0], None  # inference and exports


class Jordan(nn.Module):
    """Jordan network (1986): the recurrence feeds back the layer's *output* y_{t-1}, not its
    hidden state: h_t = tanh(W x_t + U y_{t-1} + b), y_t = tanh(V h_t + c).

    Jordan fed back the network's final output. In a bidirectional CTC stack that would be the
    posteriors, which at t-1 already depend on the future through the backward direction, and
    all layers would wait on each other step by step; so each layer feeds back its own output
    vector, the one the next layer reads. That keeps Jordan's distinction from Elman (the state
    is what the layer emitted, squashed through V, not its internal units) and the layers free
    to run one after the other.
    """

    def __init__(self, input_size: int, hidden: int) -> None:
        super().__init__()
        self.ih = nn.Linear(input_size, hidden)
        self.w_yh = nn.Parameter(torch.empty(hidden, hidden))  # output -> hidden (the feedback)
        self.w_hy = nn.Parameter(torch.empty(hidden, hidden))  # hidden -> output
        self.b_y = nn.Parameter(torch.empty(hidden))
        _uniform_(self, hidden)

    def forward(self, x: Tensor) -> tuple[Tensor, None]:
        return _jordan_scan(self.ih(x), self.w_yh, self.w_hy, self.b_y), None


class Clockwork(nn.Module):
    """Clockwork RNN (Koutník et al. 2014): the hidden units form `modules` equal groups with
    periods 1, 2, 4, ...; group k updates only at steps t (counted from the utterance's first
    frame in its direction) with t mod 2^k == 0 and keeps its value otherwise. A group reads
    only from groups at least as slow as itself: the recurrent matrix is block upper-triangular
    (rows: the group written, columns: the group read, fast to slow)."""

    periods: Tensor  # (H,) buffers, registered in __init__ (declared for the type checker)
    mask: Tensor  # (H, H)

    def __init__(self, input_size: int, hidden: int, modules: int) -> None:
        super().__init__()
        size = hidden // modules
        self.ih = nn.Linear(input_size, hidden)
        self.w_hh = nn.Parameter(torch.empty(hidden, hidden))
        _uniform_(self, hidden)
        group = torch.arange(hidden) // size
        self.register_buffer("periods", 2**group, persistent=False)
        self.register_buffer("mask", (group[None, :] >= group[:, None]).float(), persistent=False)

    def forward(self, x: Tensor) -> tuple[Tensor, None]:
        t = torch.arange(x.shape[1], device=x.device)
        active = (t[:, None] % self.periods[None, :]) == 0  # (T, H)
        return _clockwork_scan(self.ih(x), self.w_hh * self.mask, active), None


class SCRN(nn.Module):
    """Structurally constrained recurrent network (Mikolov et al. 2015): a slow context state
    s_t = (1 - alpha) B x_t + alpha s_{t-1} (alpha fixed, ~0.95: a leaky average over ~20 steps)
    beside a fast state h_t = tanh(P s_t + A x_t + R h_{t-1} + b). The output is [h_t, s_t]
    (`hidden - context` fast units, then `context` slow ones), as both feed Mikolov's output."""

    def __init__(self, input_size: int, hidden: int, context: int, alpha: float) -> None:
        super().__init__()
        fast = hidden - context
        self.alpha = alpha
        self.b = nn.Linear(input_size, context, bias=False)
        self.a = nn.Linear(input_size, fast)
        self.p = nn.Linear(context, fast, bias=False)
        self.w_hh = nn.Parameter(torch.empty(fast, fast))  # R
        _uniform_(self, hidden)

    def forward(self, x: Tensor) -> tuple[Tensor, None]:
        s = _leaky_scan(self.b(x), self.alpha)  # the slow state depends on the inputs only
        h = _tanh_scan(self.a(x) + self.p(s), self.w_hh)
        return torch.cat([h, s], dim=-1), None


def irnn(input_size: int, hidden: int, scale: float) -> nn.RNN:
    """IRNN (Le, Jaitly and Hinton 2015): a ReLU RNN whose recurrent matrix starts as the
    identity times `scale` and whose biases start at 0, so that at first each unit carries its
    value forward unchanged and gradients neither vanish nor explode. The paper scales the
    identity below 1 for tasks with shorter dependencies; speech at 33 Hz is one: with 1.0 a
    3-layer stack's activations here reach ~10^4 after 2 s of noise input, with 0.5 (the
    default) ~0.3. ReLU states are unbounded, so it wants gradient clipping and a learning rate
    no higher than the LSTM's (see experiments/cells.md)."""
    rnn = nn.RNN(input_size, hidden, nonlinearity="relu", batch_first=True)
    with torch.no_grad():
        rnn.get_parameter("weight_hh_l0").copy_(scale * torch.eye(hidden))
        rnn.get_parameter("bias_ih_l0").zero_()
        rnn.get_parameter("bias_hh_l0").zero_()
    return rnn


def direction(input_size: int, cfg: ModelConfig) -> nn.Module:
    """One direction of `cfg.cell` with `cfg.hidden` outputs per step."""
    h, cell = cfg.hidden, cfg.cell
    if cell == "lstm":
        return nn.LSTM(input_size, h, batch_first=True)
    if cell == "gru":
        return nn.GRU(input_size, h, batch_first=True)
    if cell == "elman":
        return nn.RNN(input_size, h, nonlinearity="tanh", batch_first=True)
    if cell == "irnn":
        return irnn(input_size, h, cfg.irnn_scale)
    if cell == "lstm_peephole":
        return PeepholeLSTM(input_size, h)
    if cell == "jordan":
        return Jordan(input_size, h)
    if cell == "clockwork":
        return Clockwork(input_size, h, cfg.clockwork_modules)
    if cell == "scrn":
        return SCRN(input_size, h, cfg.scrn_context or h // 4, cfg.scrn_alpha)
    raise ValueError(f"unknown cell {cell!r}")


class BiLayer(nn.Module):
    """One bidirectional recurrent layer whose output does not depend on padding.

    The forward direction runs over the padded batch (later padding cannot reach earlier
    steps); the backward direction runs forward over each utterance reversed within its own
    length. This gives the same result as packed sequences without their CPU cost, for every
    cell, and step 0 of each direction is the utterance's own first (or last) frame.
    """

    def __init__(self, input_size: int, cfg: ModelConfig) -> None:
        super().__init__()
        self.fwd = direction(input_size, cfg)
        self.bwd = direction(input_size, cfg)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        """x: (B, T, F), lengths: (B,) -> (B, T, 2 * hidden)."""
        f = self.fwd(x)[0]
        b = self.bwd(reverse_padded(x, lengths))[0]
        return torch.cat([f, reverse_padded(b, lengths)], dim=-1)
