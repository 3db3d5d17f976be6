"""Scoring, evaluation of a data dir and the streamed LM weight grid search."""

import gc
import json
import weakref

import jiwer
import pytest

from asr.audio import load_audio
from asr.datadir import read_data_dir
from asr.errors import UserError
from asr.evaluate import ErrorCounts, error_rates, parse_grid, tune_lm
from asr.recognizer import Recognizer
from asr.vocab import mixed_tokens, normalize_text
from conftest import SAMPLES, run_asr


def test_counts_accumulate_to_jiwer_over_the_whole_list():
    refs = ["好棒棒", "从上海去北京", "", "七点"]
    hyps = ["好棒", "从上海到北京了", "多余", "七点"]
    counts = ErrorCounts()
    for r, h in zip(refs, hyps):
        counts.add([r], [h])
    kept = [(r, h) for r, h in zip(refs, hyps) if r]
    assert counts.rates()["cer"] == pytest.approx(jiwer.cer([r for r, _ in kept], [h for _, h in kept]))
    assert counts.rates() == error_rates(refs, hyps)
    merged = ErrorCounts()
    for r, h in zip(refs, hyps):
        merged.merge(ErrorCounts().add([r], [h]))
    assert merged == counts


def test_words_are_counted_for_space_delimited_text_and_characters_without_spaces():
    counts = ErrorCounts().add(["the cat sat", "好 棒"], ["the cat sad", "好棒"])
    # "sat" -> "sad"; Mandarin is unsegmented ("好 棒" normalizes to "好棒", one word)
    assert (counts.words, counts.word_errors) == (4, 1)
    assert (counts.chars, counts.char_errors) == (11, 1)  # spaces are not characters: 9 + 2
    assert counts.rates() == {"cer": 1 / 11, "wer": 1 / 4, "mer": 1 / 5}  # tokens: the cat sat 好 棒


def test_mixed_error_rate_counts_cjk_characters_and_latin_words():
    ref = "我 喜欢 Python 和 C 语言"  # normalizes to 我喜欢python和c语言: one space-delimited "word"
    assert mixed_tokens(normalize_text(ref)) == ["我", "喜", "欢", "python", "和", "c", "语", "言"]
    counts = ErrorCounts().add([ref], ["我喜欢 pythons 和c语"])  # python -> pythons, 言 deleted
    assert (counts.mixed, counts.mixed_errors) == (8, 2)
    assert (counts.words, counts.word_errors) == (1, 1)
    mandarin, english = ErrorCounts().add(["好棒棒"], ["好棒"]), ErrorCounts().add(["it's a cat"], ["its a cat"])
    assert mandarin.rates()["mer"] == mandarin.rates()["cer"] and english.rates()["mer"] == english.rates()["wer"]


@pytest.fixture(scope="module")
def char_lm(tmp_path_factory):
    arpa = tmp_path_factory.mktemp("lm") / "chars.arpa"
    assert run_asr("lm", "train", SAMPLES, "-o", arpa, "--order", "3").returncode == 0
    return arpa


def test_tune_streams_batches_and_scores_exactly(tiny_model, char_lm, monkeypatch):
    rec = Recognizer(tiny_model["model"], decoder="beam", beam=4, lm=str(char_lm))
    utts = read_data_dir(SAMPLES)
    alive, sizes = [], []
    log_probs = Recognizer.log_probs

    def spy(self, feats):
        out = log_probs(self, feats)
        gc.collect()
        sizes.append((len(feats), sum(ref() is not None for ref in alive)))  # earlier batches still held
        alive.append(weakref.ref(out[0]))
        return out

    monkeypatch.setattr(Recognizer, "log_probs", spy)
    streamed = tune_lm(rec, utts, [0.0, 0.5], [0.0, 1.0], batch_size=3)
    # batched (3 + 3 + 2), and no batch's (B, T', V) log-probs outlive it
    assert [n for n, _ in sizes] == [3, 3, 2] and all(held == 0 for _, held in sizes)
    monkeypatch.setattr(Recognizer, "log_probs", log_probs)
    for (a, b), cer in streamed.items():  # the same numbers as decoding each file on its own
        hyps = []
        for u in utts:
            lp, n = rec.log_probs([rec.features(load_audio(u.path))])
            hyps.append(rec.decode_log_probs(lp, n, options=rec.overrides(alpha=a, beta=b))[0].text)
        assert cer == pytest.approx(error_rates([u.text for u in utts], hyps)["cer"])


@pytest.mark.parametrize(
    "alphas,betas,message",
    [
        ("nan", "0", "--alphas: nan is not allowed"),
        ("1,x", "0", "--alphas: expected comma-separated numbers"),
        ("-1", "0", "--alphas: -1 is not allowed"),
        ("0.5", "", "--betas: expected comma-separated numbers"),
    ],
)
def test_a_bad_grid_is_one_line(tiny_model, char_lm, alphas, betas, message):
    res = run_asr(
        "lm", "tune", "-m", tiny_model["model"], "-d", SAMPLES, "--lm", char_lm, "--alphas", alphas, "--betas", betas
    )
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip().count("\n") == 0 and message in res.stderr, res.stderr


def test_parse_grid():
    assert parse_grid("0, 0.5,1,0.5", "--x") == [0.0, 0.5, 1.0]
    with pytest.raises(UserError, match="inf"):
        parse_grid("1,inf", "--x")


