"""The demo corpus plan: disjoint sentences and voices per split, each split drawn alike."""

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asr.audio import resample
from asr.corpora.demo import (
    DEV_VOICES,
    GCIN_DIR,
    JITTER_BANDS_HZ,
    TEST_VOICES,
    WORLD_JITTER,
    WORLD_TEMPO,
    _band_warp,
    _espeak,
    _human,
    cn_number,
    generate,
    import_pyworld,
    plan,
    recordings,
    travel_slots,
    world_resynthesize,
)
from asr.corpora.syllables import BOPOMOFO, gcin_path, read_recording, read_syllable
from asr.data import read_data_dir, read_slot_data
from asr.errors import UserError


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
    assert {k: len(v) for k, v in texts.items()} == {"train": 2400, "dev": 300, "test": 200, "test_unheard": 200}
    assert not set(texts["train"]) & set(texts["dev"]) and not set(texts["train"]) & set(texts["test"])
    assert not set(texts["dev"]) & set(texts["test"])
    train_voices = {j.voice for j in jobs["train"]}
    assert not train_voices & set(DEV_VOICES + TEST_VOICES) and "gcin3" in train_voices
    # Frequent short sentences (a clock time alone: 七点) must not all land in one split, or the
    # test set would hold sentences whose shape training never saw.
    short = {k: sum(len(t) <= 3 for t in v) / len(v) for k, v in texts.items()}
    assert all(0.5 * short["train"] <= short[k] <= 2 * short["train"] for k in ("dev", "test")), short
    mean = {k: sum(map(len, v)) / len(v) for k, v in texts.items()}
    assert all(abs(mean[k] - mean["train"]) < 1.0 for k in ("dev", "test")), mean


def test_the_held_out_speaker_only_reads_the_unheard_test():
    jobs = plan(Path("/nowhere"), {"train": 2400, "dev": 300, "test": 200}, seed=2026, human=True)
    voices = {split: {j.voice for j in v} for split, v in jobs.items()}
    assert "gcin5" not in voices["train"] | voices["dev"] | voices["test"]
    assert voices["test_unheard"] == {"gcin5"}
    assert [j.text for j in jobs["test_unheard"]] == [j.text for j in jobs["test"]]
    # the held-out split has a random stream of its own: the other splits are as without it
    alone = plan(Path("/nowhere"), {"train": 2400, "dev": 300, "test": 200}, seed=2026, human=True)
    assert alone["train"] == jobs["train"]
    with pytest.raises(UserError, match="held-out"):
        plan(Path("/nowhere"), {"train": 10, "dev": 2, "test": 2}, seed=1, human=True, gcin_speakers=("3", "5"))


@pytest.mark.skipif(
    shutil.which("espeak-ng") is None or not GCIN_DIR.is_dir(),
    reason="needs espeak-ng and gcin-voice (make setup installs them)",
)
def test_prepared_dirs_keep_the_held_out_speaker_out_of_train_and_dev(tmp_path):
    counts = generate(
        tmp_path, train=60, dev=6, test=6, seed=5, human_share=0.3, world_share=0.5, dev_human_share=0, tts_share=0
    )
    assert counts == {"test": 6, "dev": 6, "train": 60, "test_unheard": 6}
    resynth = [u for u in read_data_dir(tmp_path / "train") if "-gcin3w-" in u.id]
    assert resynth and all(sf.info(str(u.path)).duration > 0.3 for u in resynth)
    for split in ("train", "dev", "test"):
        speakers = set((tmp_path / split / "utt2spk").read_text().split()[1::2])
        assert "gcin5" not in speakers and not any(
            "gcin5" in u.id or "gcin5" in str(u.path) for u in read_data_dir(tmp_path / split)
        )
    unheard = read_data_dir(tmp_path / "test_unheard")
    assert {u.text for u in unheard} == {u.text for u in read_data_dir(tmp_path / "test")}
    assert set((tmp_path / "test_unheard" / "utt2spk").read_text().split()[1::2]) == {"gcin5"}
    for split in counts:  # slot tags for every utterance, one per character (read_slot_data checks)
        rows = read_slot_data(tmp_path / split)
        assert len(rows) == counts[split] and all(tags == travel_slots(text) for _, text, tags in rows)


