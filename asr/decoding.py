"""Decoding CTC log-probabilities: pure functions on (B, T, V) tensors plus lengths."""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torchaudio.functional as AF

from asr.chartimes import one_syllable_each, refine
from asr.errors import UserError
from asr.scorer import Scorer


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
        from asr.errors import check_ranges

        # blank_skip above 0.5: a skipped frame's best unit is blank, so the best path is kept
        check_ranges(
            "decode",
            self,
            beam="[1, inf)",
            alpha="[-inf, inf]",
            beta="[-inf, inf]",
            hotword_boost="[0, inf)",
            token_min_logp="[-inf, 0]",
            prune_topk="[1, inf)",
            **({"blank_skip": "(0.5, 1]"} if self.blank_skip is not None else {}),
        )


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
    owned: list[tuple[float, float]] | None = None  # with times: each unit's frames [start, end) (owned_frames)


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
    units = cols != blank
    rows, cols = rows[units], cols[units]
    out: list[list[tuple[int, float]]] = [[] for _ in range(t_max)]
    for r, c, v in zip(rows.tolist(), cols.tolist(), lp[rows, cols].tolist()):
        out[r].append((c, v))
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


NEG_INF = float("-inf")


class _Scoring:
    """What a beam's total score adds to its acoustic one, fixed for one search."""

    __slots__ = ("lm", "units", "alpha", "beta", "hotwords", "plain", "capped")

    def __init__(
        self, lm: Scorer[Any, str] | None, units: list[str] | None, alpha: float, beta: float, hotwords: Hotwords | None
    ) -> None:
        if lm is not None and units is None:
            raise ValueError("an LM needs the unit strings")
        self.lm, self.alpha, self.beta, self.hotwords = lm, alpha, beta, hotwords
        self.units: list[str] = units or []  # what the LM reads for each unit id
        self.plain = lm is None and hotwords is None  # the score is the acoustic one: adding 0.0s is exact
        self.capped = hotwords is None and alpha >= 0  # an LM step (log P <= 0) can only lower the score


class _Trie:
    """Prefixes as nodes of a trie, so that beams are keyed by an int (a tuple key would be
    hashed over its whole length at every lookup): node 0 is the empty prefix, node k extends
    parent[k] by unit[k]; kids[node][unit] is the node that extends it by unit."""

    def __init__(self) -> None:
        self.parent, self.unit = [-1], [-1]
        self.kids: list[dict[int, int]] = [{}]

    def add(self, node: int, u: int) -> int:
        key = self.kids[node][u] = len(self.parent)
        self.parent.append(node)
        self.unit.append(u)
        self.kids.append({})
        return key

    def ids(self, node: int) -> list[int]:
        out = []
        while node:
            out.append(self.unit[node])
            node = self.parent[node]
        return out[::-1]


