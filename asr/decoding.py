"""Decoding CTC log-probabilities: pure functions on (B, T, V) tensors plus lengths."""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import torch
import torchaudio.functional as AF

from asr.errors import UserError


@dataclass(frozen=True)
class DecodeConfig:
    """Decoding defaults (a recipe's `decode` section); `asr transcribe/evaluate` options override them."""

    decoder: str = "greedy"  # greedy | beam
    beam: int = 10
    lm: str | None = None  # ARPA character LM (asr lm train) or a word-level KenLM model
    alpha: float = 0.5  # LM weight
    beta: float = 1.0  # insertion bonus per unit; applied with an LM only (it offsets the LM's cost)
    hotwords: str | None = None  # a file with one phrase per line
    hotword_boost: float = 1.5  # nats added per unit of a hotword phrase (sherpa-onnx's default)
    token_min_logp: float = -10.0  # per-frame pruning: units below this log-prob are not tried
    prune_topk: int = 40  # ... and at most this many per frame
    blank_skip: float | None = None  # skip frames whose blank probability is at least this

    def __post_init__(self) -> None:
        if self.decoder not in ("greedy", "beam"):
            raise UserError(f"decode.decoder: expected greedy or beam, got {self.decoder!r}")
        if self.beam < 1:
            raise UserError(f"decode.beam: must be >= 1, got {self.beam}")
        for name in ("alpha", "beta", "hotword_boost", "token_min_logp"):
            if not math.isfinite(getattr(self, name)):
                raise UserError(f"decode.{name}: must be a finite number, got {getattr(self, name)}")
        if self.hotword_boost < 0:
            raise UserError(f"decode.hotword_boost: a bonus, must be >= 0, got {self.hotword_boost}")


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


@dataclass
class Hypothesis:
    """One decoding result, whichever decoder found it."""

    ids: list[int]  # unit ids, blanks removed
    score: float  # what the decoder ranked by: am_score (+ alpha * lm_score + beta * len(ids) + hotword bonus)
    am_score: float  # beam: log P_ctc(ids | audio), summed over all alignments; greedy: the best path's log-prob
    lm_score: float = 0.0
    spans: list[tuple[int, int, int, float]] | None = None  # with times: (unit, first frame, last frame, posterior)


def greedy_decode(log_probs: torch.Tensor, lengths: torch.Tensor, blank: int = 0) -> list[Hypothesis]:
    """Best path decoding. log_probs: (B, T, V), lengths: (B,) -> one Hypothesis per utterance."""
    best, idx = log_probs.max(dim=-1)
    best, idx = best.float().cpu(), idx.cpu()
    out = []
    for b, n in enumerate(lengths.cpu().tolist()):
        path_score = float(best[b, :n].sum())
        out.append(Hypothesis(collapse(idx[b, :n].tolist(), blank), path_score, path_score))
    return out


NEG_INF = float("-inf")


def _lse(a: float, b: float) -> float:
    """log(exp(a) + exp(b)) for Python floats, exact at -inf."""
    if a < b:
        a, b = b, a
    if b == NEG_INF:
        return a
    return a + math.log1p(math.exp(b - a))


