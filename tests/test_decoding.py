import numpy as np
import torch
import torchaudio.functional as AF

from asr.decoding import align, collapse, greedy_decode, token_spans
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
    return VOCAB.decode(greedy_decode(lp, torch.tensor([lp.shape[1]]), VOCAB.blank)[0].ids)


def test_blank_between_repeats_keeps_both():
    assert decode(["-", "好", "好", "棒", "-", "棒", "-"]) == "好棒棒"


def test_repeats_without_blank_merge():
    assert decode(["-", "好", "好", "棒", "棒", "棒", "-"]) == "好棒"


def test_lengths_limit_decoding_and_collapse():
    lp = torch.cat([posteriors(["好", "-", "棒"]), posteriors(["好", "棒", "棒"])])
    assert [h.ids for h in greedy_decode(lp, torch.tensor([2, 3]))] == [[2], [2, 3]]
    assert collapse([0, 2, 2, 0, 2, 3, 3]) == [2, 2, 3]


def test_greedy_and_beam_return_the_same_result_type():
    from asr.decoding import DecodeConfig, Hypothesis, decode

    lp = torch.cat([posteriors(["-", "好", "-", "棒", "-", "棒"])])
    lens = torch.tensor([lp.shape[1]])
    for cfg in (DecodeConfig(decoder="greedy"), DecodeConfig(decoder="beam", beam=4)):
        (hyps,) = decode(lp, lens, cfg, VOCAB.blank, nbest=3, times=True)
        best = hyps[0]
        assert isinstance(best, Hypothesis) and VOCAB.decode(best.ids) == "好棒棒"
        assert best.score <= 0 and [s[0] for s in best.spans] == best.ids
        assert [s[1] for s in best.spans] == [1, 3, 5]  # each unit's frame
    assert len(decode(lp, lens, DecodeConfig(decoder="greedy"), nbest=3)[0]) == 1


def test_token_spans_are_torchaudios_merged_tokens():
    rng = np.random.default_rng(0)
    for _ in range(50):
        path = rng.choice([0, 0, 0, 1, 2, 3], size=int(rng.integers(1, 40)))
        post = rng.random(len(path)).astype(np.float32)
        ours = token_spans(path, post)
        theirs = AF.merge_tokens(torch.from_numpy(path), torch.from_numpy(post))
        assert [s[:3] for s in ours] == [(t.token, t.start, t.end - 1) for t in theirs]
        assert np.allclose([s[3] for s in ours], [t.score for t in theirs], atol=1e-6)


def test_greedys_best_path_is_the_alignment_forced_alignment_finds():
    # random peaky posteriors: greedy's ids, aligned by the search and read off the best path
    rng = np.random.default_rng(1)
    for _ in range(30):
        lp = torch.log_softmax(torch.from_numpy(rng.normal(size=(60, len(VOCAB))) * 4).float(), -1)
        [hyp] = greedy_decode(lp[None], torch.tensor([60]), VOCAB.blank)
        if hyp.ids:
            assert align(lp, hyp.ids, best_path=True) == align(lp, hyp.ids)


def test_the_best_path_read_where_units_tie_and_the_search_where_it_is_not_the_ids():
    # frame 1: blank and 棒 tie for the best, as bf16 log-probs often do; the best path keeps the blank
    p = torch.tensor([[0.1, 0.0, 0.8, 0.1], [0.45, 0.0, 0.1, 0.45], [0.1, 0.0, 0.1, 0.8]])
    lp = p.clamp_min(1e-6).log()
    [hyp] = greedy_decode(lp[None], torch.tensor([3]), VOCAB.blank)
    spans = align(lp, hyp.ids, best_path=True)
    assert [s[:3] for s in spans] == [(2, 0, 0), (3, 2, 2)]  # on the best path, frame by frame
    searched = align(lp, hyp.ids)
    assert [s[0] for s in searched] == hyp.ids == [2, 3]  # the search may take the tie either way
    # ids the best path does not collapse to: aligned by the search
    assert align(lp, [3, 2], best_path=True) == align(lp, [3, 2])
