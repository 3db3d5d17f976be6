import math

import pytest

from asr.errors import UserError
from asr.lm import BOS, CharLM, KenLM, NGramLM, WordLM, load_lm, train_kneser_ney, write_arpa
from conftest import SAMPLES, run_asr

SENTENCES = [list("好棒棒"), list("好棒"), list("我想去北京"), list("我想去上海"), list("从上海去北京")]


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_kneser_ney_distributions_sum_to_one(tmp_path, order):
    write_arpa(tmp_path / "lm.arpa", train_kneser_ney(SENTENCES, order))
    lm = NGramLM.from_arpa(tmp_path / "lm.arpa")
    words = [w for w in lm.words if w != BOS]
    for context in [(), (BOS,), ("好",), ("我", "想"), ("去", "北"), ("海", "好"), (BOS, "好", "棒")]:
        assert sum(math.exp(lm.logprob(context, w)) for w in words) == pytest.approx(1.0, abs=1e-5)


def test_seen_continuations_score_higher(tmp_path):
    write_arpa(tmp_path / "lm.arpa", train_kneser_ney(SENTENCES, 3))
    lm = load_lm(tmp_path / "lm.arpa")
    assert isinstance(lm, (CharLM, KenLM))

    def score(text: str) -> float:
        state, total = lm.start(), 0.0
        for ch in text:
            delta, state = lm.advance(state, ch)
            total += delta
        return total + lm.finish(state)

    assert score("我想去北京") > score("我想去北海") > score("京北去想我")


def test_arpa_is_readable_by_kenlm(tmp_path):
    kenlm = pytest.importorskip("kenlm")
    write_arpa(tmp_path / "lm.arpa", train_kneser_ney(SENTENCES, 3))
    ours = NGramLM.from_arpa(tmp_path / "lm.arpa")
    theirs = kenlm.Model(str(tmp_path / "lm.arpa"))
    sentence = "我 想 去 上 海"
    total = sum(prob for prob, _, _ in theirs.full_scores(sentence)) * math.log(10)
    toks = sentence.split()
    mine = sum(ours.logprob((BOS, *toks[:i])[-2:], w) for i, w in enumerate(toks + ["</s>"]))
    assert mine == pytest.approx(total, abs=1e-4)


def test_word_lm_scores_completed_words(tmp_path):
    pytest.importorskip("kenlm")
    words = [s.split() for s in ["the cat sat", "the dog sat", "a cat ran"]]
    write_arpa(tmp_path / "words.arpa", train_kneser_ney(words, 2))
    lm = load_lm(tmp_path / "words.arpa")
    assert isinstance(lm, WordLM)
    state = lm.start()
    deltas = []
    for unit in "the|cat":
        d, state = lm.advance(state, unit)
        deltas.append(d)
    assert deltas[:3] == [0.0, 0.0, 0.0] and deltas[3] < 0  # scored when "|" ends "the"
    assert lm.finish(state) < 0


def test_not_an_lm(tmp_path):
    bad = tmp_path / "bad.arpa"
    bad.write_text("\\data\\\nngram 1=1\n\n\\1-grams:\nnonsense\n")
    with pytest.raises(UserError, match="not an ARPA"):
        load_lm(bad)
    with pytest.raises(UserError, match="not found"):
        load_lm(tmp_path / "missing.arpa")


def test_lm_train_and_tune_cli(tiny_model, tmp_path):
    arpa = tmp_path / "chars.arpa"
    res = run_asr("lm", "train", SAMPLES, "-o", arpa, "--order", "3")
    assert res.returncode == 0, res.stderr
    assert isinstance(load_lm(arpa), (CharLM, KenLM))
    res = run_asr(
        "lm",
        "tune",
        "--model",
        tiny_model["model"],
        "--data",
        SAMPLES,
        "--lm",
        arpa,
        "--alphas",
        "0,0.5",
        "--betas",
        "0,1",
    )
    assert res.returncode == 0, res.stderr
    assert "best: alpha" in res.stdout and res.stdout.count("%") >= 4


def test_kenlm_scores_character_lms_as_the_python_model_does(tmp_path):
    pytest.importorskip("kenlm")
    write_arpa(tmp_path / "lm.arpa", train_kneser_ney(SENTENCES, 3))
    fast = load_lm(tmp_path / "lm.arpa")
    assert isinstance(fast, KenLM)  # KenLM's C++ tables, not Python dicts
    slow = CharLM(NGramLM.from_arpa(tmp_path / "lm.arpa"))
    for text in ("我想去北京", "好棒棒", "京北去想我", "我去火星"):  # 火星: unknown characters
        a, b = fast.start(), slow.start()
        for ch in text:
            (da, a), (db, b) = fast.advance(a, ch), slow.advance(b, ch)
            assert da == pytest.approx(db, abs=1e-4)
        assert fast.finish(a) == pytest.approx(slow.finish(b), abs=1e-4)


def test_a_word_lm_is_refused_for_unsegmented_text(tiny_model, tmp_path):
    res = run_asr("lm", "train", SAMPLES, "-o", tmp_path / "w.arpa", "--unit", "word")
    assert res.returncode == 2 and "use --unit char" in res.stderr and res.stderr.strip().count("\n") == 0
    words = [s.split() for s in ["the cat sat", "the dog sat", "a cat ran"]]
    write_arpa(tmp_path / "words.arpa", train_kneser_ney(words, 2))
    res = run_asr(
        "transcribe", "-m", tiny_model["model"], "--lm", tmp_path / "words.arpa", SAMPLES / "test-f2-00114.wav"
    )
    assert res.returncode == 2 and "use a character LM" in res.stderr and "Traceback" not in res.stderr


def test_lm_train_normalizes_as_the_recipe_says(tmp_path):
    from asr.datadir import Utterance, write_data_dir

    write_data_dir(tmp_path / "d", [Utterance(f"u{i}", tmp_path / "x.wav", f"Room {i}, floor 2") for i in range(3)])
    recipe = tmp_path / "r.yaml"
    recipe.write_text("exp_dir: exp/x\ndata: {train: d, dev: d}\ntext: {numbers: drop, lowercase: false}\n")
    for args, units in (
        ((), {"r", "o", "m", "f", "l", "0", "1", "2"}),
        (("--recipe", recipe), {"R", "r", "o", "m", "f", "l"}),
    ):
        arpa = tmp_path / "chars.arpa"
        assert run_asr("lm", "train", tmp_path / "d", "-o", arpa, "--order", "2", *args).returncode == 0
        assert NGramLM.from_arpa(arpa).words - {"<s>", "</s>", "<unk>", "|"} == units


def test_loading_an_arpa_file_prints_nothing(tiny_model, tmp_path):
    pytest.importorskip("kenlm")
    arpa = tmp_path / "chars.arpa"
    assert run_asr("lm", "train", SAMPLES, "-o", arpa, "--order", "3").returncode == 0
    res = run_asr("transcribe", "-m", tiny_model["model"], "--lm", arpa, SAMPLES / "test-f2-00114.wav")
    assert res.returncode == 0 and res.stdout.startswith(str(SAMPLES / "test-f2-00114.wav"))
    assert res.stderr == ""  # KenLM's C++ once said "Loading the LM will be faster ..." on every run