class Hotwords:
    """Phrases whose units earn a score bonus while a hypothesis spells them out.

    An Aho-Corasick automaton over unit-id sequences (a context graph, as in k2/icefall and
    sherpa-onnx): each unit that extends a match earns `boost`; when the next unit breaks the
    match, the hypothesis falls back along failure links to the longest suffix of what it emitted
    that still begins some phrase, and the bonus of the broken part is taken back. Only phrases
    spelled out in full keep their bonus. State: (node, secured), `secured` being the bonus of
    the phrases completed along the current match, which a later break does not take back.

    The boost is a price in nats per unit: a phrase wins wherever each of its units is within
    `boost` of the competing reading in the acoustic log-probs, so it can also pay for a phrase
    the audio supports only that weakly. It buys nothing for units the audio does not hold at all
    (below `token_min_logp` they are never tried) and, unlike an insertion bonus, nothing for
    units outside the phrases.
    """

    ROOT = 0

    def __init__(self, phrases: list[list[int]], boost: float) -> None:
        if boost < 0:
            raise ValueError("the hotword boost is a bonus: >= 0")
        self.boost = boost
        self.children: list[dict[int, int]] = [{}]
        self.depth: list[int] = [0]
        self.final: list[bool] = [False]
        for ids in phrases:
            node = self.ROOT
            for i in ids:
                if i not in self.children[node]:
                    self.children.append({})
                    self.depth.append(self.depth[node] + 1)
                    self.final.append(False)
                    self.children[node][i] = len(self.children) - 1
                node = self.children[node][i]
            if ids:
                self.final[node] = True
        n = len(self.children)
        self.fail = [self.ROOT] * n
        self.secure = [0.0] * n  # bonus of the longest phrase that ends at this node's suffixes
        queue = deque(self.children[self.ROOT].values())  # the root's children fail to the root
        for child in queue:
            self.secure[child] = self._potential(child) if self.final[child] else 0.0
        while queue:  # breadth first: a node's failure target is shallower, hence done before it
            node = queue.popleft()
            for unit, child in self.children[node].items():
                self.fail[child] = self._follow(self.fail[node], unit)
                self.secure[child] = self._potential(child) if self.final[child] else self.secure[self.fail[child]]
                queue.append(child)

    def _potential(self, node: int) -> float:
        return self.depth[node] * self.boost

    def _follow(self, node: int, unit: int) -> int:
        """Where `unit` leads from `node` or, failing that, from its failure chain (the root at worst)."""
        while node != self.ROOT and unit not in self.children[node]:
            node = self.fail[node]
        return self.children[node].get(unit, self.ROOT)

    def start(self) -> tuple[int, float]:
        return (self.ROOT, 0.0)

    def advance(self, state: tuple[int, float], unit: int) -> tuple[float, tuple[int, float]]:
        """(bonus change, next state) when a hypothesis in `state` emits `unit`."""
        node, secured = state
        nxt = self.children[node].get(unit)
        if nxt is not None:  # the match goes on
            delta = self.boost
        else:  # it breaks: take back what is not secured, restart from the longest live suffix
            nxt = self._follow(self.fail[node], unit)
            delta = secured - self._potential(node) + self._potential(nxt)
            secured = 0.0
        secured = max(secured, self.secure[nxt])
        if self.final[nxt] and not self.children[nxt]:
            # nothing longer to match: the phrase is banked; go on from its longest suffix that
            # begins another phrase, whose bonus is part of the banked one (so secured)
            f = self.fail[nxt]
            return delta, (f, self._potential(f))
        return delta, (nxt, secured)

    def finish(self, state: tuple[int, float]) -> float:
        """Take back the bonus of a phrase left unfinished at the end."""
        node, secured = state
        return secured - self._potential(node)


def _frame_candidates(
    lp: np.ndarray, blank: int, min_logp: float, topk: int, blank_skip: float | None
) -> list[list[tuple[int, float]]]:
    """Per frame, the non-blank units worth trying: log-prob >= min_logp (the frame's best unit
    always, unless it is blank), at most topk of them; none where blank_skip applies.

    One flat threshold pass over (T, V) instead of per-row sorting: with CTC's peaky
    posteriors only a handful of entries pass.
    """
    t_max, vocab = lp.shape
    flat = np.flatnonzero(lp >= min_logp)
    rows, cols = np.divmod(flat, vocab)
    counts = np.bincount(rows, minlength=t_max)
    out: list[list[tuple[int, float]]] = [[] for _ in range(t_max)]
    for r, c in zip(rows.tolist(), cols.tolist()):
        if c != blank:
            out[r].append((c, float(lp[r, c])))
    for r in np.flatnonzero(counts == 0).tolist():  # nothing passed: the best unit still may
        c = int(lp[r].argmax())
        if c != blank:
            out[r].append((c, float(lp[r, c])))
    if blank_skip:  # blank_skip > 0.5, so blank is the frame's best unit
        for r in np.flatnonzero(lp[:, blank] >= math.log(blank_skip)).tolist():
            out[r] = []
    for r in np.flatnonzero(counts > topk).tolist():
        out[r] = heapq.nlargest(topk, out[r], key=lambda cv: cv[1])
    return out


