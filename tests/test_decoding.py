import torch

from asr.decoding import collapse, greedy_decode
from asr.vocab import Vocab

VOCAB = Vocab(["<blank>", "<unk>", "好", "棒"])


def posteriors(frames: list[str]) -> torch.Tensor:
    """Hand-made (1, T, V) log-posteriors: 0.9 on the named unit of each frame."""
    index = {"-": 0, "好": 2, "棒": 3}
    p = torch.full((1, len(frames), len(VOCAB)), 0.1 / (len(VOCAB) - 1))
    for t, f in enumerate(frames):
        p[0, t, index[f]] = 0.9
    return p.log()


def decode(frames: list[str]) -> str:
    lp = posteriors(frames)
    return VOCAB.decode(greedy_decode(lp, torch.tensor([lp.shape[1]]), VOCAB.blank)[0])


def test_blank_between_repeats_keeps_both():
    assert decode(["-", "好", "好", "棒", "-", "棒", "-"]) == "好棒棒"


def test_repeats_without_blank_merge():
    assert decode(["-", "好", "好", "棒", "棒", "棒", "-"]) == "好棒"


def test_lengths_limit_decoding_and_collapse():
    lp = torch.cat([posteriors(["好", "-", "棒"]), posteriors(["好", "棒", "棒"])])
    assert greedy_decode(lp, torch.tensor([2, 3])) == [[2], [2, 3]]
    assert collapse([0, 2, 2, 0, 2, 3, 3]) == [2, 2, 3]
