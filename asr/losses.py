"""Training losses on (B, T', V) log-probs and lengths: CTC, InterCTC and CR-CTC. Each returns a
sum over the batch's utterances, in float32 (also under autocast); train_step divides by B.

InterCTC (Lee and Watanabe 2021): intermediate layers' outputs, read by the same output layer,
get a CTC loss of their own, mixed in with weight w: (1 - w) CTC(top) + w mean_k CTC(layer k).
CR-CTC (Yao et al. 2024): two views of each utterance (different SpecAugment masks, different
dropout), each trained with CTC, and each view's frame posteriors pulled towards the other's
(held fixed): 0.5 (CTC(a) + CTC(b)) + w 0.5 (KL(sg(p_b) || p_a) + KL(sg(p_a) || p_b)), the KL
terms summed over the utterances' frames (icefall's cr_loss, as its zipformer recipe has it).
"""

from __future__ import annotations

import torch
from torch import Tensor


def ctc_sum(log_probs: Tensor, out_lens: Tensor, targets: Tensor, target_lens: Tensor, blank: int) -> Tensor:
    """CTC loss of log_probs (B, T', V) for targets (B, L) summed over the batch; an utterance
    with no alignment (too short for its targets) counts 0 (zero_infinity)."""
    return torch.nn.functional.ctc_loss(
        log_probs.float().transpose(0, 1),
        targets,
        out_lens,
        target_lens,
        blank=blank,
        reduction="sum",
        zero_infinity=True,
    )


def inter_ctc_sum(
    log_probs: Tensor,
    inter: list[Tensor],
    out_lens: Tensor,
    targets: Tensor,
    target_lens: Tensor,
    blank: int,
    weight: float,
) -> Tensor:
    """(1 - weight) CTC(log_probs) + weight * the mean CTC of the intermediate log-probs `inter`
    (each (B, T', V)), summed over the batch: plain CTC without them or with weight 0."""
    top = ctc_sum(log_probs, out_lens, targets, target_lens, blank)
    if not inter or weight == 0:
        return top
    mean_inter = sum(ctc_sum(x, out_lens, targets, target_lens, blank) for x in inter) / len(inter)
    return (1 - weight) * top + weight * mean_inter


def consistency_sum(log_probs_a: Tensor, log_probs_b: Tensor, out_lens: Tensor) -> Tensor:
    """CR-CTC's consistency of two views' log-probs (B, T', V): 0.5 (KL(sg(p_b) || p_a) +
    KL(sg(p_a) || p_b)) summed over each utterance's first out_lens frames and the units; each
    view learns towards the other, whose side is held fixed (sg: no gradient)."""
    a, b = log_probs_a.float(), log_probs_b.float()
    valid = torch.arange(a.shape[1], device=a.device)[None, :] < out_lens[:, None]  # (B, T')
    kl_a = torch.nn.functional.kl_div(a, b.detach(), reduction="none", log_target=True)  # p_b (log p_b - log p_a)
    kl_b = torch.nn.functional.kl_div(b, a.detach(), reduction="none", log_target=True)
    return 0.5 * (kl_a + kl_b).sum(-1).masked_fill(~valid, 0.0).sum()


def training_loss(
    log_probs: Tensor,
    inter: list[Tensor],
    out_lens: Tensor,
    targets: Tensor,
    target_lens: Tensor,
    blank: int,
    inter_weight: float = 0.0,
    cr_weight: float | None = None,
) -> Tensor:
    """The loss train_step takes, summed over the batch's B utterances. With `cr_weight` (CR-CTC,
    0 included) the rows are two views: the first B one view, the last B the other (log_probs,
    inter and out_lens of 2B rows; targets and target_lens of B); each view's InterCTC loss is
    averaged and their consistency added with weight cr_weight. Without it, InterCTC's loss."""
    if cr_weight is None:
        return inter_ctc_sum(log_probs, inter, out_lens, targets, target_lens, blank, inter_weight)
    both = inter_ctc_sum(
        log_probs,
        inter,
        out_lens,
        torch.cat([targets, targets]),
        torch.cat([target_lens, target_lens]),
        blank,
        inter_weight,
    )
    (a, b), lens = log_probs.chunk(2), out_lens.chunk(2)[0]
    return 0.5 * both + cr_weight * consistency_sum(a, b, lens)
