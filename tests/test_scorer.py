"""Every scorer the beam search takes is a Scorer (asr/scorer.py). Checked twice: by mypy, which
`make lint` runs on this file too (pyproject.toml's [tool.mypy] files), where each annotated
assignment below fails when a scorer's methods stop matching the protocol; and at run time, where
isinstance sees that the three methods are there (the protocol is runtime_checkable)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from asr.decoding import Hotwords, prefix_beam_search
from asr.lm import CharLM, KenLM, NGramLM, WordLM, load_lm, train_kneser_ney, write_arpa
from asr.scorer import Scorer

SENTENCES = ["好棒棒", "我想去北京", "我想去上海"]


def arpa(path: Path, sentences: list[list[str]], order: int = 3) -> Path:
    write_arpa(path, train_kneser_ney(sentences, order))
    return path


def spell(scorer: Scorer[Any, str], units: str) -> float:
    """The total score of `units` as one hypothesis, ended."""
    state, total = scorer.start(), 0.0
    for unit in units:
        delta, state = scorer.advance(state, unit)
        total += delta
    return total + scorer.finish(state)


def test_the_character_lm_is_a_scorer_of_unit_strings(tmp_path: Path) -> None:
    model = NGramLM.from_arpa(arpa(tmp_path / "chars.arpa", [list(s) for s in SENTENCES]))
    lm: Scorer[tuple[str, ...], str] = CharLM(model)
    assert isinstance(lm, Scorer)
    assert not isinstance(model, Scorer)  # the table it reads is not one: no start, advance, finish
    assert lm.start() == ("<s>",)  # the context after the beginning of sentence
    assert spell(lm, "我想去北京") > spell(lm, "京北去想我")


def test_hotwords_are_a_scorer_of_unit_ids() -> None:
    hot: Scorer[tuple[int, float], int] = Hotwords([[3, 4]], boost=1.0)
    assert isinstance(hot, Scorer)
    state = hot.start()
    delta, state = hot.advance(state, 3)
    assert delta == 1.0 and hot.finish(state) == -1.0  # an unfinished phrase keeps no bonus


def test_kenlm_and_the_word_lm_are_scorers_of_unit_strings(tmp_path: Path) -> None:
    pytest.importorskip("kenlm")
    chars: Scorer[Any, str] = KenLM(arpa(tmp_path / "chars.arpa", [list(s) for s in SENTENCES]))
    words: Scorer[Any, str] = WordLM(arpa(tmp_path / "words.arpa", [s.split() for s in ("the cat sat", "a cat ran")]))
    assert isinstance(chars, Scorer) and isinstance(words, Scorer)
    assert spell(chars, "我想去北京") > spell(chars, "京北去想我")
    assert spell(words, "the|cat|sat") > spell(words, "sat|cat|the")


def test_load_lm_gives_what_the_beam_search_takes(tmp_path: Path) -> None:
    lm = load_lm(arpa(tmp_path / "chars.arpa", [list(s) for s in SENTENCES]))
    assert isinstance(lm, Scorer)
    units = ["<b>", "北", "京"]
    log_probs = np.log(np.full((4, 3), 1 / 3))
    assert prefix_beam_search(log_probs, beam=4, lm=lm, units=units)[0].lm_score < 0


def test_a_scorer_of_unit_ids_is_no_language_model() -> None:
    """The protocol has teeth: mypy refuses hotwords where a scorer of unit strings goes, and
    a state of another type. Should it accept either, these ignores silence nothing, and mypy
    (warn_unused_ignores) fails `make lint` on them."""
    hot = Hotwords([[3, 4]], boost=1.0)
    as_lm: Scorer[tuple[int, float], str] = hot  # type: ignore[assignment]
    other_state: Scorer[tuple[str, ...], int] = hot  # type: ignore[assignment]
    assert as_lm is other_state is hot