def test_random_voice_variants_join_training_only():
    sizes = {"train": 400, "dev": 30, "test": 20}
    plain = plan(Path("/nowhere"), sizes, seed=2026, human=True)
    jobs = plan(Path("/nowhere"), sizes, seed=2026, human=True, random_voices=40)
    voices = {split: {j.voice for j in v} for split, v in jobs.items()}
    assert sum(v.startswith("rand") for v in voices["train"]) > 20
    assert not any(v.startswith("rand") for split in ("dev", "test", "test_unheard") for v in voices[split])
    for split in ("dev", "test", "test_unheard"):  # held-out splits are the same as without them
        assert [(j.text, j.voice, j.seed) for j in jobs[split]] == [(j.text, j.voice, j.seed) for j in plain[split]]


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (make setup installs it)")
def test_random_voice_variants_are_voices_espeak_reads(tmp_path):
    counts = generate(
        tmp_path, train=12, dev=2, test=2, seed=3, human=False, random_voices=6, dev_human_share=0, tts_share=0
    )
    assert counts == {"test": 2, "dev": 2, "train": 12}
    variants = tmp_path / "espeak" / "espeak-ng-data" / "voices" / "!v"
    assert sorted(p.name for p in variants.glob("rand*")) == [f"rand{k:03d}" for k in range(6)]
    random_utts = [u for u in read_data_dir(tmp_path / "train") if "-rand" in u.id]
    assert random_utts
    for u in random_utts:
        wave, sr = sf.read(str(u.path))
        assert sr == 16000 and wave.std() > 1e-3
    # a variant espeak-ng could not find would fall back to the plain voice: check it is not that
    same = lambda v, path: _espeak("我想去北京", v, np.random.default_rng(0), path)
    assert not np.array_equal(same("rand000", str(tmp_path / "espeak")), same("rand000", None))


def test_re_synthesized_human_utterances_join_training_only():
    sizes = {"train": 400, "dev": 30, "test": 20}
    plain = plan(Path("/nowhere"), sizes, seed=2026, human=True, human_share=0.15, world_share=0)
    jobs = plan(Path("/nowhere"), sizes, seed=2026, human=True, human_share=0.15, world_share=0.75)
    resynth = [j for j in jobs["train"] if j.voice == "gcin3w"]
    human = [j for j in jobs["train"] if j.voice.startswith("gcin")]
    assert 0.5 * len(human) < len(resynth) < len(human)
    for split in ("dev", "test", "test_unheard"):
        assert not any(j.voice.endswith("w") for j in jobs[split])
    # the same sentences, seeds and other voices as without it: only the suffix differs
    strip = lambda js: [(j.text, j.voice.rstrip("w"), j.seed) for j in js]
    assert all(strip(jobs[s]) == strip(plain[s]) for s in jobs)
    more = plan(Path("/nowhere"), sizes, seed=2026, human=True, human_share=0.3)
    assert sum(j.voice.startswith("gcin") for j in more["train"]) > 1.5 * len(human)


@pytest.mark.skipif(not GCIN_DIR.is_dir(), reason="needs gcin-voice (make setup installs it)")
def test_other_tones_are_read_in_training_only():
    sizes = {"train": 400, "dev": 30, "test": 20}
    plain = plan(Path("/nowhere"), sizes, seed=2026, human=True, human_share=0.3)
    jobs = plan(Path("/nowhere"), sizes, seed=2026, human=True, human_share=0.3, tone_share=0.5)
    # the same sentences, voices and seeds as without it
    assert all(
        [(j.text, j.voice, j.seed) for j in jobs[s]] == [(j.text, j.voice, j.seed) for j in plain[s]] for s in jobs
    )
    assert not any(j.folders for s in ("dev", "test", "test_unheard") for j in jobs[s])
    assert not any(j.folders for j in jobs["train"] if not j.voice.startswith("gcin"))
    human = [j for j in jobs["train"] if j.voice.startswith("gcin")]
    read = [(ch, f, p) for j in human for ch, f, p in zip(j.text, j.folders or ("",) * len(j.text), recordings(j))]
    assert 0.35 < sum(bool(f) for _, f, _ in read) / len(read) < 0.5  # 好 and 号 keep their own
    assert all(p == gcin_path("gcin3", f or BOPOMOFO[ch]) for ch, f, p in read)


@pytest.mark.skipif(not GCIN_DIR.is_dir(), reason="needs gcin-voice (make setup installs it)")
def test_a_character_from_another_tone_is_that_recording():
    own, other = read_syllable("gcin3", "三"), read_recording(gcin_path("gcin3", "ㄙㄢ4"))
    # as recorded: the pause and rate draws alike, so the lengths differ by the recordings' difference
    a = _human("三", "gcin3", np.random.default_rng(0), folders=("ㄙㄢ4",))
    b = _human("三", "gcin3", np.random.default_rng(0))
    diff = (len(other[0]) - len(own[0])) * 16000 / 44100
    assert min(diff / 1.15, diff / 0.9) - 2 <= len(a) - len(b) <= max(diff / 1.15, diff / 0.9) + 2
    # re-synthesized by WORLD: as long as the recording it comes from (5 ms frames)
    ((world, _),) = world_resynthesize("三", "gcin3", 200.0, 1.0, folders=("ㄙㄢ4",))
    assert abs(len(world) - len(other[0]) * 16000 / 44100) <= 80


