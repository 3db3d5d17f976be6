import json
import shutil

import soundfile as sf

from conftest import SAMPLES, run_asr


def test_help_lists_the_commands():
    res = run_asr("--help")
    assert res.returncode == 0
    for cmd in ("train", "transcribe", "evaluate", "prepare"):
        assert cmd in res.stdout


def test_transcribe_prints_path_tab_text(tiny_model, tmp_path):
    wavs = sorted(SAMPLES.glob("*.wav"))[:3]
    res = run_asr("transcribe", "--model", tiny_model["model"], *wavs)
    assert res.returncode == 0, res.stderr
    texts = dict(l.split(" ", 1) for l in (SAMPLES / "text").read_text(encoding="utf-8").splitlines())
    lines = res.stdout.strip().splitlines()
    assert [l.split("\t")[0] for l in lines] == [str(w) for w in wavs]
    assert [l.split("\t")[1] for l in lines] == [texts[w.stem] for w in wavs]


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


def test_evaluate_on_absolute_flac_paths(tiny_model, tmp_path):
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
    report = tmp_path / "report.json"
    res = run_asr("evaluate", "--model", tiny_model["model"], "--data", data, "--report", report)
    assert res.returncode == 0, res.stderr
    assert "CER 0.00%" in res.stdout
    r = json.loads(report.read_text(encoding="utf-8"))
    assert r["cer"] == 0.0 and "wer" in r and len(r["utterances"]) == len(scp)
    assert {"id", "ref", "hyp"} <= set(r["utterances"][0])


def test_missing_model_is_one_line(tmp_path):
    res = run_asr("transcribe", "--model", tmp_path / "none.pt", SAMPLES / "test-belinda-00062.wav")
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "model file not found" in res.stderr


def test_json_output_with_beam_nbest_and_times(tiny_model, tmp_path):
    wav = SAMPLES / "test-belinda-00054.wav"
    hot = tmp_path / "hot.txt"
    hot.write_text("台北\n", encoding="utf-8")
    res = run_asr("transcribe", "--model", tiny_model["model"], "--format", "json", "--beam", "8",
                  "--hotwords", hot, "--nbest", "3", wav)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    duration = sf.info(wav).duration
    assert out["text"] == "五月十一日四点从广州到台北"
    assert out["nbest"][0]["text"] == out["text"] and 1 <= len(out["nbest"]) <= 3
    assert [n["score"] for n in out["nbest"]] == sorted((n["score"] for n in out["nbest"]), reverse=True)
    chars = out["chars"]
    assert "".join(c["char"] for c in chars) == out["text"]
    for a, b in zip(chars, chars[1:]):
        assert a["start"] < a["end"] <= b["start"]
    assert chars[0]["start"] >= 0 and chars[-1]["end"] <= duration + 0.03


def test_decode_settings_file_and_flags(tiny_model, tmp_path):
    arpa = tmp_path / "lm.arpa"
    assert run_asr("lm", "train", SAMPLES, "-o", arpa, "--order", "3").returncode == 0
    settings = tmp_path / "decode.yaml"
    settings.write_text(f"decoder: beam\nbeam: 4\nlm: {arpa}\nalpha: 0.3\n")
    res = run_asr("evaluate", "--model", tiny_model["model"], "--data", SAMPLES, "--decode", settings)
    assert res.returncode == 0, res.stderr
    assert "beam)" in res.stdout
    res = run_asr("evaluate", "--model", tiny_model["model"], "--data", SAMPLES, "--decode", settings, "--decoder", "greedy")
    assert "greedy)" in res.stdout
    settings.write_text("decoder: beem\n")
    res = run_asr("evaluate", "--model", tiny_model["model"], "--data", SAMPLES, "--decode", settings)
    assert res.returncode == 2 and "expected greedy or beam" in res.stderr
