"""The acoustic model: global CMVN, frame stacking, a deep bidirectional LSTM and a linear layer."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ModelConfig:
    hidden: int = 256  # units per direction
    layers: int = 4
    dropout: float = 0.2
    stack: int = 3  # frames stacked into one LSTM step: 100 Hz in, 100/stack Hz out


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each sequence of x (B, T, F) within its own length; padding stays at the end."""
    t = torch.arange(x.shape[1], device=x.device)[None, :]
    idx = torch.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)
    return x.gather(1, idx[:, :, None].expand_as(x))


class BiLSTMLayer(nn.Module):
    """One bidirectional LSTM layer whose output does not depend on padding.

    The forward direction runs over the padded batch (later padding cannot reach earlier
    steps); the backward direction runs forward over each utterance reversed within its own
    length. This gives the same result as packed sequences without their CPU cost.
    """

    def __init__(self, input_size: int, hidden: int) -> None:
        super().__init__()
        self.fwd = nn.LSTM(input_size, hidden, batch_first=True)
        self.bwd = nn.LSTM(input_size, hidden, batch_first=True)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """x: (B, T, F), lengths: (B,) -> (B, T, 2 * hidden)."""
        f, _ = self.fwd(x)
        b, _ = self.bwd(reverse_padded(x, lengths))
        return torch.cat([f, reverse_padded(b, lengths)], dim=-1)


class CTCModel(nn.Module):
    """Features (B, T, F) at 100 Hz -> CTC log-probabilities (B, T', V) at 100/stack Hz."""

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
            self.layers.append(BiLSTMLayer(size, cfg.hidden))
            size = 2 * cfg.hidden
        self.dropout = nn.Dropout(cfg.dropout)
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
        bsz, t, dim = feats.shape
        mask = torch.arange(t, device=feats.device)[None, :] < feat_lens[:, None]
        x = ((feats - self.cmvn_mean) / self.cmvn_std) * mask[:, :, None]  # zero the padding
        k = self.cfg.stack
        pad = (-t) % k  # always padded (maybe by 0): no shape-dependent branch, so exports stay dynamic
        x = nn.functional.pad(x, (0, 0, 0, pad))
        x = x.reshape(bsz, (t + pad) // k, dim * k)
        out_lens = self.output_lengths(feat_lens)
        for layer in self.layers:
            x = layer(self.dropout(x), out_lens)
        return self.output(self.dropout(x)).log_softmax(dim=-1), out_lens