@pytest.mark.skipif(not GCIN_DIR.is_dir(), reason="needs gcin-voice (make setup installs it)")
def test_world_resynthesis_moves_pitch_and_formants():
    pw = import_pyworld()
    freqs = np.linspace(200, 4000, 200)  # where the formants are

    def measure(pieces):
        """Median F0, and the mean log spectral envelope of the voiced frames on `freqs`."""
        wave = np.concatenate([w for w, _ in pieces]).astype(np.float64)
        f0, t = pw.dio(wave, 16000, f0_floor=50.0, f0_ceil=600.0)
        f0 = pw.stonemask(wave, f0, t, 16000)
        env = pw.cheaptrick(wave, f0, t, 16000)[f0 > 0]
        log_env = np.log(env.mean(0))
        return np.median(f0[f0 > 0]), np.interp(freqs, np.linspace(0, 8000, env.shape[1]), log_env)

    def formant_scale(env, ref):
        """The frequency scale that best maps the reference envelope onto `env`."""
        return min(np.arange(0.7, 1.4, 0.01), key=lambda a: np.mean((np.interp(freqs / a, freqs, ref) - env) ** 2))

    text = "我想去北京"
    source = [read_syllable("gcin3", ch) for ch in text]
    _, env_src = measure([(resample(w, sr), 16000) for w, sr in source])
    for target, tract in ((250.0, 1.2), (90.0, 0.9), (160.0, 1.0)):
        pieces = world_resynthesize(text, "gcin3", target, tract)
        # each syllable keeps its length (at 16 kHz)
        assert [len(w) for w, _ in pieces] == pytest.approx([len(w) * 16000 / sr for w, sr in source], abs=100)
        f0, env = measure(pieces)
        assert f0 == pytest.approx(target, rel=0.1)
        assert formant_scale(env, env_src) == pytest.approx(tract, abs=0.04)
    # reproducible: the same random speaker from the same seed
    a = _human(text, "gcin3", np.random.default_rng(7), world=True)
    b = _human(text, "gcin3", np.random.default_rng(7), world=True)
    c = _human(text, "gcin3", np.random.default_rng(8), world=True)
    assert np.array_equal(a, b) and not np.array_equal(a[: len(c)], c[: len(a)])


def test_articulation_jitter_moves_each_band_on_its_own_and_keeps_the_map_monotonic():
    bins = 513
    plain = _band_warp(bins, 1.2, None)
    assert plain == pytest.approx(np.minimum(np.arange(bins) / 1.2, bins - 1))
    edges = np.array(JITTER_BANDS_HZ) / JITTER_BANDS_HZ[-1] * (bins - 1)
    rng = np.random.default_rng(3)
    for _ in range(20):
        logs = rng.uniform(-WORLD_JITTER, WORLD_JITTER, len(JITTER_BANDS_HZ) - 1)
        src = _band_warp(bins, 1.1, logs)
        assert np.all(np.diff(src) >= 0) and src[0] == 0 and src[-1] <= bins - 1
        # the target position of each source band edge: stretched by 1.1 x exp(its band's log)
        targets = np.interp(edges[1:-1], src, np.arange(bins))
        expected = np.cumsum(np.diff(edges) * 1.1 * np.exp(logs))[:-1]
        assert targets == pytest.approx(expected, abs=1.0)


def test_jittered_world_syllables_keep_their_lengths_within_the_tempo_range():
    text = "零二三点"
    source = [len(w) * 16000 / sr for w, sr in (read_syllable("gcin3", ch) for ch in text)]
    lengths = [len(w) for w, _ in world_resynthesize(text, "gcin3", 300.0, 1.2, 1.0, np.random.default_rng(1), 0.12)]
    ratios = np.array(lengths) / np.array(source)
    lo, hi = WORLD_TEMPO
    assert np.all(ratios > lo - 0.05) and np.all(ratios < hi + 0.05)
    assert ratios.max() - ratios.min() > 0.02  # each syllable scaled on its own


def test_missing_pyworld_is_a_one_line_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyworld", None)
    with pytest.raises(UserError, match="pip install"):
        import_pyworld()


@pytest.mark.skipif(
    shutil.which("espeak-ng") is None or not GCIN_DIR.is_dir(),
    reason="needs espeak-ng and gcin-voice (make setup installs them)",
)
def test_without_pyworld_the_human_voice_is_read_as_it_is(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyworld", None)
    said = []
    counts = generate(
        tmp_path, train=20, dev=2, test=2, seed=5, human_share=0.5, dev_human_share=0, tts_share=0, notice=said.append
    )
    assert counts["train"] == 20
    assert len(said) == 1 and said[0].startswith("left out WORLD re-synthesis") and "pip install" in said[0]
    voices = set((tmp_path / "train" / "utt2spk").read_text().split()[1::2])
    assert "gcin3" in voices and "gcin3w" not in voices
