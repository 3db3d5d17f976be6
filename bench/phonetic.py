"""All of gcin-voice speaker 3's syllables, for the held-out voice ablation (bench/heldout_voice.py).

The demo corpus uses 37 of the 1,200 syllables gcin-voice speaker 3 recorded, so training hears a
human voice in 37 recordings only. This corpus joins random syllables of all 1,200 into utterances
(raw or re-synthesized by WORLD as other speakers, as the demo corpus does): a syllable of the demo
inventory is written as its character, any other as its bopomofo and tone ("ㄙㄢ3"), so a model
trained on both corpora spells the syllables it has no character for. Speaker 5 (the held-out
voice) is never read.

    python -m bench.phonetic --out exp/bench_voice_hd/phon_gcin3   # 1,200 utterances, ~1 min on 2 cores
"""

from __future__ import annotations

import argparse
import random
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from asr.corpora import demo, syllables
from asr.data import Utterance, write_data_dir
from bench.common import patched

SPEAKER = demo.TRAIN_GCIN_SPEAKERS[0]
PRIVATE_USE = 0xE000  # syllables without a demo character render through a private-use stand-in
SYLLABLES_PER_UTT = (2, 6)


def label(folder: str) -> str:
    """A gcin-voice folder's transcript unit: bopomofo plus tone digit (1-4, 5 neutral)."""
    if not folder[-1].isdigit():
        return folder + "1"
    return folder[:-1] + "5" if folder.endswith("1") else folder


def inventory() -> tuple[dict[str, str], dict[str, str]]:
    """(stand-in character -> transcript, stand-in -> gcin-voice folder), one per syllable speaker 3
    recorded. A demo syllable stands for itself and is written as its character; the others get a
    private-use code point, which generate adds to asr.corpora.syllables.BOPOMOFO while it renders."""
    own = {syllables.BOPOMOFO[ch]: ch for ch in demo.INVENTORY}
    folders = sorted(p.parent.name for p in syllables.GCIN_DIR.glob(f"*/{SPEAKER}.ogg"))
    units, stand_ins = {}, {}
    for k, folder in enumerate(folders):
        if folder in own:
            units[own[folder]] = own[folder]
        else:
            stand_in = chr(PRIVATE_USE + k)
            stand_ins[stand_in] = folder
            units[stand_in] = label(folder)
    return units, stand_ins


def generate(out: Path, n: int = 1200, seed: int = 7, workers: int = 2) -> None:
    """`n` utterances of random syllables in out/train (3/4 WORLD re-synthesized, as demo's
    WORLD_SHARE), and 150 more in out/dev."""
    units, stand_ins = inventory()
    rng = random.Random(seed)
    keys = sorted(units)
    jobs: dict[str, list[demo.Job]] = {}
    for split, size in (("train", n), ("dev", 150)):
        jobs[split] = []
        for i in range(size):
            text = "".join(rng.choice(keys) for _ in range(rng.randint(*SYLLABLES_PER_UTT)))
            voice = f"gcin{SPEAKER}" + ("w" if rng.random() < demo.WORLD_SHARE else "")
            uid = f"phon-{split}-{voice}-{i:05d}"
            jobs[split].append(demo.Job(uid, text, voice, rng.randrange(2**32), out / "wav" / f"{uid}.wav"))
    todo = [j for split in jobs.values() for j in split]
    with patched(syllables, BOPOMOFO={**syllables.BOPOMOFO, **stand_ins}), ProcessPoolExecutor(workers) as pool:
        list(pool.map(demo.render, todo, chunksize=16))
    for split, split_jobs in jobs.items():
        utts = [Utterance(j.uid, j.path.resolve(), "".join(units[c] for c in j.text)) for j in split_jobs]
        write_data_dir(out / split, utts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("-n", type=int, default=1200)
    args = ap.parse_args()
    generate(Path(args.out), args.n)


if __name__ == "__main__":
    main()