def test_evaluate_aligns_only_when_asked(tiny_model, tmp_path):
    plain, timed = tmp_path / "plain.json", tmp_path / "timed.json"
    assert run_asr("evaluate", "-m", tiny_model["model"], "-d", SAMPLES, "--report", plain).returncode == 0
    assert run_asr("evaluate", "-m", tiny_model["model"], "-d", SAMPLES, "--report", timed, "--times").returncode == 0
    a, b = (json.loads(p.read_text(encoding="utf-8")) for p in (plain, timed))
    assert all("chars" not in u for u in a["utterances"])
    for u in a["utterances"]:  # per-utterance counts add up to the corpus rates
        assert u["char_errors"] <= u["ref_chars"] + len(u["hyp"]) and u["ref_words"] >= 1
    assert a["cer"] == pytest.approx(
        sum(u["char_errors"] for u in a["utterances"]) / sum(u["ref_chars"] for u in a["utterances"])
    )
    assert all(len(u["chars"]) == len(u["hyp"]) for u in b["utterances"])
    assert [u["hyp"] for u in a["utterances"]] == [u["hyp"] for u in b["utterances"]] and a["cer"] == b["cer"]


def test_choose_warp_takes_the_most_confident_warp(tiny_model):
    rec = Recognizer(tiny_model["model"])
    waves = [load_audio(p) for p in sorted(SAMPLES.glob("*.wav"))[:3]]
    warps = (0.8, 1.0, 1.2)

    def confidence(warp: float) -> float:
        lp, lens = rec.log_probs([rec.features(w, warp) for w in waves])
        return sum(float(lp[b, : lens[b]].max(dim=-1).values.sum()) for b in range(len(waves)))

    scores = {w: confidence(w) for w in warps}
    assert len(set(scores.values())) == 3  # the warp changes the features, hence the posteriors
    assert rec.choose_warp(waves, warps) == max(scores, key=scores.get)


def test_evaluate_vtln_warps_per_speaker(tiny_model, tmp_path):
    data = tmp_path / "d"
    data.mkdir()
    for name in ("wav.scp", "text"):
        lines = (SAMPLES / name).read_text(encoding="utf-8").splitlines()
        if name == "wav.scp":
            lines = [f"{line.split()[0]} {SAMPLES / line.split()[1]}" for line in lines]
        (data / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    ids = [line.split()[0] for line in (data / "text").read_text(encoding="utf-8").splitlines()]
    speakers = {uid: "a" if k % 2 else "b" for k, uid in enumerate(ids)}
    (data / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s in speakers.items()))
    report = tmp_path / "r.json"
    res = run_asr("evaluate", "-m", tiny_model["model"], "-d", data, "--vtln", "--report", report)
    assert res.returncode == 0, res.stderr
    assert "VTLN warps: a " in res.stdout and ", b " in res.stdout
    rows = json.loads(report.read_text(encoding="utf-8"))["utterances"]
    assert [r["id"] for r in rows] == [u.id for u in read_data_dir(data)]  # the data dir's order, not by speaker
    for spk in ("a", "b"):  # one warp per speaker, from the grid
        assert len({r["warp"] for r in rows if speakers[r["id"]] == spk}) == 1
    plain = run_asr("evaluate", "-m", tiny_model["model"], "-d", SAMPLES, "--vtln")
    assert "no utt2spk" in plain.stderr and plain.returncode == 0


def test_per_call_settings_work_or_are_refused(tiny_model, char_lm, tmp_path):
    wavs = sorted(SAMPLES.glob("*.wav"))[:4]
    beam = Recognizer(tiny_model["model"], decoder="beam", beam=4, lm=str(char_lm))
    settings = tmp_path / "decode.yaml"
    settings.write_text(f"decoder: beam\nbeam: 4\nlm: {char_lm}\n")
    greedy = Recognizer(tiny_model["model"], decode_file=settings, decoder="greedy")  # the flag over the file
    assert greedy.decode.decoder == "greedy" and greedy.lm is None  # not loaded for greedy decoding ...
    log_probs, lens = beam.log_probs([beam.features(load_audio(w)) for w in wavs])
    built = [r.nbest for r in beam.decode_log_probs(log_probs, lens, options=beam.overrides(nbest=3))]
    asked = [r.nbest for r in greedy.decode_log_probs(log_probs, lens, options=greedy.overrides(nbest=3))]
    assert asked == built  # ... but a beam search asked per call (n-best selects it) scores with it
    no_lm = Recognizer(tiny_model["model"], decoder="beam", beam=4)
    assert [r.nbest for r in no_lm.decode_log_probs(log_probs, lens, options=no_lm.overrides(nbest=3))] != built
    refused = [
        (beam, {"lm": str(char_lm)}, "unknown decoding option"),  # the LM is the recognizer's
        (beam, {"hotword_boost": 3.0}, "give hotwords to boost"),
        (beam, {"bem": 5}, "unknown decoding option.*bem"),
        (beam, {"nbest": 0}, "nbest: expected a whole number >= 1"),
        (beam, {"decoder": "greedy", "nbest": 3}, "nbest: only the beam search"),
        (beam, {"decoder": "greedy", "hotwords": ["台北"]}, "hotwords: only the beam search"),
        (no_lm, {"alpha": 2.0}, "alpha weighs an LM"),
        (beam, {"beam": 0}, "beam"),
    ]
    for rec, options, message in refused:
        with pytest.raises(UserError, match=message):
            rec.overrides(**options)
    with pytest.raises(UserError, match="needs a recognizer with an LM"):
        tune_lm(no_lm, read_data_dir(SAMPLES), [0.0, 0.5], [0.0])
