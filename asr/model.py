"""The acoustic model: global CMVN, frame stacking, a deep bidirectional RNN and a linear layer."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from asr.cells import CELLS, BiLayer, reverse_padded  # noqa: F401 (reverse_padded: part of the API)
from asr.errors import UserError, check_range, check_ranges


@dataclass(frozen=True)
class ModelConfig:
    hidden: int = 256  # units per direction
    layers: int = 4
    dropout: float = 0.2
    stack: int = 3  # frames stacked into one recurrent step: 100 Hz in, 100/stack Hz out
    cell: str = "lstm"  # see asr/cells.py and experiments/cells.md
    clockwork_modules: int = 4  # clockwork: groups of hidden/modules units, periods 1, 2, 4, ...
    scrn_context: int = 0  # scrn: slow context units out of hidden (0: hidden // 4)
    scrn_alpha: float = 0.95  # scrn: the context state's fixed decay
    irnn_scale: float = 0.5  # irnn: the recurrent matrix starts as this times the identity
    # InterCTC (Lee and Watanabe 2021): layers (1: the lowest) whose outputs the output layer also
    # reads in training, for a CTC loss of their own (train.inter_ctc_weight); no new weights, and
    # inference reads the top layer alone
    inter_ctc_layers: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise UserError(f"model.cell: expected one of {', '.join(CELLS)}, got {self.cell!r}")
        check_ranges(
            "model",
            self,
            hidden="[1, inf)",
            layers="[1, inf)",
            stack="[1, inf)",
            dropout="[0, 1)",
            clockwork_modules="[1, inf)",
            scrn_context=f"[0, {self.hidden})",
            scrn_alpha="[0, 1)",
            irnn_scale="(0, inf)",
        )
        for k in self.inter_ctc_layers:
            check_range("model.inter_ctc_layers", k, f"[1, {self.layers - 1}]", whole=True, why="below the top layer")
        if len(set(self.inter_ctc_layers)) != len(self.inter_ctc_layers):
            raise UserError(f"model.inter_ctc_layers: each layer once, got {list(self.inter_ctc_layers)}")
        if self.cell == "clockwork" and self.hidden % self.clockwork_modules:
            raise UserError(f"model.clockwork_modules: {self.clockwork_modules} must divide hidden ({self.hidden})")


class Dropout(nn.Dropout):
    """nn.Dropout whose mask is drawn as uniform < 1 - p rather than by bernoulli_: the same
    distribution (each value kept with probability 1 - p, scaled by 1 / (1 - p)), but drawn 2.3x
    faster on a CPU, where bernoulli_ took 9% of a training step (experiments/train_profile.md)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if self.p == 1:  # nothing kept (nn.Dropout's zeros, not 0 / 0)
            return x * 0
        keep = 1.0 - self.p
        mask = (torch.rand(x.shape, device=x.device) < keep).to(x.dtype).div_(keep)
        return x * mask


class CTCModel(nn.Module):
    """Features (B, T, F) at 100 Hz -> CTC log-probabilities (B, T', V) at 100/stack Hz."""

    cmvn_mean: torch.Tensor  # (F,) buffers, registered in __init__ (declared for the type checker)
    cmvn_std: torch.Tensor

    def __init__(self, input_dim: int, vocab_size: int, cfg: ModelConfig = ModelConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        self.input_dim = input_dim
        # Global CMVN lives in the model so that a checkpoint (or an export) normalizes by itself.
        self.register_buffer("cmvn_mean", torch.zeros(input_dim))
        self.register_buffer("cmvn_std", torch.ones(input_dim))
        size = input_dim * cfg.stack
        self.layers = nn.ModuleList()
        for _ in range(cfg.layers):
            self.layers.append(BiLayer(size, cfg))
            size = 2 * cfg.hidden
        self.dropout = Dropout(cfg.dropout)
        self.output = nn.Linear(size, vocab_size)

    def set_cmvn(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.cmvn_mean.copy_(mean)
        self.cmvn_std.copy_(std)

    def output_lengths(self, feat_lens: torch.Tensor) -> torch.Tensor:
        """Output frames for input lengths: ceil(T / stack)."""
        return torch.div(feat_lens + self.cfg.stack - 1, self.cfg.stack, rounding_mode="floor")

    def forward(self, feats: torch.Tensor, feat_lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """feats: (B, T, F) unnormalized features, feat_lens: (B,) int64.

        Returns (log_probs (B, T', V), out_lens (B,)) with T' = ceil(T / stack). Positions past
        an utterance's out_len are padding and hold no meaning.
        """
        top, out_lens, _ = self._layers(feats, feat_lens, ())
        return self.classify(top), out_lens

    def forward_inter(
        self, feats: torch.Tensor, feat_lens: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """forward's (log_probs, out_lens), and for InterCTC the (B, T', V) log-probs that the same
        output layer gives on the outputs of each layer cfg.inter_ctc_layers names (in its order)."""
        top, out_lens, kept = self._layers(feats, feat_lens, self.cfg.inter_ctc_layers)
        return self.classify(top), out_lens, [self.classify(h) for h in kept]

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """A recurrent layer's output (B, T', 2 * hidden) -> log-probs (B, T', V)."""
        return self.output(self.dropout(x)).log_softmax(dim=-1)

    def _layers(
        self, feats: torch.Tensor, feat_lens: torch.Tensor, keep: tuple[int, ...]
    ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """(the top layer's output (B, T', 2 * hidden), out_lens, the outputs of layers `keep`)."""
        bsz, t, dim = feats.shape
        mask = torch.arange(t, device=feats.device)[None, :] < feat_lens[:, None]
        x = ((feats - self.cmvn_mean) / self.cmvn_std) * mask[:, :, None]  # zero the padding
        k = self.cfg.stack
        pad = (-t) % k  # always padded (maybe by 0): no shape-dependent branch, so exports stay dynamic
        x = nn.functional.pad(x, (0, 0, 0, pad))
        x = x.reshape(bsz, (t + pad) // k, dim * k)
        out_lens = self.output_lengths(feat_lens)
        outputs = {}
        for i, layer in enumerate(self.layers, start=1):
            x = layer(self.dropout(x), out_lens)
            if i in keep:
                outputs[i] = x
        return x, out_lens, [outputs[i] for i in keep]


class TrainingView(nn.Module):
    """What training calls: a CTCModel's forward_inter as a module's forward, so that the DDP
    wrapper, which must see every forward call, can wrap it. (B, T, F), (B,) -> (log_probs (B,
    T', V), out_lens (B,), InterCTC's log-probs)."""

    def __init__(self, model: CTCModel) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, feats: torch.Tensor, feat_lens: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        return self.model.forward_inter(feats, feat_lens)
