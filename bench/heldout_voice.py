"""Augmentation ablation: how the demo recipe carries over to a human voice training never hears.

    make bench-voice                       # CPU, ~5 min a row: the corpus, then one training run per row
    python -m bench.heldout_voice --rows base,speed --work exp/bench_voice

Every row trains the demo recipe on the demo corpus as it was before this ablation (BASE_CORPUS:
its only human voice gcin-voice speaker 3, 15% of training) with one change, and scores: best
dev CER (espeak-ng voices training never hears), the demo test set, the same test sentences
read by gcin-voice speaker 5 (human, never in train or dev), the test set at 8 kHz, and training
minutes. Decisions are made on dev; the held-out
column is reported, not tuned on. Rows already in the work folder's results.jsonl are kept
(an interrupted run goes on where it stopped); --fresh starts over.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import soundfile as sf

from asr.audio import load_audio, resample
from asr.config import load_recipe
from asr.corpora import demo
from asr.data import Utterance, read_data_dir, write_data_dir
from asr.train import train
from bench import phonetic
from bench.common import (
    append_result,
    chosen_model,
    greedy_rates,
    machine,
    pick_rows,
    read_results,
    section_note,
    write_section,
)

# The steps as the ablation switches them on (ranges are the recipe defaults in asr/augment.py).
STEPS = {
    "vtlp": ["augment.vtlp_prob=0.8"],
    "pitch": ["augment.pitch_prob=0.5"],
    # the only human training voice (F0 ~155 Hz) stretched toward the human range: ~100-250 Hz,
    # vocal tracts from long adult male to child
    "vtlp_wide": ["augment.vtlp_prob=0.8", "augment.vtlp_warp=[0.8, 1.25]"],
    "pitch_wide": ["augment.pitch_prob=0.5", "augment.pitch_semitones=[-8, 8]"],
    "speed": ["augment.speeds=[0.9, 1.0, 1.1]"],
    "reverb": ["augment.reverb_prob=0.3"],
    "eq": ["augment.eq_prob=0.5"],
    "babble": ["augment.babble_prob=0.3"],
    "noise": ["augment.noise_prob=0.3"],
    "gain": ["augment.gain_prob=0.5"],
    "cmn": ["features.utterance_norm=mean"],
}
LABELS = {
    "vtlp": "VTLP 0.9-1.1 (p 0.8)",
    "pitch": "pitch shift +-3 semitones (p 0.5)",
    "vtlp_wide": "VTLP 0.8-1.25 (p 0.8)",
    "pitch_wide": "pitch shift +-8 semitones (p 0.5)",
    "speed": "speed 0.9/1.0/1.1",
    "reverb": "reverb RT60 0.15-0.7 s (p 0.3)",
    "eq": "EQ / band limit (p 0.5)",
    "babble": "babble 1-3 voices, 10-25 dB (p 0.3)",
    "noise": "white noise 10-30 dB (p 0.3)",
    "gain": "gain -20..+6 dB (p 0.5)",
    "cmn": "per-utterance mean normalization",
}
ALL = [
    o for name in ("speed", "vtlp_wide", "pitch_wide", "reverb", "eq", "babble", "noise", "gain") for o in STEPS[name]
]
# The corpus the ablation started from: the demo corpus before the human share was doubled,
# WORLD re-synthesis (and its articulation jitter) and ttskit's speakers were switched on (its
# voices, as demo.generate's keyword arguments; every row's corpus changes these).
BASE_CORPUS = {"human_share": 0.15, "world_share": 0.0, "tts_share": 0.0, "mbrola_share": 0.0, "world_jitter": 0.0}
# Rows that train on another corpus: the same sentences, dev and test voices, and training voices
# changed from BASE_CORPUS.
RANDOM_VOICES = 150
CORPORA = {
    "data_voices": {"random_voices": RANDOM_VOICES},  # random espeak-ng voice variants added
    "data_world": {"world_share": 0.75},  # 3 of 4 human utterances re-synthesized (WORLD) as other speakers
    "data_world30": {"world_share": 0.75, "human_share": 0.3},  # ... and twice the human share
    "data_nohuman": {"human_share": 0.0},  # espeak-ng voices only
    "data_human30": {"human_share": 0.3},  # twice the human share, none re-synthesized
    "data_tts30": {"tts_share": 0.3},  # ttskit's speakers read 30% of the espeak-ng share
    "data_tts30_world30": {"tts_share": 0.3, "world_share": 0.75, "human_share": 0.3},
    # MBROLA's cn1 (make mbrola) reads 30% of the espeak-ng share of the demo corpus
    "data_mbrola30_world30": {"mbrola_share": 0.3, "world_share": 0.75, "human_share": 0.3},
    # WORLD re-synthesis with articulation jitter (envelope bands and syllable lengths apart)
    "data_world30_jit": {"world_share": 0.75, "human_share": 0.3, "world_jitter": demo.WORLD_JITTER},
    "data_world50": {"world_share": 0.75, "human_share": 0.5},  # half of training human, 3/4 of it WORLD
    # yanyu's speaker reads half of the human share (so no dev): a second human training voice
    # half of the characters gcin-voice 3 reads come from its recordings of their other tones
    "data_world30_tones": {"world_share": 0.75, "human_share": 0.3, "tone_share": 0.5},
    "data_yanyu_world30": {"world_share": 0.75, "human_share": 0.3, "yanyu_share": 0.5, "dev_human_share": 0.0},
}
# All 1,200 of gcin-voice speaker 3's syllables (bench/phonetic.py: the demo's 37 written as
# characters, the others as bopomofo; folder -> training utterances), alone or joined to a demo
# corpus's train.
PHONETIC = {"phon_gcin3": 1200, "phon_gcin3_big": 3600}
JOINED = {"data_world30_phon": ("data_world30", "phon_gcin3")}
# train.init of the rows that start from the recipe trained on a PHONETIC corpus alone:
# marker -> (that corpus, the pretraining run under exp/)
PRETRAINED = {
    "@pretrained": ("phon_gcin3", "pretrain_phon"),
    "@pretrained_big": ("phon_gcin3_big", "pretrain_phon_big"),
}
# Corpora whose training hears yanyu's speaker: their rows pick the best epoch on dev's espeak-ng
# half (dev_espeak) and have no dev human figure.
HEARS_YANYU = {folder for folder, voices in CORPORA.items() if voices.get("yanyu_share")}
# The corpus of each row not trained on the starting corpus (a row's training-seed-1 twin, added
# below, trains on the corpus of its row).
ROW_CORPUS = {
    "voices": "data_voices",
    "all_voices_late": "data_voices",
    "rec_world": "data_world",
    "all_late_world": "data_world",
    "rec_world30": "data_world30",
    "rec_nohuman": "data_nohuman",
    "rec_human30": "data_human30",
    "rec_cmvn_world": "data_world",
    "rec_world30_e15": "data_world30",
    "rec_tts30": "data_tts30",
    "rec_tts30_world30": "data_tts30_world30",
    "rec_mbrola30_world30_e15": "data_mbrola30_world30",
    "rec_world30_jit_e15": "data_world30_jit",
    "rec_world50_e15": "data_world50",
    "rec_yanyu_world30_e15": "data_yanyu_world30",
    "rec_world30_phon_e15": "data_world30_phon",
    "rec_world30_pre_e15": "data_world30",
    "rec_world30_prebig_e15": "data_world30",
    "rec_world30_prebig_frz1_e15": "data_world30",
    "rec_world30_avg5_e15": "data_world30",
    "rec_world30_drop3_e15": "data_world30",
    "rec_world30_spec8_e15": "data_world30",
    "rec_world30_tm4_e15": "data_world30",
    "rec_world30_tones_e15": "data_world30_tones",
}
# Every row starts from recipes/demo.yaml with its augmentation taken back to what it was before
# this ablation (8 kHz and SpecAugment only) and its schedule as it was (12 epochs, lr x0.85 each);
# the "+ VTLP 0.8-1.25, from epoch 4" row is the recipe of that time.
BASE = ["augment.vtlp_prob=0", "augment.start_epoch=0", "train.epochs=12", "train.lr_final=null", "train.lr_decay=0.85"]
LATE = ["augment.start_epoch=3"]  # three clean epochs first (CTC's all-blank start), then augmented
RECIPE = STEPS["vtlp_wide"] + LATE
# 15 epochs instead of 12, ending at the same last-epoch rate (0.85^11 of lr): today's recipe
EPOCHS_15 = ["train.epochs=15", "train.lr_decay=1.0", f"train.lr_final={0.85**11:.4f}"]
SEED_1 = ["train.seed=1"]
AVERAGE_5 = ["train.average_last=5"]  # avg.pt: the last 5 epochs' weights averaged
TIME_MASKS_4 = ["augment.time_masks=4", "augment.time_ratio=0.2"]  # SpecAugment over frames, twice the recipe's


def seeds_0_1(
    name: str, label: str, overrides: list[str], seed1_label: str | None = None
) -> dict[str, tuple[str, list[str]]]:
    """Row `name` and its twin `name`_seed1, the same run with training seed 1, labelled
    `seed1_label` (default: `label`) + ", training seed 1"."""
    return {name: (label, overrides), f"{name}_seed1": (f"{seed1_label or label}, training seed 1", overrides + SEED_1)}


REC_STEPS = ("speed", "pitch_wide", "reverb", "eq", "babble", "noise", "gain")
ROWS: dict[str, tuple[str, list[str]]] = {
    "base": ("demo recipe: 8 kHz 30%, SpecAugment on log-mel, SortaGrad", []),
    "base_nosorta": ("... without SortaGrad", ["train.sortagrad=false"]),
    **{name: (f"+ {LABELS[name]}", overrides) for name, overrides in STEPS.items()},
    **{f"{name}_late": (f"+ {LABELS[name]}, from epoch 4", overrides + LATE) for name, overrides in STEPS.items()},
    "all": ("+ all of: speed, VTLP 0.8-1.25, pitch +-8, reverb, EQ, babble, noise, gain", ALL),
    "all_late": (
        "+ all of: speed, VTLP 0.8-1.25, pitch +-8, reverb, EQ, babble, noise, gain, from epoch 4",
        ALL + LATE,
    ),
    "voices": (f"+ {RANDOM_VOICES} random espeak-ng voice variants in the corpus", []),
    "all_voices_late": (f"+ all from epoch 4, + {RANDOM_VOICES} random espeak-ng voice variants", ALL + LATE),
    "all_late_cmn": ("+ all from epoch 4, + per-utterance mean norm", ALL + LATE + STEPS["cmn"]),
    # on top of the recipe (VTLP 0.8-1.25 from epoch 4): one more step, more capacity, more epochs
    **{f"rec_{name}": (f"recipe + {LABELS[name]}", RECIPE + STEPS[name]) for name in REC_STEPS},
    "rec_big": ("recipe, hidden 256 (3.9 M parameters)", RECIPE + ["model.hidden=256"]),
    "rec_long": ("recipe, 20 epochs (lr decay 0.9)", RECIPE + ["train.epochs=20", "train.lr_decay=0.9"]),
    "rec_dropout": ("recipe, dropout 0.3", RECIPE + ["model.dropout=0.3"]),
    "rec_seed1": ("recipe, training seed 1", RECIPE + SEED_1),
    "rec_cmn": ("recipe + per-utterance mean normalization", RECIPE + STEPS["cmn"]),
    "rec_cmvn": (
        "recipe + per-utterance mean and variance normalization",
        RECIPE + ["features.utterance_norm=mean_var"],
    ),
    **seeds_0_1(
        "rec_world",
        "recipe, 3/4 of the human utterances re-synthesized as random speakers (WORLD)",
        RECIPE,
        "recipe, 3/4 of the human utterances re-synthesized (WORLD)",
    ),
    **seeds_0_1(
        "rec_world30",
        "recipe, human share 15% -> 30%, 3/4 of it re-synthesized (WORLD): the demo corpus now",
        RECIPE,
        "recipe, human share 15% -> 30%, 3/4 of it re-synthesized (WORLD)",
    ),
    "all_late_world": ("+ all from epoch 4, + 3/4 of the human utterances re-synthesized (WORLD)", ALL + LATE),
    "rec_nohuman": ("recipe, no human voice in training (espeak-ng only)", RECIPE),
    **seeds_0_1("rec_human30", "recipe, human share 15% -> 30%", RECIPE),
    **seeds_0_1(
        "rec_world30_e15",
        "recipe, human share 30%, 3/4 of it re-synthesized (WORLD), 15 epochs (the same final lr)",
        RECIPE + EPOCHS_15,
    ),
    **seeds_0_1("rec_tts30", "recipe, ttskit's speakers read 30% of the espeak-ng share", RECIPE),
    **seeds_0_1("rec_tts30_world30", "recipe, ttskit 30% + human share 30%, 3/4 of it re-synthesized (WORLD)", RECIPE),
    **seeds_0_1(
        "rec_mbrola30_world30_e15",
        "recipe, 15 epochs, MBROLA cn1 30% of the espeak-ng share + human share 30%, 3/4 of it re-synthesized (WORLD)",
        RECIPE + EPOCHS_15,
        "recipe, 15 epochs, MBROLA cn1 30% + human share 30%, 3/4 of it re-synthesized (WORLD)",
    ),
    **seeds_0_1(
        "rec_world30_jit_e15",
        "recipe, 15 epochs, human share 30%, 3/4 of it re-synthesized (WORLD) with articulation jitter",
        RECIPE + EPOCHS_15,
        "recipe, 15 epochs, human share 30%, 3/4 re-synthesized (WORLD) with articulation jitter",
    ),
    **seeds_0_1(
        "rec_world50_e15", "recipe, 15 epochs, human share 50%, 3/4 of it re-synthesized (WORLD)", RECIPE + EPOCHS_15
    ),
    "rec_yanyu_world30_e15": (
        "recipe, 15 epochs, human share 30% (half of it yanyu's speaker, half gcin-voice 3), 3/4 re-synthesized (WORLD); dev: its espeak-ng half",
        RECIPE + EPOCHS_15,
    ),
    "rec_yanyu_world30_e15_seed1": (
        "recipe, 15 epochs, human share 30% (half yanyu, half gcin-voice 3), 3/4 re-synthesized (WORLD), training seed 1; dev: its espeak-ng half",
        RECIPE + EPOCHS_15 + SEED_1,
    ),
    **seeds_0_1(
        "rec_world30_phon_e15",
        "recipe, 15 epochs, the demo corpus + 1,200 utterances of all 1,200 gcin-voice 3 syllables (others spelt in bopomofo)",
        RECIPE + EPOCHS_15,
        "recipe, 15 epochs, the demo corpus + 1,200 utterances of all gcin-voice 3 syllables",
    ),
    **seeds_0_1(
        "rec_world30_pre_e15",
        "recipe, 15 epochs, the demo corpus, starting from the recipe trained on all gcin-voice 3 syllables",
        RECIPE + EPOCHS_15 + ["train.init=@pretrained"],
    ),
    "rec_world30_prebig_e15": (
        "recipe, 15 epochs, the demo corpus, starting from the recipe trained on 3,600 utterances of all gcin-voice 3 syllables",
        RECIPE + EPOCHS_15 + ["train.init=@pretrained_big"],
    ),
    "rec_world30_prebig_frz1_e15": (
        "recipe, 15 epochs, the demo corpus, starting from the recipe trained on 3,600 utterances of all gcin-voice 3 syllables, its lowest layer fixed",
        RECIPE + EPOCHS_15 + ["train.init=@pretrained_big", "train.freeze_layers=1", "train.freeze_epochs=15"],
    ),
    **seeds_0_1(
        "rec_world30_avg5_e15",
        "recipe, 15 epochs, the demo corpus, the last 5 epochs' weights averaged (avg.pt where its dev CER is lower)",
        RECIPE + EPOCHS_15 + AVERAGE_5,
        "recipe, 15 epochs, the demo corpus, the last 5 epochs' weights averaged (where dev says)",
    ),
    **seeds_0_1(
        "rec_world30_drop3_e15",
        "recipe, 15 epochs, the demo corpus, dropout 0.1 -> 0.3",
        RECIPE + EPOCHS_15 + ["model.dropout=0.3"],
    ),
    **seeds_0_1(
        "rec_world30_spec8_e15",
        "recipe, 15 epochs, the demo corpus, SpecAugment's two band masks up to 8 of 23 bands wide (not 4)",
        RECIPE + EPOCHS_15 + ["augment.freq_width=8"],
        "recipe, 15 epochs, the demo corpus, band masks up to 8 bands wide",
    ),
    **seeds_0_1(
        "rec_world30_tm4_e15",
        "recipe, 15 epochs, the demo corpus, SpecAugment's time masks 2 -> 4, up to 20% of the frames (not 10%)",
        RECIPE + EPOCHS_15 + TIME_MASKS_4,
        "recipe, 15 epochs, the demo corpus, time masks 2 -> 4, up to 20% of the frames",
    ),
    **seeds_0_1(
        "rec_world30_tones_e15",
        "recipe, 15 epochs, the demo corpus with half of gcin-voice 3's characters read from their syllable's other tones",
        RECIPE + EPOCHS_15,
        "recipe, 15 epochs, the demo corpus, half of gcin-voice 3's characters from other tones",
    ),
    "rec_cmvn_world": (
        "recipe + per-utterance mean and variance normalization, 3/4 of the human utterances re-synthesized (WORLD)",
        RECIPE + ["features.utterance_norm=mean_var"],
    ),
}
ROW_CORPUS |= {f"{name}_seed1": corpus for name, corpus in ROW_CORPUS.items() if f"{name}_seed1" in ROWS}
# The rows that train on the corpus the ablation started from (work/data); every other row names
# its corpus in ROW_CORPUS, and a row in neither is refused rather than trained on work/data.
ON_BASE_CORPUS = {
    "base",
    "base_nosorta",
    *STEPS,
    *(f"{name}_late" for name in STEPS),
    "all",
    "all_late",
    "all_late_cmn",
    *(f"rec_{name}" for name in REC_STEPS),
    *("rec_big", "rec_long", "rec_dropout", "rec_seed1", "rec_cmn", "rec_cmvn"),
}


def score(model: Path, data: Path) -> float:
    """Greedy CER of `model` on a data dir."""
    return greedy_rates(model, data)["cer"]


def narrowband_copy(src: Path, dst: Path) -> None:
    """The test set resampled to 8 kHz (telephone bandwidth), as its own data dir."""
    utts = []
    for u in read_data_dir(src):
        path = dst / "wav" / f"{u.id}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), resample(load_audio(u.path).numpy(), 16000, 8000), 8000, subtype="PCM_16")
        utts.append(Utterance(u.id, path.resolve(), u.text))
    write_data_dir(dst, utts)


def pretrain_marker(override: str) -> str | None:
    """The PRETRAINED marker an override's train.init names, if it names one."""
    value = override.removeprefix("train.init=")
    return value if value != override and value in PRETRAINED else None


