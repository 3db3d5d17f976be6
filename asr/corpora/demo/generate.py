"""Writing the demo corpus: plan it, render every utterance in parallel, write the data dirs."""

from __future__ import annotations

import dataclasses
import shutil
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from asr.corpora import mbrola_voice, ttskit_voice
from asr.corpora.demo.espeak import random_voice_names, write_random_variants
from asr.corpora.demo.grammar import travel_slots
from asr.corpora.demo.mix import DemoMix
from asr.corpora.demo.plan import plan
from asr.corpora.demo.render import render
from asr.corpora.demo.world import import_pyworld
from asr.corpora.syllables import GCIN_DIR, YANYU_FOLDER, fetch_yanyu, yanyu_ready
from asr.datadir import Utterance, write_data_dir, write_slots
from asr.errors import UserError
from asr.timing import write_ctm


def _yanyu_voice(
    out_dir: Path, share: float, yanyu_dir: str | Path | None, notice: Callable[[str], None]
) -> str | None:
    """yanyu's recordings folder (the human dev voice; fetched when not given), or None when it
    is not wanted or cannot be had (`notice` says why)."""
    if share > 0 and yanyu_dir is None:
        try:
            yanyu_dir = fetch_yanyu(out_dir / "sources")
        except UserError as e:
            notice(f"left out yanyu (a human voice: dev is espeak-ng voices only): {e}")
    elif yanyu_dir is not None and not yanyu_ready(Path(yanyu_dir)):
        raise UserError(f"{yanyu_dir}: not yanyu's {YANYU_FOLDER} folder (its <pinyin><tone>.mp3 files are missing)")
    return str(Path(yanyu_dir).resolve()) if yanyu_dir and share > 0 else None


def _available(mix: DemoMix, human: bool, notice: Callable[[str], None]) -> DemoMix:
    """`mix` with the WORLD, ttskit and MBROLA shares 0 where their package is missing (`notice`
    says so) and WORLD's 0 without the human voice."""
    world_share, tts_share, mbrola_share = (mix.world_share if human else 0.0), mix.tts_share, mix.mbrola_share
    if world_share > 0:
        try:
            import_pyworld()
        except UserError as e:
            notice(f"left out WORLD re-synthesis (the human training voice is read as it is): {e}")
            world_share = 0.0
    if tts_share > 0 and (why := ttskit_voice.missing()):
        notice(f"left out ttskit (training voices; train is espeak-ng and gcin-voice only): {why}")
        tts_share = 0.0
    if mbrola_share > 0 and (why := mbrola_voice.missing()):
        notice(f"left out MBROLA cn1 (a training voice): {why}")
        mbrola_share = 0.0
    return dataclasses.replace(mix, world_share=world_share, tts_share=tts_share, mbrola_share=mbrola_share)


def generate(
    out_dir: str | Path,
    train: int = 2400,
    dev: int = 300,
    test: int = 200,
    seed: int = 2026,
    mix: DemoMix = DemoMix(),
    *,
    workers: int = 2,
    human: bool | None = None,
    yanyu_dir: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    notice: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Write the demo corpus as data dirs out_dir/{train,dev,test} (and test_unheard, the test
    sentences read by the held-out human speaker, when gcin-voice is installed); returns utterances
    per split. Beside each split's text, chars.ctm holds where each character is spoken (CTM,
    asr/timing.py) in the utterances whose source knows it: espeak-ng's and the joined human
    recordings', not ttskit's or MBROLA's. `mix`: who reads what (DemoMix). yanyu's recordings come from `yanyu_dir`, else are
    fetched with npm into out_dir/sources. `human`: the gcin-voice recordings (default: where
    installed). A source that cannot be had is left out, `notice` (default: stderr) told in one line."""
    if shutil.which("espeak-ng") is None:
        raise UserError(
            "espeak-ng not found: install it (Debian/Ubuntu: apt-get install espeak-ng; macOS: brew install espeak-ng)"
        )
    notice = notice or (lambda line: print(line, file=sys.stderr))
    out_dir = Path(out_dir)
    if human is None:
        human = GCIN_DIR.is_dir()
        if not human:
            notice("left out gcin-voice (human training voice, held-out test_unheard): apt-get install gcin-voice")
    yanyu = _yanyu_voice(out_dir, mix.dev_human_share, yanyu_dir, notice)
    mix = _available(mix, human, notice)
    jobs = plan(out_dir, {"train": train, "dev": dev, "test": test}, seed, human, mix, yanyu)
    if mix.random_voices:
        write_random_variants(out_dir / "espeak", random_voice_names(mix.random_voices), seed + 2)
    todo = [j for split in jobs.values() for j in split]
    spans = {}  # utterance id -> each character's (start, end) s, where its source knows them
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for n, (job, timed) in enumerate(zip(todo, pool.map(render, todo, chunksize=16)), 1):
            if timed is not None:
                spans[job.uid] = [(ch, s, e) for ch, (s, e) in zip(job.text, timed)]
            if progress:
                progress(n, len(todo))
    for split, split_jobs in jobs.items():
        # wav.scp paths are relative to the data dir, so the corpus folder can be moved
        utts = [Utterance(j.uid, Path("..") / j.path.relative_to(out_dir), j.text) for j in split_jobs]
        write_data_dir(out_dir / split, utts, {j.uid: j.voice for j in split_jobs})
        write_slots(out_dir / split, {j.uid: travel_slots(j.text) for j in split_jobs})
        write_ctm(out_dir / split / "chars.ctm", {j.uid: spans[j.uid] for j in split_jobs if j.uid in spans})
    return {split: len(v) for split, v in jobs.items()}
