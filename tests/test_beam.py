import itertools

import numpy as np
import pytest
import torch

from asr.decoding import Hotwords, align, beam_decode, collapse, greedy_decode, prefix_beam_search
from asr.lm import CharLM, NGramLM, train_kneser_ney, write_arpa
from asr.vocab import Vocab

UNLIMITED = dict(beam=10**6, token_min_logp=-1e9, prune_topk=10**6, nbest=10**6)


def brute_force(lp: np.ndarray) -> dict[tuple, float]:
    """log P(labels | x) for every label sequence, summing all V^T alignments."""
    t, v = lp.shape
    probs: dict[tuple, float] = {}
    for path in itertools.product(range(v), repeat=t):
        lab = tuple(collapse(list(path)))
        probs[lab] = np.logaddexp(probs.get(lab, -np.inf), sum(lp[i, p] for i, p in enumerate(path)))
    return probs


@pytest.mark.parametrize("seed", range(12))
def test_beam_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    t, v = int(rng.integers(1, 7)), int(rng.integers(2, 5))
    lp = (
        torch.randn(t, v, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        .mul(2)
        .log_softmax(-1)
        .numpy()
    )
    exact = brute_force(lp)
    hyps = prefix_beam_search(lp, **UNLIMITED)
    assert len(hyps) == len(exact)
    for h in hyps:
        assert h.am_score == pytest.approx(exact[tuple(h.ids)], abs=1e-9)
    assert tuple(hyps[0].ids) == max(exact, key=exact.get)


def peaky(rng: np.random.Generator, t: int, v: int, dominance: float = 0.8) -> np.ndarray:
    """CTC-like posteriors: one unit (often blank) takes `dominance` of each frame's mass."""
    dom = np.where(rng.random(t) < 0.5, 0, rng.integers(0, v, t))
    p = rng.dirichlet(np.ones(v), t) * (1 - dominance)
    p[np.arange(t), dom] += dominance
    return np.log(p)


def textbook_beam(lp: np.ndarray, beam: int, lm=None, units=None, alpha=0.0) -> list[tuple[tuple, float]]:
    """The prefix beam search as written in the literature, slow and plain: every frame, every
    kept prefix tries every unit; prefixes are tuples; all of them are scored and the best
    `beam` kept. Returns (prefix, score) of the final beams, best first."""
    lse = np.logaddexp

    def lm_score(prefix, end=False):
        if lm is None:
            return 0.0
        state, total = lm.start(), 0.0
        for u in prefix:
            delta, state = lm.advance(state, units[u])
            total += delta
        return total + (lm.finish(state) if end else 0.0)

    beams = {(): (0.0, -np.inf)}  # prefix -> (log P ending in blank, log P ending in its last unit)
    for row in lp:
        nxt: dict[tuple, list] = {}
        for prefix, (pb, pnb) in beams.items():
            entry = nxt.setdefault(prefix, [-np.inf, -np.inf])
            entry[0] = lse(entry[0], lse(pb, pnb) + row[0])
            if prefix:
                entry[1] = lse(entry[1], pnb + row[prefix[-1]])
            for u in range(1, len(row)):
                src = pb if prefix and u == prefix[-1] else lse(pb, pnb)
                ext = nxt.setdefault(prefix + (u,), [-np.inf, -np.inf])
                ext[1] = lse(ext[1], src + row[u])
        scored = sorted(nxt.items(), key=lambda kv: lse(*kv[1]) + alpha * lm_score(kv[0]), reverse=True)
        beams = {k: tuple(v) for k, v in scored[:beam]}
    final = [(k, lse(*v) + alpha * lm_score(k, end=True)) for k, v in beams.items()]
    return sorted(final, key=lambda kv: kv[1], reverse=True)


@pytest.mark.parametrize("seed", range(6))
def test_pruned_beam_equals_the_textbook_search(seed, tmp_path):
    """With pruning at work (beam 3 of up to 7^T prefixes), the fast search keeps the same
    prefixes with the same scores as the plain one, with and without a character LM."""
    rng = np.random.default_rng(seed)
    vocab = Vocab(["<blank>", "<unk>", *"上海北京深圳"])
    write_arpa(tmp_path / "lm.arpa", train_kneser_ney([list("上海北京"), list("北京上海"), list("深圳")], 2))
    lm = CharLM(NGramLM.from_arpa(tmp_path / "lm.arpa"))
    for _ in range(20):
        lp = peaky(rng, int(rng.integers(5, 40)), len(vocab.units), dominance=float(rng.uniform(0.3, 0.9)))
        for kw in ({}, {"lm": lm, "units": vocab.units, "alpha": 0.7}):
            want = textbook_beam(lp, 3, **kw)
            got = prefix_beam_search(lp, beam=3, token_min_logp=-1e9, nbest=3, **kw)
            assert [tuple(h.ids) for h in got] == [p for p, _ in want]
            assert [h.score for h in got] == pytest.approx([s for _, s in want], abs=1e-9)


def test_beam_one_equals_greedy():
    # Beam 1 keeps the best prefix (summed over its alignments), greedy the best path; on
    # CTC-shaped posteriors, where one unit dominates each frame, the two agree.
    rng = np.random.default_rng(0)
    for _ in range(500):
        t, v = int(rng.integers(1, 60)), int(rng.integers(2, 12))
        lp = peaky(rng, t, v)
        greedy = greedy_decode(torch.from_numpy(lp)[None], torch.tensor([t]))[0].ids
        assert prefix_beam_search(lp, beam=1)[0].ids == greedy


VOCAB = Vocab(["<blank>", "<unk>", "好", "棒", "上", "海", "深", "圳", "台", "北"])


def frames(*rows: dict[str, float]) -> np.ndarray:
    """Log-posteriors from per-frame {unit: prob}; "-" is blank, the rest share what is left."""
    out = []
    for row in rows:
        p = np.full(len(VOCAB), 0.0)
        for unit, prob in row.items():
            p[VOCAB.blank if unit == "-" else VOCAB.units.index(unit)] = prob
        rest = 1 - p.sum()
        p[p == 0] = rest / (p == 0).sum()
        out.append(p)
    return np.log(np.array(out))


def text(hyp) -> str:
    return VOCAB.decode(hyp.ids)


def test_haobangbang_through_beam_search():
    with_blank = frames({"-": 0.9}, {"好": 0.9}, {"棒": 0.9}, {"-": 0.9}, {"棒": 0.9}, {"-": 0.9})
    without = frames({"-": 0.9}, {"好": 0.9}, {"棒": 0.9}, {"棒": 0.9}, {"棒": 0.9}, {"-": 0.9})
    assert text(prefix_beam_search(with_blank, beam=8)[0]) == "好棒棒"
    assert text(prefix_beam_search(without, beam=8)[0]) == "好棒"


def test_batch_wrapper_respects_lengths():
    lp = torch.from_numpy(
        np.stack([frames({"好": 0.9}, {"-": 0.9}, {"棒": 0.9}), frames({"好": 0.9}, {"棒": 0.9}, {"-": 0.9})])
    )
    out = beam_decode(lp, torch.tensor([2, 3]), beam=4)
    assert [text(h[0]) for h in out] == ["好", "好棒"]


@pytest.fixture
def lm(tmp_path):
    arpa = tmp_path / "lm.arpa"
    write_arpa(arpa, train_kneser_ney([list("上海"), list("深圳"), list("台北"), list("好棒")] * 3, order=3))
    return CharLM(NGramLM.from_arpa(arpa))


def test_language_model_resolves_an_ambiguous_case(lm):
    # acoustically 上圳 is best (0.6 * 0.5), but no such word exists; 上海 (0.6 * 0.45) does
    lp = frames({"上": 0.6, "深": 0.35}, {"-": 0.95}, {"圳": 0.5, "海": 0.45}, {"-": 0.95})
    assert text(prefix_beam_search(lp, beam=8)[0]) == "上圳"
    fused = prefix_beam_search(lp, beam=8, lm=lm, units=VOCAB.units, alpha=1.0, beta=0.0)[0]
    assert text(fused) == "上海"
    assert fused.lm_score < 0


def test_hotword_boost_changes_the_result():
    lp = frames({"上": 0.5, "台": 0.45}, {"-": 0.95}, {"北": 0.9}, {"-": 0.95})
    assert text(prefix_beam_search(lp, beam=8)[0]) == "上北"
    hot = Hotwords([VOCAB.encode("台北")], boost=1.0)
    assert text(prefix_beam_search(lp, beam=8, hotwords=hot)[0]) == "台北"


def test_unfinished_hotword_keeps_no_bonus():
    hot = Hotwords([VOCAB.encode("台北")], boost=2.0)
    d1, state = hot.advance(hot.start(), VOCAB.encode("台")[0])
    d2, state = hot.advance(state, VOCAB.encode("好")[0])
    assert d1 == 2.0 and d1 + d2 + hot.finish(state) == 0.0
    d1, state = hot.advance(hot.start(), VOCAB.encode("台")[0])
    d2, state = hot.advance(state, VOCAB.encode("北")[0])
    assert d1 + d2 + hot.finish(state) == 4.0


def test_alignment_spans_are_monotonic():
    lp = torch.from_numpy(
        frames({"-": 0.9}, {"好": 0.9}, {"好": 0.9}, {"棒": 0.9}, {"-": 0.9}, {"棒": 0.9}, {"-": 0.9})
    )
    spans = align(lp, VOCAB.encode("好棒棒"))
    assert [s[:3] for s in spans] == [(2, 1, 2), (3, 3, 3), (3, 5, 5)]
    assert all(s[3] == pytest.approx(0.9) for s in spans)  # mean posterior over each span


def test_beta_rewards_nothing_without_an_lm():
    rng = np.random.default_rng(3)
    lp = torch.log_softmax(torch.from_numpy(rng.normal(size=(30, len(VOCAB))) * 3), -1).numpy()
    plain = prefix_beam_search(lp, beam=8, beta=0.0, nbest=5)
    bonus = prefix_beam_search(lp, beam=8, beta=5.0, nbest=5)
    assert [h.ids for h in plain] == [h.ids for h in bonus]
    assert [h.score for h in plain] == [h.score for h in bonus]


def test_hotword_boost_does_not_pay_for_a_second_copy():
    # 台北 is spoken once; the frames after it hold weak echoes of 台 and 北 (p = e^-2.5 each)
    echo = float(np.exp(-2.5))
    lp = frames(
        {"台": 0.9},
        {"-": 0.95},
        {"北": 0.9},
        {"-": 0.95},
        {"台": echo, "-": 0.9},
        {"-": 0.95},
        {"北": echo, "-": 0.9},
        {"-": 0.95},
    )
    hot = Hotwords([VOCAB.encode("台北")], boost=1.5)
    for beta in (0.0, 1.0):
        assert text(prefix_beam_search(lp, beam=8, hotwords=hot, beta=beta)[0]) == "台北"
    # the boost is a price per unit: 3 nats a unit outbids the echoes' ~2.5
    assert text(prefix_beam_search(lp, beam=8, hotwords=Hotwords([VOCAB.encode("台北")], boost=3.0))[0]) == "台北台北"


WORDS = Vocab(["<blank>", "<unk>", *"一二三四台北京"])


def bonus(hot: Hotwords, chars: str) -> float:
    state, total = hot.start(), 0.0
    for c in WORDS.encode(chars):
        delta, state = hot.advance(state, c)
        total += delta
    return total + hot.finish(state)


def test_hotwords_follow_failure_links():
    hot = Hotwords([WORDS.encode(p) for p in ("一二三", "二四", "台北", "北京")], boost=1.0)
    assert bonus(hot, "一二四") == 2.0  # 二四 starts inside the broken 一二三 and still counts
    assert bonus(hot, "一二三") == 3.0
    assert bonus(hot, "一二") == 0.0  # unfinished: nothing kept
    assert bonus(hot, "一二三二四") == 5.0
    assert bonus(hot, "台北京") == 3.0  # 台北, then 北京 grows from its suffix 北
    assert bonus(hot, "台北台北") == 4.0  # each spoken occurrence earns its bonus