class _Prefix:
    __slots__ = ("pb", "pnb", "lm", "lm_state", "hot", "hot_state")

    def __init__(self, lm: float, lm_state, hot: float, hot_state) -> None:
        self.pb = NEG_INF  # log prob of the prefix with its alignments ending in blank
        self.pnb = NEG_INF  # ... ending in its last unit
        self.lm, self.lm_state, self.hot, self.hot_state = lm, lm_state, hot, hot_state


def prefix_beam_search(
    log_probs: np.ndarray,
    beam: int = 10,
    blank: int = 0,
    token_min_logp: float = -10.0,
    prune_topk: int = 40,
    blank_skip: float | None = None,
    lm=None,
    units: list[str] | None = None,
    alpha: float = 0.5,
    beta: float = 0.0,
    hotwords: Hotwords | None = None,
    nbest: int = 1,
) -> list[Hypothesis]:
    """CTC prefix beam search over one utterance's log_probs (T, V) (numpy, natural log).

    Keeps, for every prefix, the probability of its alignments ending in blank and in its last
    unit, so a repeated unit extends the prefix only across a blank. Per frame, only units with
    log-prob >= token_min_logp, at most prune_topk of them, are tried (the best one always);
    with blank_skip = p, frames whose blank probability is >= p only advance blank endings.
    `lm` (CharLM/WordLM over `units`) is fused with weight alpha, and beta, an insertion bonus
    per unit, offsets the LM's per-unit cost. Without an LM there is no such cost, and beta is
    not applied: a bonus for every emitted unit would only reward insertions.
    Returns the nbest hypotheses, best first.
    """
    t_max, vocab = log_probs.shape
    if lm is not None and units is None:
        raise ValueError("an LM needs the unit strings")
    if blank_skip is not None and not 0.5 < blank_skip <= 1.0:
        raise ValueError("blank_skip is a probability above 0.5")
    if lm is None:
        beta = 0.0
    lp = np.asarray(log_probs)
    cands = _frame_candidates(lp, blank, token_min_logp, prune_topk, blank_skip)
    blank_lp = lp[:, blank].tolist()

    beams = {(): _Prefix(0.0, lm.start() if lm else None, 0.0, hotwords.start() if hotwords else None)}
    beams[()].pb = 0.0

    def total(item: tuple[tuple, _Prefix]) -> float:
        p, b = item
        return _lse(b.pb, b.pnb) + alpha * b.lm + beta * len(p) + b.hot

    for t in range(t_max):
        p_blank = blank_lp[t]
        row = lp[t]
        if not cands[t]:  # nothing to extend with: every prefix only absorbs this frame
            for prefix, b in beams.items():
                p_all = _lse(b.pb, b.pnb)
                b.pnb = b.pnb + float(row[prefix[-1]]) if prefix else NEG_INF
                b.pb = p_all + p_blank
            continue
        nxt: dict[tuple, _Prefix] = {}
        for prefix, b in beams.items():
            p_all = _lse(b.pb, b.pnb)
            same = nxt.get(prefix)
            if same is None:
                same = nxt[prefix] = _Prefix(b.lm, b.lm_state, b.hot, b.hot_state)
            same.pb = _lse(same.pb, p_all + p_blank)
            last = prefix[-1] if prefix else None
            if last is not None:
                same.pnb = _lse(same.pnb, b.pnb + float(row[last]))  # the last unit continues
            for c, p_c in cands[t]:
                src = b.pb if c == last else p_all  # a repeat extends only across a blank
                if src == NEG_INF:
                    continue
                ext_prefix = prefix + (c,)
                ext = nxt.get(ext_prefix)
                if ext is None:
                    ext = beams.get(ext_prefix)
                    if ext is not None:  # already a beam: keep its LM/hotword state, fresh probs
                        ext = _Prefix(ext.lm, ext.lm_state, ext.hot, ext.hot_state)
                    else:
                        lm_delta, lm_state = lm.advance(b.lm_state, units[c]) if lm else (0.0, None)
                        hot_delta, hot_state = hotwords.advance(b.hot_state, c) if hotwords else (0.0, None)
                        ext = _Prefix(b.lm + lm_delta, lm_state, b.hot + hot_delta, hot_state)
                    nxt[ext_prefix] = ext
                ext.pnb = _lse(ext.pnb, src + p_c)
        beams = dict(heapq.nlargest(beam, nxt.items(), key=total)) if len(nxt) > beam else nxt

    hyps = []
    for prefix, b in beams.items():
        if b.pb == NEG_INF and b.pnb == NEG_INF:
            continue
        lm_score = b.lm + (lm.finish(b.lm_state) if lm else 0.0)
        hot = b.hot + (hotwords.finish(b.hot_state) if hotwords else 0.0)
        am = _lse(b.pb, b.pnb)
        hyps.append(Hypothesis(list(prefix), am + alpha * lm_score + beta * len(prefix) + hot, am, lm_score))
    hyps.sort(key=lambda h: h.score, reverse=True)
    return hyps[:nbest]


