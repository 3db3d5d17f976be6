"""Decoding CTC log-probabilities: pure functions on (B, T, V) tensors plus lengths."""

from __future__ import annotations

import torch


def collapse(ids: list[int], blank: int = 0) -> list[int]:
    """CTC collapse of one frame-level path: merge repeats first, then drop blanks.

    [好, 棒, <b>, 棒] -> [好, 棒, 棒], while [好, 棒, 棒] -> [好, 棒].
    """
    out: list[int] = []
    prev = None
    for i in ids:
        if i != prev and i != blank:
            out.append(i)
        prev = i
    return out


def greedy_decode(log_probs: torch.Tensor, lengths: torch.Tensor, blank: int = 0) -> list[list[int]]:
    """Best path decoding. log_probs: (B, T, V), lengths: (B,) -> one unit-id list per utterance."""
    best = log_probs.argmax(dim=-1).cpu()
    return [collapse(best[b, : int(n)].tolist(), blank) for b, n in enumerate(lengths.cpu())]
