"""The training losses on tiny inputs, against torch's CTC loss and a KL divergence written out."""

import pytest
import torch

from asr.losses import consistency_sum, ctc_sum, inter_ctc_sum, training_loss

B, T, V = 3, 12, 6
LENS = torch.tensor([12, 9, 5])


def log_probs(seed: int, requires_grad: bool = False) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, T, V, generator=g).log_softmax(-1).requires_grad_(requires_grad)


TARGETS = torch.tensor([[2, 3, 4, 5], [3, 3, 1, 0], [5, 2, 0, 0]])
TARGET_LENS = torch.tensor([4, 3, 2])


def reference_ctc(lp: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.ctc_loss(lp.transpose(0, 1), TARGETS, LENS, TARGET_LENS, blank=0, reduction="sum")


def reference_kl(p_from: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """KL(p || q) of log-probs summed over the valid frames, one frame at a time."""
    total = torch.zeros(())
    for b in range(B):
        for t in range(int(LENS[b])):
            p = p_from[b, t].exp()
            total = total + (p * (p_from[b, t] - q[b, t])).sum()
    return total


def test_ctc_sum_is_torch_s_ctc_loss_summed():
    lp = log_probs(0)
    assert torch.allclose(ctc_sum(lp, LENS, TARGETS, TARGET_LENS, 0), reference_ctc(lp))


def test_inter_ctc_mixes_the_layers_losses_and_weight_0_is_plain_ctc():
    top, mid1, mid2 = log_probs(0), log_probs(1), log_probs(2)
    plain = reference_ctc(top)
    assert inter_ctc_sum(top, [mid1], LENS, TARGETS, TARGET_LENS, 0, 0.0) == ctc_sum(top, LENS, TARGETS, TARGET_LENS, 0)
    assert torch.allclose(inter_ctc_sum(top, [mid1], LENS, TARGETS, TARGET_LENS, 0, 0.0), plain)
    assert torch.allclose(inter_ctc_sum(top, [], LENS, TARGETS, TARGET_LENS, 0, 0.3), plain)
    mixed = inter_ctc_sum(top, [mid1, mid2], LENS, TARGETS, TARGET_LENS, 0, 0.3)
    expected = 0.7 * plain + 0.3 * (reference_ctc(mid1) + reference_ctc(mid2)) / 2
    assert torch.allclose(mixed, expected)


def test_consistency_is_the_symmetric_kl_over_valid_frames_and_zero_for_equal_views():
    a, b = log_probs(0), log_probs(1)
    expected = 0.5 * (reference_kl(b, a) + reference_kl(a, b))
    assert torch.allclose(consistency_sum(a, b, LENS), expected, atol=1e-5)
    assert consistency_sum(a, a, LENS) == 0
    assert consistency_sum(a, b, LENS) > 0


def test_cr_ctc_with_weight_0_is_the_views_mean_ctc_and_equal_views_add_nothing():
    a, b = log_probs(0), log_probs(1)
    both, lens = torch.cat([a, b]), torch.cat([LENS, LENS])
    mean = (reference_ctc(a) + reference_ctc(b)) / 2
    assert torch.allclose(training_loss(both, [], lens, TARGETS, TARGET_LENS, 0, cr_weight=0.0), mean)
    same = torch.cat([a, a])
    assert torch.allclose(training_loss(same, [], lens, TARGETS, TARGET_LENS, 0, cr_weight=0.5), reference_ctc(a))
    with_kl = training_loss(both, [], lens, TARGETS, TARGET_LENS, 0, cr_weight=0.2)
    assert torch.allclose(with_kl, mean + 0.2 * consistency_sum(a, b, LENS))


def test_without_cr_the_loss_is_inter_ctc_s():
    top, mid = log_probs(0), log_probs(1)
    assert torch.equal(
        training_loss(top, [mid], LENS, TARGETS, TARGET_LENS, 0, inter_weight=0.4),
        inter_ctc_sum(top, [mid], LENS, TARGETS, TARGET_LENS, 0, 0.4),
    )


def test_gradients_reach_every_view_and_layer_and_the_other_view_is_held_fixed():
    a, b, mid = log_probs(0, True), log_probs(1, True), log_probs(2, True)
    inter = [torch.cat([mid, mid])]
    loss = training_loss(torch.cat([a, b]), inter, torch.cat([LENS, LENS]), TARGETS, TARGET_LENS, 0, 0.3, 0.2)
    loss.backward()
    for x in (a, b, mid):
        assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    # the consistency's gradient on a is KL(sg(p_b) || p_a)'s alone: b's side is detached
    a2 = a.detach().clone().requires_grad_(True)
    consistency_sum(a2, b.detach(), LENS).backward()
    a3 = a.detach().clone().requires_grad_(True)
    (0.5 * reference_kl(b.detach(), a3)).backward()
    assert torch.allclose(a2.grad, a3.grad, atol=1e-6)


@pytest.mark.parametrize("cr_weight", [None, 0.2])
def test_padding_never_changes_the_loss(cr_weight):
    a, b, mid = log_probs(0), log_probs(1), log_probs(2)
    views = 1 if cr_weight is None else 2
    top = a if views == 1 else torch.cat([a, b])
    inter = [mid if views == 1 else torch.cat([mid, mid])]
    lens = LENS.repeat(views)
    clean = training_loss(top, inter, lens, TARGETS, TARGET_LENS, 0, 0.3, cr_weight)
    garbage = torch.randn(top.shape).log_softmax(-1) * 50
    pad = torch.arange(T)[None, :, None] >= lens[:, None, None]
    dirty = training_loss(
        torch.where(pad, garbage, top),
        [torch.where(pad, garbage, inter[0])],
        lens,
        TARGETS,
        TARGET_LENS,
        0,
        0.3,
        cr_weight,
    )
    assert torch.allclose(clean, dirty)
