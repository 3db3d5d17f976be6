"""The demo corpus plan: disjoint sentences and voices per split, each split drawn alike."""

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asr.audio import resample
from asr.corpora.demo import espeak
from asr.corpora.demo.espeak import DEV_VOICES, TEST_VOICES
from asr.corpora.demo.generate import generate
from asr.corpora.demo.grammar import cn_number, travel_slots
from asr.corpora.demo.mix import DemoMix
from asr.corpora.demo.plan import plan
from asr.corpora.demo.render import Job, render
from asr.corpora.demo.voices import HumanRecordings
from asr.corpora.demo.world import import_pyworld, warp_envelope, world_resynthesize
from asr.corpora.syllables import GCIN_DIR, read_syllable
from asr.datadir import read_data_dir, read_slot_data
from asr.errors import UserError
from conftest import run_asr


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
    # a tenth more in each split: travel sentences in other orders (test's: the 到Y从X probes)
    assert {k: len(v) for k, v in texts.items()} == {"train": 2640, "dev": 330, "test": 220, "test_unheard": 220}
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


@pytest.mark.skipif(
    shutil.which("espeak-ng") is None or not GCIN_DIR.is_dir(),
    reason="needs espeak-ng and gcin-voice (make setup installs them)",
)
def test_prepared_dirs_keep_the_held_out_speaker_out_of_train_and_dev(tmp_path):
    counts = generate(tmp_path, 60, 6, 6, seed=5, mix=DemoMix(human_share=0.3, world_share=0.5, dev_human_share=0))
    assert counts == {"test": 6, "dev": 6, "train": 66, "test_unheard": 6}  # 60 + 6 in other orders
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
    jobs = plan(Path("/nowhere"), sizes, seed=2026, human=True, mix=DemoMix(random_voices=40))
    voices = {split: {j.voice for j in v} for split, v in jobs.items()}
    assert sum(v.startswith("rand") for v in voices["train"]) > 20
    assert not any(v.startswith("rand") for split in ("dev", "test", "test_unheard") for v in voices[split])
    for split in ("dev", "test", "test_unheard"):  # held-out splits are the same as without them
        assert [(j.text, j.voice, j.seed) for j in jobs[split]] == [(j.text, j.voice, j.seed) for j in plain[split]]


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (make setup installs it)")
def test_random_voice_variants_are_voices_espeak_reads(tmp_path):
    counts = generate(tmp_path, 12, 2, 2, seed=3, mix=DemoMix(random_voices=6, dev_human_share=0), human=False)
    assert counts == {"test": 2, "dev": 2, "train": 13}  # 12 + 1 in other orders
    variants = tmp_path / "espeak" / "espeak-ng-data" / "voices" / "!v"
    assert sorted(p.name for p in variants.glob("rand*")) == [f"rand{k:03d}" for k in range(6)]
    random_utts = [u for u in read_data_dir(tmp_path / "train") if "-rand" in u.id]
    assert random_utts
    for u in random_utts:
        wave, sr = sf.read(str(u.path))
        assert sr == 16000 and wave.std() > 1e-3
    # a variant espeak-ng could not find would fall back to the plain voice: check it is not that
    same = lambda v, path: espeak.synthesize("我想去北京", v, np.random.default_rng(0), path)
    assert not np.array_equal(same("rand000", str(tmp_path / "espeak")), same("rand000", None))


def test_re_synthesized_human_utterances_join_training_only():
    sizes = {"train": 400, "dev": 30, "test": 20}
    plain = plan(Path("/nowhere"), sizes, 2026, True, DemoMix(human_share=0.15, world_share=0))
    jobs = plan(Path("/nowhere"), sizes, 2026, True, DemoMix(human_share=0.15, world_share=0.75))
    resynth = [j for j in jobs["train"] if j.voice == "gcin3w"]
    human = [j for j in jobs["train"] if j.voice.startswith("gcin")]
    assert 0.5 * len(human) < len(resynth) < len(human)
    for split in ("dev", "test", "test_unheard"):
        assert not any(j.voice.endswith("w") for j in jobs[split])
    # the same sentences, seeds and other voices as without it: only the suffix differs
    strip = lambda js: [(j.text, j.voice.rstrip("w"), j.seed) for j in js]
    assert all(strip(jobs[s]) == strip(plain[s]) for s in jobs)
    more = plan(Path("/nowhere"), sizes, 2026, True, DemoMix(human_share=0.3))
    assert sum(j.voice.startswith("gcin") for j in more["train"]) > 1.5 * len(human)


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
    job = Job("u", text, "gcin3w", 0, Path("/nowhere"))
    a, b, c = (HumanRecordings(world=True).speak(job, np.random.default_rng(seed)).wave for seed in (7, 7, 8))
    assert np.array_equal(a, b) and not np.array_equal(a[: len(c)], c[: len(a)])