def pretrained(work: Path, recipe: str, marker: str) -> Path:
    """The recipe (RECIPE, 15 epochs) trained on marker's PHONETIC corpus alone, once per work folder."""
    folder, name = PRETRAINED[marker]
    exp = work / "exp" / name
    if not (exp / "best.pt").is_file():
        shutil.rmtree(exp, ignore_errors=True)
        sets = [f"exp_dir={exp}", f"data.train={work / folder / 'train'}", f"data.dev={work / folder / 'dev'}"]
        train(load_recipe(recipe, [*sets, *BASE, *RECIPE, *EPOCHS_15]))
    return exp / "best.pt"


def run_row(name: str, overrides: list[str], corpus: Path, work: Path, recipe: str) -> dict:
    exp = work / "exp" / name
    shutil.rmtree(exp, ignore_errors=True)
    overrides = [f"train.init={pretrained(work, recipe, m)}" if (m := pretrain_marker(o)) else o for o in overrides]
    train_dir = work / ROW_CORPUS.get(name, corpus.name) / "train"
    hears_yanyu = ROW_CORPUS.get(name) in HEARS_YANYU
    dev = corpus / ("dev_espeak" if hears_yanyu else "dev")
    sets = [f"exp_dir={exp}", f"data.train={train_dir}", f"data.dev={dev}", *BASE, *overrides]
    t0 = time.time()
    summary = train(load_recipe(recipe, sets))
    minutes = (time.time() - t0) / 60
    best, dev_cer = chosen_model(exp, summary["best_cer"])
    return {
        "row": name,
        "model": best.name,
        "dev": dev_cer,
        "dev_human": score(best, corpus / "dev_human")
        if (corpus / "dev_human" / "text").is_file() and not hears_yanyu
        else None,
        "test": score(best, corpus / "test"),
        "heldout": score(best, corpus / "test_unheard"),
        "test_8k": score(best, corpus / "test_8k"),
        "minutes": minutes,
        "epochs": len(summary["history"]),
    }


