"""Corpus layouts -> Kaldi-style data dirs: LibriSpeech folders, Common Voice TSVs with MP3 clips,
CSV/TSV/JSONL manifests and Lhotse cut manifests, each with its skipped-entry report."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asr.corpora.commonvoice import prepare_commonvoice
from asr.corpora.librispeech import prepare_librispeech
from asr.corpora.manifest import prepare_manifest
from asr.datadir import read_data_dir
from asr.errors import UserError
from conftest import SAMPLES, run_asr


def tone(path: Path, seconds: float = 0.5, sr: int = 16000, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr, **kw)
    return path


def table(data_dir: Path, name: str) -> dict[str, str]:
    lines = (data_dir / name).read_text(encoding="utf-8").splitlines()
    return dict(line.split(" ", 1) for line in lines)


def skipped(data_dir: Path) -> dict[str, str]:
    with open(data_dir / "skipped.tsv", newline="", encoding="utf-8") as f:
        return {row["id"]: row["reason"] for row in csv.DictReader(f, delimiter="\t")}


def test_librispeech_subsets(tmp_path):
    root = tmp_path / "LibriSpeech"
    chapter = root / "dev-clean" / "84" / "121123"
    tone(chapter / "84-121123-0000.flac", 1.0)
    tone(chapter / "84-121123-0001.flac", 0.5)
    tone(chapter / "84-121123-0003.flac", 0.5)  # on disk, not in the transcript
    (chapter / "84-121123-0002.flac").write_bytes(b"not audio")
    (chapter / "84-121123.trans.txt").write_text(
        "84-121123-0000 GO DO YOU HEAR\n84-121123-0001 BUT IN LESS THAN FIVE MINUTES\n"
        "84-121123-0002 THE STAIRCASE GROANED\n84-121123-0004 A MISSING FILE\n"
    )
    other = root / "test-clean" / "1089" / "134686"
    tone(other / "1089-134686-0000.flac")
    (other / "1089-134686.trans.txt").write_text("1089-134686-0000 HE HOPED THERE WOULD BE STEW\n")
    reports = prepare_librispeech(root, tmp_path / "out")
    assert sorted(r.out_dir.name for r in reports) == ["dev-clean", "test-clean"]
    dev = tmp_path / "out" / "dev-clean"
    assert table(dev, "text") == {"84-121123-0000": "GO DO YOU HEAR", "84-121123-0001": "BUT IN LESS THAN FIVE MINUTES"}
    assert table(dev, "utt2spk") == {"84-121123-0000": "84", "84-121123-0001": "84"}
    assert table(dev, "spk2utt") == {"84": "84-121123-0000 84-121123-0001"}
    assert table(dev, "utt2dur") == {"84-121123-0000": "1.000", "84-121123-0001": "0.500"}
    assert Path(table(dev, "wav.scp")["84-121123-0000"]) == (chapter / "84-121123-0000.flac").resolve()
    reasons = skipped(dev)
    assert reasons["84-121123-0003"] == "no transcript"
    assert reasons["84-121123-0004"] == "file not found"
    assert reasons["84-121123-0002"].startswith("not a readable audio file (")
    assert len(reasons) == 3
    assert [u.text for u in read_data_dir(tmp_path / "out" / "test-clean")] == ["HE HOPED THERE WOULD BE STEW"]
    # one subset's own folder becomes OUT itself
    (one,) = prepare_librispeech(root / "test-clean", tmp_path / "one")
    assert one.out_dir == tmp_path / "one" and one.utterances == 1


def test_commonvoice_votes_and_mp3(tmp_path):
    root = tmp_path / "nl"
    header = ["client_id", "path", "sentence", "up_votes", "down_votes", "age", "gender"]
    rows = [
        ["spk1", "common_voice_nl_1.mp3", "Hallo, wereld!", "2", "0", "", ""],
        ["spk1", "common_voice_nl_2.mp3", "Goedemorgen", "3", "1", "", ""],
        ["spk2", "common_voice_nl_3.mp3", "Te weinig stemmen", "1", "0", "", ""],
        ["spk2", "common_voice_nl_4.mp3", "Betwist", "2", "2", "", ""],
        ["spk2", "common_voice_nl_5.mp3", "Bestaat niet", "2", "0", "", ""],
        ["spk3", "common_voice_nl_6.mp3", "...", "2", "0", "", ""],
        ["spk3", "common_voice_nl_7.mp3", "Leeg", "2", "0", "", ""],
    ]
    for r in rows[:4] + rows[5:6]:
        tone(root / "clips" / r[1], 0.6, sr=48000, format="MP3")
    (root / "clips" / "common_voice_nl_7.mp3").write_bytes(b"")  # empty file
    with open(root / "train.tsv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    (report,) = prepare_commonvoice(root, tmp_path / "out")
    out = tmp_path / "out" / "train"
    assert table(out, "text") == {"common_voice_nl_1": "Hallo, wereld!", "common_voice_nl_2": "Goedemorgen"}
    assert table(out, "utt2spk") == {"common_voice_nl_1": "spk1", "common_voice_nl_2": "spk1"}
    assert abs(float(table(out, "utt2dur")["common_voice_nl_1"]) - 0.6) < 0.1  # MP3 frames pad a little
    assert skipped(out) == {
        "common_voice_nl_3": "not validated: 1 up, 0 down votes",
        "common_voice_nl_4": "not validated: 2 up, 2 down votes",
        "common_voice_nl_5": "file not found",
        "common_voice_nl_6": "empty transcript",
        "common_voice_nl_7": "empty file (0 bytes)",
    }
    assert report.line().startswith(f"{out}: 2 utterances") and "5 " not in report.line().split("(")[0]
    assert report.reasons() == {"not validated": 2, "file not found": 1, "empty transcript": 1, "empty file": 1}


@pytest.mark.parametrize("kind", ["csv", "tsv", "jsonl"])
def test_manifests(tmp_path, kind):
    audio = tmp_path / "audio"
    tone(audio / "a.wav")
    tone(audio / "b.wav", 0.25)
    tone(audio / "empty.wav", 0.0)
    rows = [
        {"path": "audio/a.wav", "text": "你好 world", "speaker": "ann"},
        {"path": str((audio / "b.wav").resolve()), "text": "Hello, World", "id": "bee"},
        {"path": "audio/empty.wav", "text": "nothing"},
        {"path": "audio/a.wav", "text": "  "},
        {"path": "audio/gone.wav", "text": "gone"},
    ]
    manifest = tmp_path / f"list.{kind}"
    if kind == "jsonl":
        manifest.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    else:
        with open(manifest, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, ["path", "text", "speaker", "id"], delimiter="," if kind == "csv" else "\t")
            w.writeheader()
            w.writerows(rows)
    report = prepare_manifest(manifest, tmp_path / "out")
    out = tmp_path / "out"
    assert table(out, "text") == {"a": "你好 world", "bee": "Hello, World"}
    assert table(out, "utt2spk") == {"a": "ann", "bee": "bee"}
    assert table(out, "utt2dur") == {"a": "0.500", "bee": "0.250"}
    assert skipped(out) == {"empty": "contains no audio samples", "a-4": "empty transcript", "gone": "file not found"}
    assert report.utterances == 2 and abs(report.seconds - 0.75) < 1e-6


def test_manifest_errors_are_one_line(tmp_path):
    bad = tmp_path / "m.csv"
    bad.write_text("file,sentence\nx.wav,hi\n")
    with pytest.raises(UserError, match="no path or text column"):
        prepare_manifest(bad, tmp_path / "out")
    broken = tmp_path / "m.jsonl"
    broken.write_text('{"path": "x.wav", "text": "hi"}\n{oops\n')
    with pytest.raises(UserError, match=r"m.jsonl:2: not valid JSON"):
        prepare_manifest(broken, tmp_path / "out")
    (tmp_path / "m.txt").write_text("x.wav hi\n")
    with pytest.raises(UserError, match="expected a .csv, .tsv or .jsonl"):
        prepare_manifest(tmp_path / "m.txt", tmp_path / "out")
    res = run_asr("prepare", "manifest", bad, tmp_path / "out")
    assert res.returncode != 0 and "Traceback" not in res.stderr and "no path or text column" in res.stderr


def test_manifests_as_users_write_them(tmp_path):
    """A spreadsheet's CSV (byte-order mark), file names with spaces, a comma left unquoted, a
    JSON number as a text; a manifest in another encoding is one line naming where."""
    tone(tmp_path / "my recording 1.wav")
    tone(tmp_path / "b.wav")
    tone(tmp_path / "click.wav", 0.02)
    rows = "path,text\r\nmy recording 1.wav,你好\r\nb.wav,二月,extra\r\n,no path\r\nclick.wav,啊\r\nb.wav,三月,\r\n"
    (tmp_path / "excel.csv").write_text(rows, encoding="utf-8-sig")
    report = prepare_manifest(tmp_path / "excel.csv", tmp_path / "out")
    assert table(tmp_path / "out", "text") == {"my_recording_1": "你好", "b": "三月"}  # a trailing comma is no field
    assert skipped(tmp_path / "out") == {
        "line3": "more fields than the header (line 3: quote a text that holds the separator)",
        "line4": "no path or text (line 4)",
        "click": "audio shorter than one 25 ms frame",
    }
    # the console line counts by reason, not by line or value
    assert report.reasons() == {
        "more fields than the header": 1,
        "no path or text": 1,
        "audio shorter than one 25 ms frame": 1,
    }
    (tmp_path / "n.jsonl").write_text('{"path": "b.wav", "text": 123}\n')
    prepare_manifest(tmp_path / "n.jsonl", tmp_path / "n")
    assert skipped(tmp_path / "n") == {"line1": "text is not a string (line 1: 123)"}
    (tmp_path / "gbk.csv").write_bytes("path,text\nb.wav,好\nb.wav,二月\n".encode("gbk"))
    with pytest.raises(UserError, match=r"gbk.csv:2: not UTF-8 text"):
        prepare_manifest(tmp_path / "gbk.csv", tmp_path / "g")
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbfpath,text\n" + "好,x\n".encode("gbk"))  # the line, past a mark
    with pytest.raises(UserError, match=r"bom.csv:2: not UTF-8 text"):
        prepare_manifest(tmp_path / "bom.csv", tmp_path / "g")


def test_prepare_refuses_what_leaves_nothing_or_cannot_be_written(tmp_path):
    (tmp_path / "none.csv").write_text("path,text\ngone.wav,你好\n", encoding="utf-8")
    res = run_asr("prepare", "manifest", tmp_path / "none.csv", tmp_path / "out")
    assert res.returncode == 2 and "0 utterances" in res.stdout, res.stdout + res.stderr
    assert res.stderr.strip().splitlines() == [
        f"error: no utterance kept in {tmp_path / 'out'}: the input held none that could be used"
    ]
    (tmp_path / "afile").write_text("")
    res = run_asr("prepare", "manifest", tmp_path / "none.csv", tmp_path / "afile")
    assert res.returncode == 2 and "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_lhotse_cuts_written_by_lhotse(tmp_path):
    lhotse = pytest.importorskip("lhotse")
    whole = tone(tmp_path / "rec1.wav", 1.0)
    long = tone(tmp_path / "rec2.wav", 2.0)
    recs = [
        lhotse.Recording.from_file(whole, recording_id="rec1"),
        lhotse.Recording.from_file(long, recording_id="rec2"),
    ]
    sups = [
        lhotse.SupervisionSegment("s1", "rec1", 0.0, 0.5, text="Good", speaker="kim"),
        lhotse.SupervisionSegment("s2", "rec1", 0.5, 0.5, text="morning", speaker="kim"),
        lhotse.SupervisionSegment("s3", "rec2", 0.0, 2.0, text="whole", speaker="lee"),
    ]
    cuts = lhotse.CutSet.from_manifests(
        recordings=lhotse.RecordingSet.from_recordings(recs), supervisions=lhotse.SupervisionSet.from_segments(sups)
    )
    part = next(c for c in cuts if c.recording_id == "rec2").truncate(duration=1.0)
    cuts = lhotse.CutSet.from_cuts([next(c for c in cuts if c.recording_id == "rec1"), part.with_id("part")])
    path = tmp_path / "cuts.jsonl.gz"
    cuts.to_file(path)
    res = run_asr("prepare", "lhotse", path, tmp_path / "out")
    assert res.returncode == 0, res.stderr
    out = tmp_path / "out"
    texts = table(out, "text")
    (uid,) = [u for u in texts if u != "part"]
    assert texts == {uid: "Good morning", "part": "whole"}
    assert table(out, "utt2spk") == {uid: "kim", "part": "lee"}
    assert table(out, "utt2dur") == {uid: "1.000", "part": "1.000"}
    # the whole recording is an utterance of its own; the truncated cut is a segment of rec2
    assert table(out, "segments") == {uid: "rec1 0.000 -1", "part": "rec2 0.000 1.000"}
    assert skipped(out) == {}
    assert "2 utterances" in res.stdout and "nothing skipped" in res.stdout
    utts = {u.id: u for u in read_data_dir(out)}
    assert len(utts["part"].load()) == 16000 and len(utts[uid].load()) == 16000


def test_manifest_segments_are_cut_at_load_time(tmp_path):
    sr = 16000
    pieces = [np.full(sr // 2, v, np.float32) for v in (0.1, -0.2, 0.3)]  # 0.5 s each, told apart by level
    sf.write(str(tmp_path / "long.wav"), np.concatenate(pieces), sr)
    rows = [
        {"path": "long.wav", "text": "一", "start": 0.0, "end": 0.5, "id": "p1"},
        {"path": "long.wav", "text": "二", "start": 0.5, "end": 1.0, "id": "p2", "speaker": "s"},
        {"path": "long.wav", "text": "三", "start": 1.0, "id": "p3"},  # to the end of the file
        {"path": "long.wav", "text": "四", "start": 1.2, "end": 2.5, "id": "past"},
        {"path": "long.wav", "text": "五", "start": "soon", "id": "bad"},
        {"path": "long.wav", "text": "六", "start": -1.0, "end": 1.0, "id": "early"},
        {"path": "long.wav", "text": "七", "start": 1.0, "end": 0.5, "id": "backwards"},
        {"path": "long.wav", "text": "八", "start": 9.0, "id": "late"},
        {"path": "long.wav", "text": "九", "start": "nan", "end": 1.0, "id": "nan"},
    ]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    prepare_manifest(manifest, tmp_path / "out")
    out = tmp_path / "out"
    assert table(out, "wav.scp") == {"long": str((tmp_path / "long.wav").resolve())}
    assert table(out, "segments") == {"p1": "long 0.000 0.500", "p2": "long 0.500 1.000", "p3": "long 1.000 -1"}
    assert table(out, "utt2dur") == {"p1": "0.500", "p2": "0.500", "p3": "0.500"}
    assert skipped(out)["past"] == "segment past the end of its recording (from 1.2 s to 2.5 s; the recording: 1.5 s)"
    assert skipped(out)["bad"] == "start/end not numbers (line 5: 'soon', None)"
    assert skipped(out)["early"] == "segment starts before its recording (from -1 s to 1 s)"
    assert skipped(out)["backwards"] == "segment is empty (from 1 s to 0.5 s: the end is not after the start)"
    assert skipped(out)["late"] == "segment past the end of its recording (from 9 s to the end; the recording: 1.5 s)"
    assert skipped(out)["nan"].startswith("segment starts before its recording (from nan s")
    utts = read_data_dir(out)
    assert [(u.id, u.start, u.end) for u in utts] == [("p1", 0.0, 0.5), ("p2", 0.5, 1.0), ("p3", 1.0, None)]
    for u, piece in zip(utts, pieces):
        assert np.allclose(u.load().numpy(), piece, atol=1e-4)  # its own half second (PCM16 steps)


def test_evaluating_segments_equals_evaluating_the_pieces(tiny_model, tmp_path):
    """Three samples, padded to whole milliseconds, as files of their own and as segments of one."""
    waves, rows, t = [], [], 0.0
    texts = dict(line.split(" ", 1) for line in (SAMPLES / "text").read_text(encoding="utf-8").splitlines())
    for stem in ("test-belinda-00062", "test-f2-00114", "test-belinda-00142"):
        audio, sr = sf.read(str(SAMPLES / f"{stem}.wav"), dtype="float32")
        audio = np.pad(audio, (0, -len(audio) % 16))
        tone_path = tmp_path / "pieces" / f"{stem}.wav"
        tone_path.parent.mkdir(exist_ok=True)
        sf.write(str(tone_path), audio, sr)
        waves.append(audio)
        rows.append({"path": str(tone_path), "text": texts[stem], "id": stem})
        rows.append(
            {"path": "long.wav", "text": texts[stem], "id": f"seg-{stem}", "start": t, "end": t + len(audio) / sr}
        )
        t += len(audio) / sr
    sf.write(str(tmp_path / "long.wav"), np.concatenate(waves), 16000)
    for name, keep in (("pieces", lambda r: "start" not in r), ("segments", lambda r: "start" in r)):
        (tmp_path / f"{name}.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows if keep(r))
        )
        prepare_manifest(tmp_path / f"{name}.jsonl", tmp_path / name)
    reports = {}
    for name in ("pieces", "segments"):
        res = run_asr(
            "evaluate", "-m", tiny_model["model"], "-d", tmp_path / name, "--report", tmp_path / f"{name}.json"
        )
        assert res.returncode == 0, res.stderr
        reports[name] = json.loads((tmp_path / f"{name}.json").read_text(encoding="utf-8"))
    assert (tmp_path / "segments" / "segments").is_file()
    hyp = {name: {u["id"].removeprefix("seg-"): u["hyp"] for u in r["utterances"]} for name, r in reports.items()}
    assert hyp["segments"] == hyp["pieces"] and len(hyp["pieces"]) == 3


def test_data_dir_tables_that_cannot_be_used_say_why(tmp_path):
    tone(tmp_path / "a.wav")
    (tmp_path / "wav.scp").write_text(f"a {tmp_path / 'a.wav'}\n")
    (tmp_path / "text").write_text("")
    with pytest.raises(UserError, match="its text file lists no transcripts"):
        read_data_dir(tmp_path)
    (tmp_path / "text").write_text("u1 你好\nu2 你好\n", encoding="utf-8")
    for row, why in (
        ("u1 a -1.0 0.4", "segment starts before its recording"),
        ("u1 a nan -1", "segment starts before its recording"),
        ("u1 a 0.4 0.2", "segment is empty"),
        ("u1 a 0.1 nan", "segment is empty"),
    ):
        (tmp_path / "segments").write_text(row + "\n")
        with pytest.raises(UserError, match=why):
            read_data_dir(tmp_path)
    (tmp_path / "segments").write_text("u1 a 0.0 0.2\nu2 a 0.2 -1\n")  # -1: to the end (Kaldi)
    assert [(u.id, u.start, u.end) for u in read_data_dir(tmp_path)] == [("u1", 0.0, 0.2), ("u2", 0.2, None)]
