import json
import shutil
import socket
import zipfile

import pytest
import soundfile as sf

import asr
from asr.evaluate import error_rates
from conftest import ROOT, SAMPLES, run_asr


def test_help_lists_the_commands():
    res = run_asr("--help")
    assert res.returncode == 0
    for cmd in ("train", "transcribe", "evaluate", "prepare"):
        assert cmd in res.stdout


def test_transcribe_prints_path_tab_text(tiny_model, tiny_reads, tmp_path):
    wavs = sorted(SAMPLES.glob("*.wav"))[:3]
    res = run_asr("transcribe", "--model", tiny_model["model"], *wavs)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    assert [l.split("\t")[0] for l in lines] == [str(w) for w in wavs]
    assert [l.split("\t")[1] for l in lines] == [tiny_reads[w.stem] for w in wavs]  # CLI = API


def test_transcribe_reports_bad_files_and_keeps_going(tiny_model, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    good = sorted(SAMPLES.glob("*.wav"))[0]
    res = run_asr("transcribe", "--model", tiny_model["model"], bad, tmp_path / "missing.wav", good)
    assert res.returncode == 1
    assert res.stdout.startswith(f"{good}\t")
    errors = [l for l in res.stderr.strip().splitlines() if l.startswith("error:")]
    assert len(errors) == 2 and "bad.wav" in errors[0] and "missing.wav" in errors[1]
    assert "Traceback" not in res.stderr


def test_evaluate_on_absolute_flac_paths(tiny_model, tiny_reads, tmp_path):
    data = tmp_path / "flac_set"
    data.mkdir()
    scp = []
    for line in (SAMPLES / "wav.scp").read_text().splitlines():
        uid, rel = line.split()
        wave, sr = sf.read(SAMPLES / rel)
        flac = tmp_path / "audio" / f"{uid}.flac"
        flac.parent.mkdir(exist_ok=True)
        sf.write(flac, wave, sr, format="FLAC")
        scp.append(f"{uid} {flac.resolve()}\n")
    (data / "wav.scp").write_text("".join(scp))
    shutil.copy(SAMPLES / "text", data / "text")
    reports = {}
    for name, where in (("wav", SAMPLES), ("flac", data)):
        reports[name] = tmp_path / f"{name}.json"
        res = run_asr("evaluate", "--model", tiny_model["model"], "--data", where, "--report", reports[name])
        assert res.returncode == 0, res.stderr
    wav, flac = (json.loads(reports[k].read_text(encoding="utf-8")) for k in ("wav", "flac"))
    assert len(flac["utterances"]) == len(scp) and {"id", "ref", "hyp"} <= set(flac["utterances"][0])
    # lossless FLAC by absolute path reads exactly as the relative wav paths do ...
    assert flac["utterances"] == wav["utterances"] and flac["cer"] == wav["cer"] and "wer" in flac
    # ... and evaluate's hypotheses and CER are transcribe's, scored
    assert {u["id"]: u["hyp"] for u in flac["utterances"]} == tiny_reads
    assert (
        flac["cer"]
        == error_rates([u["ref"] for u in wav["utterances"]], [tiny_reads[u["id"]] for u in wav["utterances"]])["cer"]
    )


def test_missing_model_is_one_line(tmp_path):
    res = run_asr("transcribe", "--model", tmp_path / "none.pt", SAMPLES / "test-belinda-00062.wav")
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "model file not found" in res.stderr


def test_json_output_with_beam_nbest_and_times(tiny_model, tmp_path):
    wav = SAMPLES / "test-belinda-00054.wav"
    hot = tmp_path / "hot.txt"
    hot.write_text("台北\n", encoding="utf-8")
    res = run_asr(
        "transcribe",
        "--model",
        tiny_model["model"],
        "--format",
        "json",
        "--beam",
        "8",
        "--hotwords",
        hot,
        "--nbest",
        "3",
        wav,
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    duration = sf.info(wav).duration
    # (that the boost never pays for a second copy of a hotword is test_beam's, on exact scores)
    assert out["nbest"][0]["text"] == out["text"] and 1 <= len(out["nbest"]) <= 3
    assert [n["score"] for n in out["nbest"]] == sorted((n["score"] for n in out["nbest"]), reverse=True)
    chars = out["chars"]
    assert "".join(c["char"] for c in chars) == out["text"]
    for a, b in zip(chars, chars[1:]):
        assert a["start"] < a["end"] <= b["start"]
    assert chars[0]["start"] >= 0 and chars[-1]["end"] <= duration


def test_decode_settings_file_and_flags(tiny_model, tmp_path):
    arpa = tmp_path / "lm.arpa"
    assert run_asr("lm", "train", SAMPLES, "-o", arpa, "--order", "3").returncode == 0
    settings = tmp_path / "decode.yaml"
    settings.write_text(f"decoder: beam\nbeam: 4\nlm: {arpa}\nalpha: 0.3\n")
    res = run_asr("evaluate", "--model", tiny_model["model"], "--data", SAMPLES, "--decode", settings)
    assert res.returncode == 0, res.stderr
    assert "beam)" in res.stdout
    res = run_asr(
        "evaluate", "--model", tiny_model["model"], "--data", SAMPLES, "--decode", settings, "--decoder", "greedy"
    )
    assert "greedy)" in res.stdout
    settings.write_text("decoder: beem\n")
    res = run_asr("evaluate", "--model", tiny_model["model"], "--data", SAMPLES, "--decode", settings)
    assert res.returncode == 2 and "expected greedy or beam" in res.stderr


def test_hotwords_outside_the_vocabulary_warn_once_and_the_rest_apply(tiny_model, tiny_reads, tmp_path):
    wav = SAMPLES / "test-belinda-00054.wav"
    hot = tmp_path / "hot.txt"
    hot.write_text("台北\n东京\n鹿特丹\n", encoding="utf-8")  # 东京 and 鹿特丹 hold characters the model lacks
    res = run_asr("transcribe", "--model", tiny_model["model"], "--hotwords", hot, wav)
    assert res.returncode == 0, res.stderr
    warnings = [l for l in res.stderr.splitlines() if l.startswith("warning:")]
    assert len(warnings) == 1 and "2 hotword phrase(s) skipped" in warnings[0]
    assert all(c in warnings[0] for c in "东鹿特丹") and "台北" not in warnings[0]
    assert res.stdout.startswith(f"{wav}\t")


def test_output_dir_keeps_inputs_with_the_same_stem_apart(tiny_model, tiny_reads, tmp_path):
    stems = ["test-belinda-00054", "test-f2-00114"]
    for folder, stem in zip("ab", stems):
        (tmp_path / folder).mkdir()
        shutil.copy(SAMPLES / f"{stem}.wav", tmp_path / folder / "x.wav")
    out = tmp_path / "out"
    res = run_asr(
        "transcribe", "--model", tiny_model["model"], "-o", out, tmp_path / "a" / "x.wav", tmp_path / "b" / "x.wav"
    )
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a_x.txt", "b_x.txt"]
    for folder, stem in zip("ab", stems):
        assert (out / f"{folder}_x.txt").read_text(encoding="utf-8") == tiny_reads[stem] + "\n"


def test_value_errors_reach_the_user_as_one_line(tiny_model, tmp_path):
    short = tmp_path / "short.wav"
    sf.write(short, [0.1] * 300, 16000)  # under one 25 ms frame
    hot = tmp_path / "hot.txt"
    hot.write_text("台北\n", encoding="utf-8")
    for args, message in (
        (["align", "-m", tiny_model["model"], short, "--plot", tmp_path / "a.png"], "shorter than one 25 ms frame"),
        (["transcribe", "-m", tiny_model["model"], "--hotwords", hot, "--hotword-boost", "-3", short], "hotword_boost"),
        (["transcribe", "-m", tiny_model["model"], "--alpha", "nan", short], "decode.alpha"),
    ):
        res = run_asr(*args)
        assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
        assert res.stderr.strip().count("\n") == 0 and message in res.stderr, res.stderr


def test_any_other_file_as_the_model_is_one_line(tmp_path):
    wav = SAMPLES / "test-f2-00114.wav"
    csv = tmp_path / "metrics.csv"
    csv.write_text("epoch,loss\n1,2.0\n")
    archive = tmp_path / "x.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("a.txt", "hello")
    for model, words in (
        (wav, "not a readable model file"),  # the unpickler once raised IndexError on these two
        (csv, "not a readable model file"),
        (archive, "not a readable model file"),
        (ROOT / "README.md", "not a readable model file"),
        (tmp_path, "is a directory"),
    ):
        res = run_asr("transcribe", "-m", model, wav)
        assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
        assert res.stderr.strip().count("\n") == 0 and words in res.stderr, res.stderr


def test_align_writes_its_plot_into_a_new_folder(tiny_model, tmp_path):
    png = tmp_path / "not" / "yet" / "there.png"
    res = run_asr("align", "-m", tiny_model["model"], SAMPLES / "test-f2-00114.wav", "--plot", png)
    assert res.returncode == 0, res.stderr
    assert png.read_bytes().startswith(b"\x89PNG")
    res = run_asr("align", "-m", tiny_model["model"], SAMPLES / "test-f2-00114.wav", "--plot", tmp_path / "x.docx")
    assert res.returncode == 2 and res.stderr.strip().count("\n") == 0 and "cannot write the plot" in res.stderr
    res = run_asr("align", "-m", tiny_model["model"], SAMPLES / "test-f2-00114.wav", "--plot", tmp_path / "bare")
    assert res.returncode == 0 and f"wrote {tmp_path / 'bare.png'}" in res.stderr and (tmp_path / "bare.png").is_file()
    res = run_asr("align", "-m", tiny_model["model"], SAMPLES / "test-f2-00114.wav", "--plot", tmp_path)
    assert res.returncode == 2 and "is a folder" in res.stderr and res.stderr.strip().count("\n") == 0


def test_outputs_go_into_new_folders_or_say_why_not_in_one_line(tiny_model, tmp_path):
    """plot -o, lm train -o and export -o make the folder they write into (as align --plot and
    evaluate --report do); a folder that is a file is one line, before any work."""
    new = tmp_path / "not" / "yet"
    for args, out in (
        (["plot", tiny_model["exp_dir"], "-o"], new / "curves.png"),
        (["lm", "train", SAMPLES, "--order", "2", "-o"], new / "chars.arpa"),
        (["export", "-m", tiny_model["model"], "-f", "torchscript", "-o"], new / "model.ts"),
    ):
        res = run_asr(*args, out)
        assert res.returncode == 0 and out.stat().st_size > 0, res.stderr
        (tmp_path / "afile").write_text("")
        res = run_asr(*args, tmp_path / "afile" / out.name)
        lines = res.stderr.strip().splitlines()
        assert res.returncode == 2 and len(lines) == 1 and "cannot make its folder" in lines[0], res.stderr


def test_help_says_what_the_options_take():
    res = run_asr("transcribe", "--help")
    assert res.returncode == 0
    flags = [l for l in res.stdout.splitlines() if l.strip().startswith(("--int8", "--vtln"))]
    assert len(flags) == 2 and not any("bool" in l for l in flags), flags  # flags take no value
    assert "asr[lhotse]" in run_asr("prepare", "lhotse", "--help").stdout  # not eaten as markup
    assert run_asr("transcribe", "-h").stdout == res.stdout  # -h is --help, in every command
    assert run_asr("slots", "tag", "-h").stdout == run_asr("slots", "tag", "--help").stdout
    res = run_asr("--version")
    assert res.returncode == 0 and res.stdout.strip() == f"asr {asr.__version__}"


def one_line_error(res, *words: str) -> None:
    """The contract for a user's mistake: exit status 2, one `error:` line naming it, no traceback."""
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert all(w in lines[0] for w in words), res.stderr


@pytest.mark.parametrize(
    "sets,words",
    [
        (["features.n_mels=0"], ["features.n_mels", "got 0"]),  # must be positive
        (["features.n_mfcc=50"], ["features.n_mfcc", "at most n_mels", "got 50"]),
        (["train.lr=-1"], ["train.lr", "> 0"]),
        (["train.lr=.nan"], ["train.lr", "got nan"]),
        (["augment.noise_prob=1.5"], ["augment.noise_prob", "[0, 1]"]),
        (["augment.gain_db=[6, -20]"], ["augment.gain_db", "[low, high]"]),
        (["train.device=tpu"], ["train.device", "auto, cpu, cuda"]),
        (["features.sample_rate=8000"], ["features.sample_rate", "resampled to 16 kHz"]),
        (["train.freeze_layers=9", "train.freeze_epochs=1"], ["train.freeze_layers", "model.layers"]),
    ],
    ids=["positive", "n_mfcc-over-n_mels", "negative-lr", "nan", "probability", "order", "choice", "rate", "across"],
)
def test_bad_recipe_values_are_one_line_errors(sets, words):
    res = run_asr("train", ROOT / "recipes" / "demo.yaml", *[a for s in sets for a in ("--set", s)])
    one_line_error(res, *words)


def test_a_bad_value_in_the_recipe_file_is_one_line(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("exp_dir: x\ndata: {train: a, dev: b}\nmodel: {hidden: 0}\n")
    one_line_error(run_asr("train", recipe), "model.hidden", ">= 1", "got 0")


def test_command_line_mistakes_are_one_line():
    one_line_error(run_asr("transcribe", "--bem", "5", "x.wav"), "No such option: --bem", "asr transcribe --help")
    one_line_error(run_asr("transcribe"), "Missing argument", "asr transcribe --help")
    one_line_error(run_asr("transcribe", "-m", "x.pt", "--beam", "many", "x.wav"), "Invalid value for '--beam'")
    one_line_error(run_asr("nosuch"), "No such command 'nosuch'")
    res = run_asr()  # no command at all: the help, as click shows it
    assert res.returncode == 2 and res.stderr.startswith("Usage: asr") and "Commands:" in res.stderr


def test_serve_port_mistakes_are_one_line(tmp_path):
    model = tmp_path / "never-read.pt"  # the port is checked before the model is read
    one_line_error(run_asr("serve", "-m", model, "--port", "99999"), "--port 99999", "1..65535", "0 for any free one")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        one_line_error(run_asr("serve", "-m", model, "--port", port), f"127.0.0.1:{port}", "in use")
