"""The interface the prefix beam search scores hypotheses through, unit by unit: language models
(asr/lm.py: CharLM, KenLM, WordLM) and hotword phrases (asr/decoding.py: Hotwords).

As pyctcdecode's AbstractLanguageModel and icefall's ContextGraph: a scorer holds no per-hypothesis
state itself. Each hypothesis carries the state its scorer handed out, and the scorer only maps
(state, unit) to (score change, next state), so one scorer serves every beam.
"""

from __future__ import annotations

from typing import Protocol, TypeVar, runtime_checkable

# Generic over the state type rather than "any Hashable": the search never hashes, compares or
# looks inside a state (beams are keyed by their prefix), so Hashable would ask something of every
# scorer for nothing, and say nothing of what matters: that a state goes back to the scorer that
# made it. With a type variable each scorer declares its own (CharLM: the last tokens, Hotwords:
# (node, secured bonus), KenLM: a kenlm.State), and mypy checks its three methods agree on it.
S = TypeVar("S")
# What a hypothesis emits, as the scorer reads it: unit strings for language models, unit ids for
# hotwords. Contravariant: it is only ever taken in.
U_contra = TypeVar("U_contra", contravariant=True)


@runtime_checkable
class Scorer(Protocol[S, U_contra]):
    """Scores a hypothesis one emitted unit at a time, in natural log.

    A language model's scores are log-probabilities (<= 0: the search's pruning counts on an LM
    step only lowering a hypothesis's score when the LM weight is >= 0); a bonus scorer such as
    Hotwords may add or take back a bonus.
    """

    def start(self) -> S:
        """The state of the empty hypothesis (for an LM: after the beginning of sentence)."""
        ...

    def advance(self, state: S, unit: U_contra) -> tuple[float, S]:
        """(score of `unit` after `state`, the state with `unit` emitted)."""
        ...

    def finish(self, state: S) -> float:
        """What ending the hypothesis in `state` adds (an LM's end of sentence)."""
        ...