def prefix_beam_search(
    log_probs: np.ndarray,
    beam: int = 10,
    blank: int = 0,
    token_min_logp: float = -10.0,
    prune_topk: int = 40,
    blank_skip: float | None = None,
    lm: Scorer[Any, str] | None = None,
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
    `lm` (a Scorer of unit strings, asr/scorer.py: CharLM, KenLM or WordLM, reading `units`) is
    fused with weight alpha, and beta, an insertion bonus per unit, offsets the LM's per-unit cost.
    Without an LM there is no such cost, and beta is not applied: a bonus for every emitted unit
    would only reward insertions.
    Returns the nbest hypotheses, best first.

    A beam is a list [pb, pnb, lm score, lm state, hotword bonus, hotword state, units]: pb/pnb
    the log probability of its alignments ending in blank / in its last unit, keyed by its trie
    node. The work is split by how often it runs: per run of frames with nothing to extend
    (_absorb), per frame (_extend, _best), once (_hypotheses); the per-candidate loop inside
    _extend writes log(exp(a) + exp(b)) out inline, where it is hot (exact at -inf).
    """
    t_max, vocab = log_probs.shape
    if blank_skip is not None and not 0.5 < blank_skip <= 1.0:
        raise ValueError("blank_skip is a probability above 0.5")
    scoring = _Scoring(lm, units, alpha, beta if lm is not None else 0.0, hotwords)
    lp = np.asarray(log_probs)
    cands = _frame_candidates(lp, blank, token_min_logp, prune_topk, blank_skip)
    blank_lp = lp[:, blank].tolist()
    trie = _Trie()
    beams: dict[int, list] = {
        0: [0.0, NEG_INF, 0.0, lm.start() if lm else None, 0.0, hotwords.start() if hotwords else None, 0]
    }
    t = 0
    while t < t_max:
        if not cands[t]:  # a run of frames with nothing to extend: every prefix only absorbs them
            end = t + 1
            while end < t_max and not cands[end]:
                end += 1
            _absorb(beams, lp, blank_lp, trie.unit, t, end)
            t = end
            continue
        nxt = _extend(beams, lp[t], blank_lp[t], cands[t], trie, beam, scoring)
        beams = _best(nxt, beam, trie, scoring)
        t += 1
    return _hypotheses(beams, trie, scoring)[:nbest]


def _absorb(beams: dict[int, list], lp: np.ndarray, blank_lp: list[float], unit: list[int], t: int, end: int) -> None:
    """Frames t..end-1 where no unit is worth trying: each beam stays in blank or its last unit."""
    log1p, exp, NEG_INF = math.log1p, math.exp, float("-inf")  # noqa: N806 (locals: read in the inner loop)
    blanks = blank_lp[t:end]
    for node, b in beams.items():
        pb, pnb = b[0], b[1]
        stay = lp[t:end, unit[node]].tolist() if node else [NEG_INF] * (end - t)
        for p_blank, p_last in zip(blanks, stay):
            if pb >= pnb:
                p_all = pb if pnb == NEG_INF else pb + log1p(exp(pnb - pb))
            else:
                p_all = pnb if pb == NEG_INF else pnb + log1p(exp(pb - pnb))
            pnb = pnb + p_last
            pb = p_all + p_blank
        b[0], b[1] = pb, pnb


def _floor(pre: list[tuple], p_blank: float, beam: int, scoring: _Scoring) -> float:
    """A floor under the beam-th best score of this frame: each prefix that stays ends the frame
    at least at its own score without merges, and a new prefix has one way in, hence its final
    score from the start: below the floor it would be pruned, so it is not made (the margin
    covers rounding: what survives is what pruning all would keep)."""
    if len(pre) < beam:
        return NEG_INF
    log1p, exp = math.log1p, math.exp
    plain, alpha, beta = scoring.plain, scoring.alpha, scoring.beta
    bounds = []
    for _, b, _, p_all, stay in pre:
        x = p_all + p_blank
        if x >= stay:
            v = x if stay == NEG_INF else x + log1p(exp(stay - x))
        else:
            v = stay if x == NEG_INF else stay + log1p(exp(x - stay))
        bounds.append(v if plain else v + alpha * b[2] + beta * b[6] + b[4])
    bounds.sort(reverse=True)
    return bounds[beam - 1] - 1e-6


def _extend(
    beams: dict[int, list], row: np.ndarray, p_blank: float, frame: list, trie: _Trie, beam: int, scoring: _Scoring
) -> dict[int | tuple[int, int], list]:
    """One frame: every beam stays (blank, or its last unit again) and extends by the frame's
    candidates. An extension that is no node yet (most are pruned at once) is keyed by (node,
    unit) until it survives the frame (_best)."""
    log1p, exp, NEG_INF = math.log1p, math.exp, float("-inf")  # noqa: N806 (locals: read in the innermost loops)
    plain, capped, alpha, beta = scoring.plain, scoring.capped, scoring.alpha, scoring.beta
    lm, units, hotwords, unit, kids = scoring.lm, scoring.units, scoring.hotwords, trie.unit, trie.kids
    pre = []  # per beam: node, beam, pb, log(P(prefix)), pnb carried by the last unit
    for node, b in beams.items():
        pb, pnb = b[0], b[1]
        if pb >= pnb:
            p_all = pb if pnb == NEG_INF else pb + log1p(exp(pnb - pb))
        else:
            p_all = pnb if pb == NEG_INF else pnb + log1p(exp(pb - pnb))
        pre.append((node, b, pb, p_all, pnb + float(row[unit[node]]) if node else NEG_INF))
    floor = _floor(pre, p_blank, beam, scoring)
    nxt: dict[int | tuple[int, int], list] = {}
    for node, b, pb, p_all, stay in pre:
        last = unit[node]
        same = nxt.get(node)
        if same is None:  # (log(exp(-inf) + exp(x)) is x); b itself is read no more this frame
            b[0], b[1] = p_all + p_blank, stay  # but for its LM/hotword state and length
            nxt[node] = b
        else:  # it is already there as the extension of a shorter prefix
            same[0] = _lse(same[0], p_all + p_blank)
            same[1] = _lse(same[1], stay)
        # what a new prefix from this one must bring to reach the floor (an LM step only costs)
        need = floor if plain else floor - (alpha * b[2] + beta * (b[6] + 1) + b[4]) if capped else NEG_INF
        for u, p_u in frame:
            src = pb if u == last else p_all  # a repeat extends only across a blank
            if src == NEG_INF:
                continue
            v = src + p_u
            ext_node = kids[node].get(u)
            if ext_node is not None:
                ext = nxt.get(ext_node)
                if ext is not None:
                    ext[1] = _lse(ext[1], v)
                    continue
                old = beams.get(ext_node)
                if old is not None:  # already a beam: keep its LM/hotword state, fresh probs
                    nxt[ext_node] = [NEG_INF, v, old[2], old[3], old[4], old[5], old[6]]
                    continue
            if v < need:
                continue
            if plain:
                nxt[(node, u) if ext_node is None else ext_node] = [NEG_INF, v, b[2], None, b[4], None, b[6] + 1]
                continue
            lm_delta, lm_state = lm.advance(b[3], units[u]) if lm else (0.0, None)
            hot_delta, hot_state = hotwords.advance(b[5], u) if hotwords else (0.0, None)
            entry = [NEG_INF, v, b[2] + lm_delta, lm_state, b[4] + hot_delta, hot_state, b[6] + 1]
            if v + alpha * entry[2] + beta * entry[6] + entry[4] >= floor:
                nxt[(node, u) if ext_node is None else ext_node] = entry
    return nxt


def _best(nxt: dict[int | tuple[int, int], list], beam: int, trie: _Trie, scoring: _Scoring) -> dict[int, list]:
    """The best `beam` of a frame's beams (equal scores keep their order, as a stable sort);
    a new prefix that survived becomes a trie node."""
    log1p, exp = math.log1p, math.exp
    plain, alpha, beta = scoring.plain, scoring.alpha, scoring.beta
    items = list(nxt.items())
    if len(items) > beam:
        scores = []
        for _, b in items:
            pb, pnb = b[0], b[1]
            if pb >= pnb:
                p_all = pb if pnb == NEG_INF else pb + log1p(exp(pnb - pb))
            else:
                p_all = pnb if pb == NEG_INF else pnb + log1p(exp(pb - pnb))
            scores.append(p_all if plain else p_all + alpha * b[2] + beta * b[6] + b[4])
        items = [items[i] for i in sorted(range(len(items)), key=scores.__getitem__, reverse=True)[:beam]]
    beams: dict[int, list] = {}
    add = trie.add
    for key, b in items:
        beams[add(*key) if isinstance(key, tuple) else key] = b
    return beams


def _hypotheses(beams: dict[int, list], trie: _Trie, scoring: _Scoring) -> list[Hypothesis]:
    """The final beams as hypotheses, best first, with the LM's end of sentence and the
    hotwords' unfinished phrases settled."""
    lm, hotwords, alpha, beta = scoring.lm, scoring.hotwords, scoring.alpha, scoring.beta
    hyps = []
    for node, b in beams.items():
        if b[0] == NEG_INF and b[1] == NEG_INF:
            continue
        ids = trie.ids(node)
        lm_score = b[2] + (lm.finish(b[3]) if lm else 0.0)
        hot = b[4] + (hotwords.finish(b[5]) if hotwords else 0.0)
        am = _lse(b[0], b[1])
        hyps.append(Hypothesis(ids, am + alpha * lm_score + beta * len(ids) + hot, am, lm_score))
    hyps.sort(key=lambda h: h.score, reverse=True)
    return hyps


def beam_decode(log_probs: torch.Tensor, lengths: torch.Tensor, **kw: Any) -> list[list[Hypothesis]]:
    """prefix_beam_search for each utterance of a batch: (B, T, V) + (B,) -> n-best lists; `kw`
    are prefix_beam_search's settings."""
    lp = log_probs.detach().float().cpu().numpy()
    return [prefix_beam_search(lp[b, : int(n)], **kw) for b, n in enumerate(lengths.cpu())]


def decode(
    log_probs: torch.Tensor,
    lengths: torch.Tensor,
    cfg: DecodeConfig,
    blank: int = 0,
    lm: Scorer[Any, str] | None = None,
    units: list[str] | None = None,
    hotwords: Hotwords | None = None,
    nbest: int = 1,
    times: bool = False,
    energy_db: Sequence[np.ndarray] | None = None,
    sub: int = 1,
) -> list[list[Hypothesis]]:
    """Decode a batch as `cfg` says: (B, T, V) + (B,) -> an n-best list per utterance, best first
    (greedy's holds one). With `times`, the best hypothesis gets its units' spikes and the frames
    each owns (owned_frames; with each utterance's signal `energy_db`, `sub` frames of it per
    model frame)."""
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
        for b, (hyps, lp, n) in enumerate(zip(nbests, log_probs, lengths.tolist())):
            # greedy's best path collapses to its own ids and no path scores higher: a Viterbi alignment of them
            hyps[0].spans = align(lp[:n], hyps[0].ids, blank, best_path=cfg.decoder == "greedy")
            syllabic = units is not None and one_syllable_each([units[u] for u in hyps[0].ids])
            hyps[0].owned = owned_frames(
                lp[:n], hyps[0].spans, energy_db[b] if energy_db else None, sub, syllabic=syllabic
            )
    return nbests


def align(
    log_probs: torch.Tensor, ids: list[int], blank: int = 0, best_path: bool = False
) -> list[tuple[int, int, int, float]]:
    """Viterbi (forced) alignment of `ids` to one utterance's log_probs (T, V).

    Returns (unit, first_frame, last_frame, mean posterior over those frames) per unit,
    monotonic, via torchaudio's forced_align. `best_path`: `ids` are likely what the best path
    (each frame's most likely unit) collapses to, as greedy decoding finds them; that path is then
    a Viterbi alignment of them, read off without a search (where two units tie for a frame's
    best, as bf16 log-probs often do, it may not be the one forced_align picks: the same score,
    other spans). Where the path does not collapse to `ids`, they are aligned by the search.
    """
    if not ids:
        return []
    lp = log_probs.detach().float().cpu()
    if best_path:
        scores, path = lp.max(dim=-1)
        spans = token_spans(path.numpy(), scores.exp().numpy(), blank)
        if [u for u, _, _, _ in spans] == ids:
            return spans
    frames, scores = AF.forced_align(lp[None], torch.tensor([ids], dtype=torch.int32), blank=blank)
    return token_spans(frames[0].numpy(), scores[0].exp().numpy(), blank)


def token_spans(path: np.ndarray, posteriors: np.ndarray, blank: int = 0) -> list[tuple[int, int, int, float]]:
    """A frame-level CTC path's units: (T,) unit per frame and (T,) posteriors -> (unit, first
    frame, last frame, mean posterior over them) for each run of one unit that is not blank
    (torchaudio's merge_tokens, without a Python step per frame)."""
    if not len(path):
        return []
    bounds = np.flatnonzero(np.diff(path, prepend=-1, append=-1))  # where each run starts, then the end
    starts, ends = bounds[:-1], bounds[1:]
    means = np.add.reduceat(posteriors.astype(np.float64), starts) / (ends - starts)
    keep = path[starts] != blank
    return [(int(path[a]), int(a), int(b) - 1, float(m)) for a, b, m in zip(starts[keep], ends[keep], means[keep])]


# Below this log-posterior (e^-7 ~ 0.001) a unit has no evidence in a frame: where the first
# unit's evidence starts and the last one's ends.
EVIDENCE_FLOOR = -7.0


def owned_frames(
    log_probs: torch.Tensor,
    spans: list[tuple[int, int, int, float]],
    energy_db: np.ndarray | None = None,
    sub: int = 1,
    floor: float = EVIDENCE_FLOOR,
    syllabic: bool = False,
) -> list[tuple[float, float]]:
    """The frames each aligned unit owns, [start, end) in model frames, from its CTC spike
    (align's `spans`) and the (T, V) log-posteriors: a CTC model marks a character with a spike
    of a frame or two wherever in the character it likes and blanks the rest, so the spike alone
    times it badly. Between two spikes the later unit takes over from the first frame where its
    log-posterior passes the earlier one's (its evidence rising as the other's falls); the first
    unit starts where its evidence (above `floor`) begins before its spike, the last ends where
    its evidence ends after. The units tile what they were aligned to, in order.

    With the signal's `energy_db` (asr.segment.frame_energy_db: `sub` of its frames per model
    frame), times come in 1/`sub` frames, refined by asr.chartimes.refine: boundaries at the
    pauses between spikes, each unit trimmed to speech (pauses belong to none, and a last spike
    in the silence after the speech, a BiLSTM's habit, does not stretch the last unit into it),
    and with `syllabic` (units of one syllable each) one syllable per unit."""
    if not spans:
        return []
    lp = log_probs.detach().float().cpu().numpy()
    units, T = [u for u, _, _, _ in spans], lp.shape[0]
    bounds = []
    for k in range(1, len(spans)):
        t, nxt = spans[k - 1][2] + 1, spans[k][1]  # the gap between spike k-1 and spike k
        while t < nxt and lp[t, units[k - 1]] >= lp[t, units[k]]:
            t += 1
        bounds.append(t)
    first = spans[0][1]
    while first > 0 and lp[first - 1, units[0]] > floor:
        first -= 1
    end = spans[-1][2] + 1
    while end < T and lp[end, units[-1]] > floor:
        end += 1
    if energy_db is None or not len(energy_db):
        return [(float(a), float(b)) for a, b in zip([first, *bounds], [*bounds, end])]
    edges = [first * sub, *(b * sub for b in bounds), end * sub]
    refined = refine(energy_db, sub, [(s, e) for _, s, e, _ in spans], edges, syllabic)
    return [(a / sub, b / sub) for a, b in refined]
