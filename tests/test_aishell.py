import json

import pytest

from asr.corpora.aishell import prepare_aishell
from asr.datadir import read_data_dir
from asr.errors import UserError
from conftest import ROOT, have_espeak, make_aishell_layout, run_asr

pytestmark = pytest.mark.skipif(not have_espeak(), reason="espeak-ng is needed to synthesize the tiny corpus")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("aishell")
    return root, make_aishell_layout(root)


def test_prepare_reads_the_official_layout(corpus, tmp_path):
    root, expected = corpus
    reports = prepare_aishell(root, tmp_path / "dirs")
    assert {r.out_dir.name: r.utterances for r in reports} == expected
    assert [r.reasons() for r in reports] == [{"no transcript": 1}, {}, {}]  # one extra train wav
    skipped = (tmp_path / "dirs" / "train" / "skipped.tsv").read_text().splitlines()
    assert len(skipped) == 2 and skipped[1].endswith("\tno transcript")
    assert (tmp_path / "dirs" / "train" / "utt2dur").is_file() and (tmp_path / "dirs" / "train" / "spk2utt").is_file()
    train = read_data_dir(tmp_path / "dirs" / "train")
    assert all(u.path.is_absolute() and u.path.is_file() for u in train)
    assert all(" " not in u.text for u in train)  # word segmentation removed
    spk = (tmp_path / "dirs" / "train" / "utt2spk").read_text().split()
    assert spk[1] == "S0001"


def test_prepare_train_evaluate_through_the_recipe(corpus, tmp_path):
    root, expected = corpus
    dirs, exp = tmp_path / "dirs", tmp_path / "exp"
    sets = [
        f"data.corpus_dir={root}",
        f"data.train={dirs}/train",
        f"data.dev={dirs}/dev",
        f"data.test={dirs}/test",
        f"exp_dir={exp}",
        "train.epochs=2",
        "model.hidden=32",
        "model.layers=2",
        "train.num_workers=2",
        "train.batch_size=4",
        f"train.feature_cache_dir={tmp_path / 'cache'}",
    ]
    res = run_asr("train", ROOT / "recipes" / "aishell.yaml", *[a for s in sets for a in ("--set", s)])
    assert res.returncode == 0, res.stderr
    assert (dirs / "train" / "wav.scp").is_file()  # prepared on the fly from the corpus
    assert (exp / "best.pt").is_file() and (exp / "avg.pt").is_file()
    assert list((tmp_path / "cache").rglob("*.pt"))  # unperturbed features were cached on disk
    res = run_asr("evaluate", "--model", exp / "best.pt", "--data", dirs / "test", "--report", tmp_path / "r.json")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("CER ")
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert len(report["utterances"]) == expected["test"]


def test_missing_corpus_is_one_clear_line(tmp_path):
    where = tmp_path / "nowhere"
    res = run_asr(
        "train",
        ROOT / "recipes" / "aishell.yaml",
        "--set",
        f"data.corpus_dir={where}",
        "--set",
        f"data.train={tmp_path}/d/train",
        "--set",
        f"data.dev={tmp_path}/d/dev",
        "--set",
        f"exp_dir={tmp_path}/exp",
    )
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert str(where) in lines[0] and "OpenSLR resource 33" in lines[0]
    assert "Traceback" not in res.stderr


def test_prepare_unextracted_archives(tmp_path):
    wav = tmp_path / "data_aishell" / "wav"
    wav.mkdir(parents=True)
    (wav / "S0002.tar.gz").write_bytes(b"")
    (tmp_path / "data_aishell" / "transcript").mkdir()
    (tmp_path / "data_aishell" / "transcript" / "aishell_transcript_v0.8.txt").write_text("BAC009S0002W0122 你好\n")
    with pytest.raises(UserError, match="not extracted"):
        prepare_aishell(tmp_path, tmp_path / "out")
