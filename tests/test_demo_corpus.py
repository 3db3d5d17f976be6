"""The demo corpus plan: disjoint sentences and voices per split, each split drawn alike."""

from pathlib import Path

from asr.corpora.demo import DEV_VOICES, TEST_VOICES, cn_number, plan


def test_cn_number():
    assert [cn_number(n) for n in (0, 10, 15, 305, 2026, 1000)] == [
        "零",
        "十",
        "十五",
        "三百零五",
        "二千零二十六",
        "一千",
    ]


def test_splits_are_disjoint_and_alike():
    jobs = plan(Path("/nowhere"), {"train": 2400, "dev": 300, "test": 200}, seed=2026, human=True)
    texts = {split: [j.text for j in v] for split, v in jobs.items()}
    assert {k: len(v) for k, v in texts.items()} == {"train": 2400, "dev": 300, "test": 200}
    assert not set(texts["train"]) & set(texts["dev"]) and not set(texts["train"]) & set(texts["test"])
    assert not set(texts["dev"]) & set(texts["test"])
    train_voices = {j.voice for j in jobs["train"]}
    assert not train_voices & set(DEV_VOICES + TEST_VOICES) and {"gcin3", "gcin5"} <= train_voices
    # Frequent short sentences (a clock time alone: 七点) must not all land in one split, or the
    # test set would hold sentences whose shape training never saw.
    short = {k: sum(len(t) <= 3 for t in v) / len(v) for k, v in texts.items()}
    assert all(0.5 * short["train"] <= short[k] <= 2 * short["train"] for k in ("dev", "test")), short
    mean = {k: sum(map(len, v)) / len(v) for k, v in texts.items()}
    assert all(abs(mean[k] - mean["train"]) < 1.0 for k in ("dev", "test")), mean