def test_the_envelope_warp_moves_features_up_by_the_scale():
    env = np.zeros((1, 513))
    env[0, 100] = 1.0  # one spectral peak at bin 100
    assert np.argmax(warp_envelope(env, 1.2)[0]) == 120
    assert np.argmax(warp_envelope(env, 0.8)[0]) == 80
    assert np.allclose(warp_envelope(env, 1.0), env)


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
    counts = generate(tmp_path, 20, 2, 2, seed=5, mix=DemoMix(human_share=0.5, dev_human_share=0), notice=said.append)
    assert counts["train"] == 22  # 20 + 2 in other orders
    assert len(said) == 1 and said[0].startswith("left out WORLD re-synthesis") and "pip install" in said[0]
    voices = set((tmp_path / "train" / "utt2spk").read_text().split()[1::2])
    assert "gcin3" in voices and "gcin3w" not in voices


def test_the_mix_is_frozen_and_checked_at_the_door():
    mix = DemoMix()
    with pytest.raises(AttributeError):
        mix.human_share = 0.5  # type: ignore[misc]
    for bad in (dict(world_share=1.5), dict(tts_share=-0.1), dict(random_voices=-1), dict(random_voices=10_000)):
        with pytest.raises(UserError, match=next(iter(bad))):
            DemoMix(**bad)


class Tone:
    """A voice source of the test's own: a 440 Hz tone, 0.1 s per character."""

    def speak(self, job, rng):
        t = np.arange(int(0.1 * 16000 * len(job.text))) / 16000
        return (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def test_a_voice_source_plugs_into_render(tmp_path):
    job = Job("u", "我想去北京", "anything", 3, tmp_path / "u.wav")
    render(job, Tone())
    wave, sr = sf.read(str(job.path))
    assert sr == 16000 and 0.5 + 0.1 <= len(wave) / sr <= 0.5 + 0.8  # speech plus two pads of 0.05-0.4 s
    spectrum = np.abs(np.fft.rfft(wave))
    assert abs(np.argmax(spectrum) * sr / len(wave) - 440) < 5


def test_every_corpus_option_is_an_option_of_asr_prepare_demo():
    """What generate and DemoMix take, a user can set from the command line, with the same
    defaults (the CLI reads DemoMix's; nothing is an option for experiments or tests only)."""
    import dataclasses
    import inspect

    from typer.main import get_command

    from asr.cli import app

    command = get_command(app).commands["prepare"].commands["demo"]
    cli = {p.name: p.default for p in command.params}
    callbacks = {"progress", "notice", "mix"}  # how the CLI listens, and the DemoMix it builds
    taken = {n: p.default for n, p in inspect.signature(generate).parameters.items() if n not in callbacks}
    mix = {f.name: f.default for f in dataclasses.fields(DemoMix)}
    assert set(taken) | set(mix) <= set(cli), set(taken) | set(mix) - set(cli)
    assert {n: cli[n] for n in mix} == mix
    assert {n: cli[n] for n in taken if n != "out_dir"} == {n: d for n, d in taken.items() if n != "out_dir"}
    help_text = " ".join(run_asr("prepare", "demo", "--help").stdout.split())
    assert f"{DemoMix.describe(DemoMix(), 'world_share')} [default: {DemoMix().world_share};" in help_text


def test_other_orders_are_added_and_leave_the_corpus_as_it_was(monkeypatch):
    """Destination-first and origin-only sentences come after each split's others, from a stream
    of their own; the 到Y从X probes are in test only."""
    from asr.corpora.demo import grammar
    from asr.slots import slot_values

    sizes = {"train": 2400, "dev": 300, "test": 200}
    jobs = plan(Path("/nowhere"), sizes, seed=2026, human=True)
    monkeypatch.setattr(grammar, "OTHER_ORDER_EVERY", 10**9)
    before = plan(Path("/nowhere"), sizes, seed=2026, human=True)
    assert {k: len(v) for k, v in before.items()} == {**sizes, "test_unheard": 200}
    for split, v in before.items():
        assert jobs[split][: len(v)] == v  # the same texts, voices, seeds and paths
    texts = {split: [j.text for j in v] for split, v in jobs.items()}
    assert set(grammar.PROBES) <= set(texts["test"][200:]) and len(grammar.PROBES) == 20
    assert not set(grammar.PROBES) & set(texts["train"] + texts["dev"])
    assert len(set(texts["train"] + texts["dev"] + texts["test"])) == 2640 + 330 + 220
    orders = [[s for s, _ in slot_values(t, grammar.travel_slots(t))] for t in texts["train"][2400:]]
    first = sum(o[-2:] == ["destination", "origin"] for o in orders)
    alone = sum("origin" in o and "destination" not in o for o in orders)
    assert first > 60 and alone > 60, (first, alone)
