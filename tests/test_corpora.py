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
from asr.data import read_data_dir
from asr.errors import UserError
from conftest import run_asr


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
    assert table(dev, "text") == {"84-121123-0000": "go do you hear", "84-121123-0001": "but in less than five minutes"}
    assert table(dev, "utt2spk") == {"84-121123-0000": "84", "84-121123-0001": "84"}
    assert table(dev, "spk2utt") == {"84": "84-121123-0000 84-121123-0001"}
    assert table(dev, "utt2dur") == {"84-121123-0000": "1.000", "84-121123-0001": "0.500"}
    assert Path(table(dev, "wav.scp")["84-121123-0000"]) == (chapter / "84-121123-0000.flac").resolve()
    reasons = skipped(dev)
    assert reasons["84-121123-0003"] == "no transcript"
    assert reasons["84-121123-0004"] == "missing file"
    assert reasons["84-121123-0002"].startswith("unreadable audio")
    assert len(reasons) == 3
    assert [u.text for u in read_data_dir(tmp_path / "out" / "test-clean")] == ["he hoped there would be stew"]
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
    assert table(out, "text") == {"common_voice_nl_1": "hallo wereld", "common_voice_nl_2": "goedemorgen"}
    assert table(out, "utt2spk") == {"common_voice_nl_1": "spk1", "common_voice_nl_2": "spk1"}
    assert abs(float(table(out, "utt2dur")["common_voice_nl_1"]) - 0.6) < 0.1  # MP3 frames pad a little
    assert skipped(out) == {
        "common_voice_nl_3": "not validated: 1 up, 0 down votes",
        "common_voice_nl_4": "not validated: 2 up, 2 down votes",
        "common_voice_nl_5": "missing file",
        "common_voice_nl_6": "empty transcript",
        "common_voice_nl_7": skipped(out)["common_voice_nl_7"],
    }
    assert skipped(out)["common_voice_nl_7"].startswith("unreadable audio")
    assert report.line().startswith(f"{out}: 2 utterances") and "5 " not in report.line().split("(")[0]
    assert report.reasons() == {"not validated": 2, "missing file": 1, "empty transcript": 1, "unreadable audio": 1}


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
    assert table(out, "text") == {"a": "你好world", "bee": "hello world"}
    assert table(out, "utt2spk") == {"a": "ann", "bee": "bee"}
    assert table(out, "utt2dur") == {"a": "0.500", "bee": "0.250"}
    assert skipped(out) == {"empty": "no audio samples", "a-4": "empty transcript", "gone": "missing file"}
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
    (uid,) = table(out, "text")
    assert table(out, "text")[uid] == "good morning" and table(out, "utt2spk")[uid] == "kim"
    assert table(out, "utt2dur")[uid] == "1.000"
    assert skipped(out) == {"part": "part of a longer recording (0.00-1.00 s of 2.00 s)"}
    assert "1 utterances" in res.stdout and "1 part of a longer recording" in res.stdout
