import torch

from asr.model import CTCModel, Dropout, ModelConfig, reverse_padded


def test_reverse_within_length():
    x = torch.arange(10.0).reshape(2, 5, 1)
    out = reverse_padded(x, torch.tensor([5, 3]))
    assert out[0, :, 0].tolist() == [4, 3, 2, 1, 0]
    assert out[1, :, 0].tolist() == [7, 6, 5, 8, 9]  # padding stays in place


def test_padding_does_not_change_outputs():
    torch.manual_seed(0)
    model = CTCModel(39, 12, ModelConfig(hidden=32, layers=3, dropout=0.0, stack=3)).eval()
    lengths = torch.tensor([61, 40, 7, 59])
    feats = torch.randn(4, 61, 39) * 5
    feats[1, 40:] = 1000.0  # garbage in the padding must not leak into any output
    with torch.no_grad():
        batched, out_lens = model(feats, lengths)
        assert out_lens.tolist() == [21, 14, 3, 20]
        for b, n in enumerate(lengths.tolist()):
            alone, alone_len = model(feats[b : b + 1, :n], lengths[b : b + 1])
            assert alone_len.item() == out_lens[b].item()
            assert torch.allclose(alone[0], batched[b, : out_lens[b]], atol=1e-5)


def test_outputs_are_log_probabilities():
    model = CTCModel(13, 7, ModelConfig(hidden=16, layers=1, stack=1)).eval()
    lp, _ = model(torch.randn(2, 9, 13), torch.tensor([9, 4]))
    assert lp.shape == (2, 9, 7)
    assert torch.allclose(lp.exp().sum(-1), torch.ones(2, 9), atol=1e-5)


def test_inter_ctc_layers_change_training_s_view_only():
    """The output layer reads the listed layers too (forward_inter); forward, what inference runs,
    is the same with or without them, and they add no weights."""
    torch.manual_seed(0)
    plain = CTCModel(13, 7, ModelConfig(hidden=16, layers=3, dropout=0.0, stack=2)).eval()
    inter = CTCModel(13, 7, ModelConfig(hidden=16, layers=3, dropout=0.0, stack=2, inter_ctc_layers=(2, 1))).eval()
    inter.load_state_dict(plain.state_dict())  # the same keys: no new weights
    feats, lens = torch.randn(2, 11, 13), torch.tensor([11, 6])
    with torch.no_grad():
        lp, out_lens = plain(feats, lens)
        lp2, out_lens2 = inter(feats, lens)
        top, out_lens3, (second, first) = inter.forward_inter(feats, lens)
        assert torch.equal(lp, lp2) and torch.equal(lp, top) and torch.equal(out_lens, out_lens3)
        h = ((feats - inter.cmvn_mean) / inter.cmvn_std) * (torch.arange(11)[None, :] < lens[:, None])[..., None]
        h = torch.nn.functional.pad(h, (0, 0, 0, 1)).reshape(2, 6, 26)
        h1 = inter.layers[0](h, out_lens)
        h2 = inter.layers[1](h1, out_lens)
        assert torch.allclose(first, inter.output(h1).log_softmax(-1), atol=1e-6)
        assert torch.allclose(second, inter.output(h2).log_softmax(-1), atol=1e-6)


def test_dropout_keeps_one_minus_p_and_rescales():
    torch.manual_seed(0)
    drop = Dropout(0.25)
    x = torch.ones(200, 500)
    y = drop(x)
    kept = y != 0
    assert abs(kept.float().mean().item() - 0.75) < 0.01  # 100,000 draws: the share is within 1%
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / 0.75))
    assert drop(x).ne(y).any()  # a fresh mask every call
    drop.eval()
    assert drop(x) is x
    assert Dropout(0.0).train()(x) is x
    assert torch.equal(Dropout(1.0).train()(x), torch.zeros_like(x))


def test_dropout_gradient_follows_the_mask():
    torch.manual_seed(1)
    x = torch.randn(8, 30, requires_grad=True)
    y = Dropout(0.5)(x)
    y.sum().backward()
    assert torch.equal(x.grad, (y != 0).float() * 2.0)
