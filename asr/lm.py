"""N-gram language models: Kneser-Ney training to ARPA, ARPA reading, and the scorers the beam
search uses (asr/scorer.py's interface; character models in pure Python, word models through KenLM).

No installable package trains an n-gram model and writes ARPA from Python (KenLM's `lmplz` is a
separate C++ binary), so training is implemented here: interpolated Kneser-Ney with one discount
per order, D = n1 / (n1 + 2 n2), written as a standard back-off ARPA file that KenLM reads too.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asr.errors import UserError
from asr.scorer import Scorer

if TYPE_CHECKING:
    from asr.vocab import TextConfig

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
LN10 = math.log(10.0)


def _discount(counts: Counter) -> float:
    hist = Counter(c for c in counts.values() if c <= 2)
    n1, n2 = hist[1], hist[2]
    return n1 / (n1 + 2 * n2) if n1 and n2 else 0.5


def train_kneser_ney(
    sentences: Iterable[Sequence[str]], order: int
) -> dict[int, dict[tuple, tuple[float, float | None]]]:
    """Interpolated Kneser-Ney estimates for every seen n-gram up to `order`.

    Returns {k: {ngram: (log10 prob, log10 backoff or None)}}; unigrams include </s>, <unk>
    and <s> (probability 0, as in ARPA files written by SRILM/KenLM).
    """
    if order < 1:
        raise ValueError("order must be >= 1")
    raw: list[Counter] = [Counter() for _ in range(order + 1)]
    for sent in sentences:
        toks = (BOS, *sent, EOS)
        for k in range(1, order + 1):
            for i in range(len(toks) - k + 1):
                raw[k][toks[i : i + k]] += 1
    # adjusted counts: continuation counts (distinct left neighbours) below the top order,
    # except for n-grams starting with <s>, which have no left neighbour
    adj: list[Counter] = [Counter() for _ in range(order + 1)]
    adj[order] = raw[order]
    for k in range(order - 1, 0, -1):
        for g in raw[k + 1]:
            adj[k][g[1:]] += 1
        for g, c in raw[k].items():
            if g[0] == BOS and k > 1:
                adj[k][g] = c
    adj[1].pop((BOS,), None)  # <s> is never predicted
    vocab = {g[0] for g in raw[1]} - {BOS}
    vocab.add(UNK)
    probs: dict[int, dict[tuple, float]] = {}
    gammas: dict[int, dict[tuple, float]] = {}
    for k in range(1, order + 1):
        d = _discount(adj[k])
        denom: Counter = Counter()
        followers: Counter = Counter()
        for g, c in adj[k].items():
            denom[g[:-1]] += c
            followers[g[:-1]] += 1
        gammas[k - 1] = {h: d * followers[h] / denom[h] for h in denom}
        probs[k] = {}
        for g, c in adj[k].items():
            h = g[:-1]
            lower = 1.0 / len(vocab) if k == 1 else probs[k - 1][g[1:]]
            probs[k][g] = max(c - d, 0.0) / denom[h] + gammas[k - 1][h] * lower
    uniform = 1.0 / len(vocab)
    probs[1][(UNK,)] = probs[1].get((UNK,), 0.0) + gammas[0][()] * uniform
    out: dict[int, dict[tuple, tuple[float, float | None]]] = {}
    for k in range(1, order + 1):
        out[k] = {}
        for g, p in probs[k].items():
            bow = gammas[k].get(g) if k < order else None
            out[k][g] = (math.log10(p), math.log10(bow) if bow else None)
    out[1][(BOS,)] = (-99.0, math.log10(gammas[1][(BOS,)]) if order > 1 and (BOS,) in gammas[1] else None)
    return out


def write_arpa(path: str | Path, model: dict[int, dict[tuple, tuple[float, float | None]]]) -> None:
    lines = ["", "\\data\\"] + [f"ngram {k}={len(model[k])}" for k in sorted(model)]
    for k in sorted(model):
        lines += ["", f"\\{k}-grams:"]
        for g in sorted(model[k]):
            p, b = model[k][g]
            lines.append(f"{p:.6f}\t{' '.join(g)}" + (f"\t{b:.6f}" if b is not None else ""))
    lines += ["", "\\end\\", ""]
    Path(path).write_text("\n".join(lines), encoding="utf-8")


class NGramLM:
    """A back-off n-gram model read from an ARPA file; probabilities in natural log."""

    def __init__(self, tables: dict[int, dict[tuple, tuple[float, float]]]) -> None:
        self.tables = tables
        self.order = max(tables)
        self._cache: dict[tuple, float] = {}

    @classmethod
    def from_arpa(cls, path: str | Path) -> NGramLM:
        path = Path(path)
        tables: dict[int, dict[tuple, tuple[float, float]]] = {}
        section = 0
        try:
            with open(path, encoding="utf-8") as f:
                for line in f:
                    line = line.strip()
                    if not line or line.startswith("ngram ") or line == "\\data\\":
                        continue
                    if line == "\\end\\":
                        break
                    if line.endswith("-grams:"):
                        section = int(line[1:].split("-")[0])
                        tables[section] = {}
                        continue
                    parts = line.split()
                    if section == 0 or len(parts) < section + 1:
                        raise ValueError(f"unexpected line {line[:60]!r}")
                    bow = float(parts[section + 1]) * LN10 if len(parts) > section + 1 else 0.0
                    tables[section][tuple(parts[1 : section + 1])] = (float(parts[0]) * LN10, bow)
        except (UnicodeDecodeError, ValueError) as exc:
            raise UserError(f"{path}: not an ARPA language model ({exc})") from None
        if not tables or 1 not in tables:
            raise UserError(f"{path}: not an ARPA language model (no \\1-grams: section)")
        return cls(tables)

    @property
    def words(self) -> set[str]:
        return {g[0] for g in self.tables[1]}

    def logprob(self, context: tuple[str, ...], word: str) -> float:
        """ln P(word | context) with back-off; unknown words score as <unk> (or -100 without one)."""
        key = (context, word)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        if (word,) not in self.tables[1]:
            word = UNK if (UNK,) in self.tables[1] else word
        context = context[-(self.order - 1) :] if self.order > 1 else ()
        total = 0.0
        for n in range(len(context), -1, -1):
            h = context[len(context) - n :]
            entry = self.tables.get(n + 1, {}).get((*h, word))
            if entry is not None:
                total += entry[0]
                break
            if n == 0:
                total += -100.0
                break
            total += self.tables[n].get(h, (0.0, 0.0))[1]
        self._cache[key] = total
        return total


class CharLM:
    """Scores each emitted unit as a token (character LM). State: the last order-1 tokens."""

    def __init__(self, model: NGramLM) -> None:
        self.model = model
        self.keep = max(model.order - 1, 0)

    def start(self) -> tuple[str, ...]:
        return (BOS,)[: self.keep] if self.keep else ()

    def advance(self, state: tuple[str, ...], unit: str) -> tuple[float, tuple[str, ...]]:
        score = self.model.logprob(state, unit)
        return score, ((*state, unit)[-self.keep :] if self.keep else ())

    def finish(self, state: tuple[str, ...]) -> float:
        return self.model.logprob(state, EOS)


# a kenlm.State: kenlm ships no type information, so to mypy it is Any
KenLMState = Any


class KenLM:
    """An n-gram LM scored token by token by KenLM, from an ARPA or binary file (C++ tables:
    memory and load time stay a fraction of NGramLM's Python dicts). It is the character LM as it
    is, and WordLM feeds it whole words. State: a kenlm.State."""

    def __init__(self, path: str | Path) -> None:
        try:
            import kenlm
        except ImportError:
            raise UserError(f"{path}: KenLM models need the kenlm package: pip install kenlm") from None
        self.kenlm = kenlm
        try:
            with _quiet_stderr():  # KenLM's C++ tells every ARPA load to "build a binary file"
                config = kenlm.Config()
                config.show_progress = False
                self.model = kenlm.Model(str(path), config)
        except (OSError, RuntimeError) as exc:
            raise UserError(f"{path}: KenLM cannot read it ({str(exc).splitlines()[0][:120]})") from None
        self.order = self.model.order

    def start(self) -> KenLMState:
        state = self.kenlm.State()
        self.model.BeginSentenceWrite(state)
        return state

    def advance(self, state: KenLMState, unit: str) -> tuple[float, KenLMState]:
        out = self.kenlm.State()
        return self.model.BaseScore(state, unit, out) * LN10, out

    def finish(self, state: KenLMState) -> float:
        return self.model.BaseScore(state, EOS, self.kenlm.State()) * LN10


class WordLM:
    """Scores whole words when the word-boundary unit `|` (or the end) completes them, with KenLM.
    State: (KenLM's state after the completed words, the characters of the word being spelled)."""

    def __init__(self, path: str | Path, boundary: str = "|") -> None:
        self.words = KenLM(path)
        self.boundary = boundary

    def start(self) -> tuple[KenLMState, str]:
        return (self.words.start(), "")

    def advance(self, state: tuple[KenLMState, str], unit: str) -> tuple[float, tuple[KenLMState, str]]:
        lm_state, partial = state
        if unit != self.boundary:
            return 0.0, (lm_state, partial + unit)
        if not partial:
            return 0.0, state
        score, new = self.words.advance(lm_state, partial)
        return score, (new, "")

    def finish(self, state: tuple[KenLMState, str]) -> float:
        lm_state, partial = state
        score = 0.0
        if partial:
            score, lm_state = self.words.advance(lm_state, partial)
        return score + self.words.finish(lm_state)


def _arpa_unigrams_are_characters(path: Path) -> bool:
    """Read only the \\1-grams: section of an ARPA file: single characters make a character LM."""
    section = False
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line == "\\1-grams:":
                    section = True
                    continue
                if not section or not line:
                    continue
                if line.startswith("\\"):  # the next section: every unigram was one character
                    return True
                parts = line.split()
                if len(parts) < 2:
                    raise ValueError(f"unexpected line {line[:60]!r}")
                if len(parts[1]) != 1 and parts[1] not in (BOS, EOS, UNK):
                    return False
    except (UnicodeDecodeError, ValueError) as exc:
        raise UserError(f"{path}: not an ARPA language model ({exc})") from None
    if not section:
        raise UserError(f"{path}: not an ARPA language model (no \\1-grams: section)")
    return True


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """File descriptor 2 points at /dev/null inside (what C++ libraries write there is dropped;
    Python's own sys.stderr is flushed first so nothing of ours is lost)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _have_kenlm() -> bool:
    try:
        import kenlm  # noqa: F401
    except ImportError:
        return False
    return True


def load_lm(path: str | Path, word_boundaries: bool = True) -> Scorer[Any, str]:
    """The LM in `path` as the beam search scores with it: a Scorer of unit strings (its state
    the model's own: CharLM's last tokens, KenLM's kenlm.State, WordLM's pair).

    ARPA files of single characters are character LMs, others word LMs. A binary KenLM file
    does not list its vocabulary: it is a character LM for a model without the word boundary
    unit (`word_boundaries` False: Mandarin), a word LM otherwise. Character LMs are scored by
    KenLM when it is installed (`pip install kenlm`), else by NGramLM in pure Python, which
    holds every n-gram in Python dicts: fine for the demo's LM (about 1e5 n-grams); a large
    one (1e7 n-grams) would take gigabytes and minutes to load. Word LMs need KenLM.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: language model not found")
    with open(path, "rb") as f:
        head = f.read(4096)
    arpa = b"\\data\\" in head
    chars = _arpa_unigrams_are_characters(path) if arpa else not word_boundaries
    if not chars:
        return WordLM(path)
    if arpa and not _have_kenlm():
        return CharLM(NGramLM.from_arpa(path))
    return KenLM(path)


def corpus_sentences(texts: Iterable[str], unit: str, text: TextConfig | None = None) -> Iterable[list[str]]:
    """Transcripts normalized as the model's recipe says (`text`; default TextConfig()) as token
    lists: characters (space -> `|`) or words."""
    from asr.vocab import SPACE, TextConfig, normalize_text

    for t in texts:
        t = normalize_text(t, text or TextConfig())
        if t:
            yield t.split() if unit == "word" else list(t.replace(" ", SPACE))