def table(results: list[dict]) -> str:
    lines = [
        "| recipe | dev CER | dev human CER | test CER | held-out human CER | 8 kHz test CER | train min |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        label = ROWS[r["row"]][0] if r["row"] in ROWS else r["row"]
        human = "-" if r.get("dev_human") is None else f"{r['dev_human']:.2%}"
        lines.append(
            f"| {label} | {r['dev']:.2%} | {human} | {r['test']:.2%} | {r['heldout']:.2%} | {r['test_8k']:.2%} "
            f"| {'-' if r['minutes'] is None else format(r['minutes'], '.1f')} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="exp/bench_voice", help="Corpus, experiments and results.jsonl")
    ap.add_argument("--recipe", default="recipes/demo.yaml")
    ap.add_argument("--rows", default=",".join(ROWS), help=f"Comma-separated, from: {', '.join(ROWS)}")
    ap.add_argument("--fresh", action="store_true", help="Start over: new corpus, no earlier rows")
    ap.add_argument("--section", default="voice", help="bench/RESULTS.md section the table goes to")
    ap.add_argument(
        "--note", default="", help="The text above the table (e.g. which code trained it); default: the section's own"
    )
    ap.add_argument(
        "--title", default="Augmentation ablation: a human voice training never hears", help="The section's heading"
    )
    args = ap.parse_args()
    if not demo.GCIN_DIR.is_dir():
        raise SystemExit("error: gcin-voice is not installed (apt-get install gcin-voice)")
    rows = pick_rows(args.rows, ROWS)
    unplaced = [r for r in rows if r not in ROW_CORPUS and r not in ON_BASE_CORPUS]
    if unplaced:
        raise SystemExit(f"error: row(s) {', '.join(unplaced)} name no corpus: add them to ROW_CORPUS")
    work = Path(args.work)
    if args.fresh:
        shutil.rmtree(work, ignore_errors=True)
    corpus = work / "data"
    if not (corpus / "test_unheard" / "text").is_file():
        demo.generate(corpus, **BASE_CORPUS)  # train hears gcin speaker 3 only; test_unheard is speaker 5
    folders = {ROW_CORPUS[r] for r in rows if r in ROW_CORPUS}
    needs = (folders | {p for f in folders & JOINED.keys() for p in JOINED[f]}) - JOINED.keys()
    needs |= {PRETRAINED[m][0] for r in rows for o in ROWS[r][1] if (m := pretrain_marker(o))}
    for folder in sorted(needs):
        if (work / folder / "train" / "text").is_file():
            continue
        if folder in PHONETIC:
            phonetic.generate(work / folder, PHONETIC[folder])
        else:
            demo.generate(work / folder, **{**BASE_CORPUS, **CORPORA[folder]})
    for folder in sorted(folders & JOINED.keys()):
        if not (work / folder / "train" / "text").is_file():
            parts = [u for part in JOINED[folder] for u in read_data_dir(work / part / "train")]
            write_data_dir(work / folder / "train", [Utterance(u.id, Path(u.path).resolve(), u.text) for u in parts])
    if not (corpus / "test_8k" / "text").is_file():
        narrowband_copy(corpus / "test", corpus / "test_8k")
    # dev's halves: yanyu's speaker (dev_human) and the espeak-ng voices (dev_espeak)
    dev = [Utterance(u.id, Path(u.path).resolve(), u.text) for u in read_data_dir(corpus / "dev")]
    human = f"-{demo.DEV_HUMAN_VOICE}-"
    human_dev = [u for u in dev if human in u.id]
    if human_dev and not (corpus / "dev_human" / "text").is_file():
        write_data_dir(corpus / "dev_human", human_dev)
    if not (corpus / "dev_espeak" / "text").is_file():
        write_data_dir(corpus / "dev_espeak", [u for u in dev if human not in u.id])
    results_file = work / "results.jsonl"
    done = read_results(results_file)
    for name in rows:
        if name in done:
            continue
        r = run_row(name, ROWS[name][1], corpus, work, args.recipe)
        done[name] = r
        append_result(results_file, r)
        print(
            f"{name}: dev {r['dev']:.2%} (human {'-' if r['dev_human'] is None else format(r['dev_human'], '.2%')}) "
            f"test {r['test']:.2%} "
            f"held-out {r['heldout']:.2%} "
            f"8k {r['test_8k']:.2%} ({r['minutes']:.1f} min)",
            flush=True,
        )
    results = [done[name] for name in ROWS if name in done]
    note = args.note or section_note(args.section)
    heading = f"## {args.title} (bench/heldout_voice.py)\n" + (f"{note}\n\n" if note else "\n")
    write_section(
        args.section,
        f"""
{heading}Machine: {machine()}. Recipe {args.recipe} with `{" ".join(BASE)}` (its augmentation and schedule
before this ablation), one training run per row, greedy decoding; "8 kHz test" is the test set resampled to 8 kHz.
The corpus the rows start from (BASE_CORPUS) has one human voice in training, gcin-voice speaker
{demo.TRAIN_GCIN_SPEAKERS[0]} ({BASE_CORPUS["human_share"]:.0%} of the utterances, as recorded); "held-out human" is the 200 test sentences read by speaker {demo.HELDOUT_GCIN_SPEAKER}, never in
train or dev. Dev decides: espeak-ng voices training never hears and, where "dev human" has a
figure, half of it read by yanyu's speaker (a man, human, never in training; the column is that
half alone). The held-out column is not tuned on.
Each row adds one change to the first row's recipe ("from epoch 4": `augment.start_epoch=3`, three
clean epochs before augmentation starts); the "recipe ..." rows change the demo recipe as it was
then, the "+ VTLP 0.8-1.25 (p 0.8), from epoch 4" row. One seed per row unless it says otherwise: runs
of one recipe differ by several points of held-out CER.

{table(results)}
""",
    )


if __name__ == "__main__":
    main()