def beam_decode(log_probs: torch.Tensor, lengths: torch.Tensor, **kw) -> list[list[Hypothesis]]:
    """prefix_beam_search for each utterance of a batch: (B, T, V) + (B,) -> n-best lists."""
    lp = log_probs.detach().float().cpu().numpy()
    return [prefix_beam_search(lp[b, : int(n)], **kw) for b, n in enumerate(lengths.cpu())]


def decode(
    log_probs: torch.Tensor,
    lengths: torch.Tensor,
    cfg: DecodeConfig,
    blank: int = 0,
    lm=None,
    units: list[str] | None = None,
    hotwords: Hotwords | None = None,
    nbest: int = 1,
    times: bool = False,
) -> list[list[Hypothesis]]:
    """Decode a batch as `cfg` says: (B, T, V) + (B,) -> an n-best list per utterance, best first
    (greedy's holds one). With `times`, the best hypothesis gets its units' frame spans."""
    if cfg.decoder == "greedy":
        nbests = [[h] for h in greedy_decode(log_probs, lengths, blank)]
    else:
        nbests = beam_decode(
            log_probs,
            lengths,
            beam=cfg.beam,
            blank=blank,
            token_min_logp=cfg.token_min_logp,
            prune_topk=cfg.prune_topk,
            blank_skip=cfg.blank_skip,
            lm=lm,
            units=units,
            alpha=cfg.alpha,
            beta=cfg.beta,
            hotwords=hotwords,
            nbest=max(nbest, 1),
        )
        nbests = [hyps or [Hypothesis([], float("-inf"), float("-inf"))] for hyps in nbests]
    if times:
        for hyps, lp, n in zip(nbests, log_probs, lengths.tolist()):
            hyps[0].spans = align(lp[:n], hyps[0].ids, blank)
    return nbests


def align(log_probs: torch.Tensor, ids: list[int], blank: int = 0) -> list[tuple[int, int, int, float]]:
    """Viterbi (forced) alignment of `ids` to one utterance's log_probs (T, V).

    Returns (unit, first_frame, last_frame, mean posterior over those frames) per unit,
    monotonic, via torchaudio's forced_align.
    """
    if not ids:
        return []
    targets = torch.tensor([ids], dtype=torch.int32)
    frames, scores = AF.forced_align(log_probs[None].float().cpu(), targets, blank=blank)
    spans = AF.merge_tokens(frames[0], scores[0].exp(), blank=blank)
    return [(s.token, s.start, s.end - 1, float(s.score)) for s in spans]
