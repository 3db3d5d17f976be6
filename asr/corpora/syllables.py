"""Human syllable recordings the demo corpus joins into utterances.

Two sources, one recording per syllable each:
- Debian's gcin-voice (/usr/share/gcin-voice/ogg/<bopomofo + tone>/<speaker>.ogg, speakers 3
  and 5; */3.ogg GPL-3 or LGPL-3, */5.ogg CC-BY-3.0). Speaker 3 trains; speaker 5 is the
  held-out human test.
- npm's yanyu@0.1.4 (package/pinyin-syllables/<pinyin><tone>.mp3, one man, ~114 Hz; MIT),
  fetched with `npm pack` into the corpus folder: the demo's human dev voice.

A voice is named "gcin3", "gcin5" or "yanyu"; `read_syllable(voice, ch)` gives character `ch`
read by it, mono, silence trimmed, at the file's own sample rate.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import soundfile as sf

from asr.audio import to_mono
from asr.errors import UserError

GCIN_DIR = Path("/usr/share/gcin-voice/ogg")
YANYU_PACKAGE = "yanyu@0.1.4"
YANYU_FOLDER = "pinyin-syllables"

# gcin-voice folders are named by bopomofo plus tone digit (no digit: first tone); yanyu's files
# by toneless pinyin plus tone digit (ü written v). Both for the demo's inventory.
BOPOMOFO = {
    "零": "ㄌㄧㄥ2",
    "一": "ㄧ",
    "二": "ㄦ4",
    "三": "ㄙㄢ",
    "四": "ㄙ4",
    "五": "ㄨ3",
    "六": "ㄌㄧㄡ4",
    "七": "ㄑㄧ",
    "八": "ㄅㄚ",
    "九": "ㄐㄧㄡ3",
    "十": "ㄕ2",
    "百": "ㄅㄞ3",
    "千": "ㄑㄧㄢ",
    "年": "ㄋㄧㄢ2",
    "月": "ㄩㄝ4",
    "日": "ㄖ4",
    "号": "ㄏㄠ4",
    "点": "ㄉㄧㄢ3",
    "分": "ㄈㄣ",
    "半": "ㄅㄢ4",
    "好": "ㄏㄠ3",
    "棒": "ㄅㄤ4",
    "我": "ㄨㄛ3",
    "想": "ㄒㄧㄤ3",
    "在": "ㄗㄞ4",
    "到": "ㄉㄠ4",
    "从": "ㄘㄨㄥ2",
    "去": "ㄑㄩ4",
    "北": "ㄅㄟ3",
    "京": "ㄐㄧㄥ",
    "上": "ㄕㄤ4",
    "海": "ㄏㄞ3",
    "台": "ㄊㄞ2",
    "广": "ㄍㄨㄤ3",
    "州": "ㄓㄡ",
    "深": "ㄕㄣ",
    "圳": "ㄓㄣ4",
}
PINYIN = {
    "零": "ling2",
    "一": "yi1",
    "二": "er4",
    "三": "san1",
    "四": "si4",
    "五": "wu3",
    "六": "liu4",
    "七": "qi1",
    "八": "ba1",
    "九": "jiu3",
    "十": "shi2",
    "百": "bai3",
    "千": "qian1",
    "年": "nian2",
    "月": "yue4",
    "日": "ri4",
    "号": "hao4",
    "点": "dian3",
    "分": "fen1",
    "半": "ban4",
    "好": "hao3",
    "棒": "bang4",
    "我": "wo3",
    "想": "xiang3",
    "在": "zai4",
    "到": "dao4",
    "从": "cong2",
    "去": "qu4",
    "北": "bei3",
    "京": "jing1",
    "上": "shang4",
    "海": "hai3",
    "台": "tai2",
    "广": "guang3",
    "州": "zhou1",
    "深": "shen1",
    "圳": "zhen4",
}


def syllable_path(voice: str, ch: str, yanyu_dir: str | Path | None = None) -> Path:
    """The recording of character `ch` by `voice` ("gcin3", "gcin5" or "yanyu", whose files are
    in `yanyu_dir`)."""
    if voice.startswith("gcin"):
        return gcin_path(voice, BOPOMOFO[ch])
    if voice == "yanyu":
        if yanyu_dir is None:
            raise ValueError("the yanyu voice needs its folder")
        return Path(yanyu_dir) / f"{PINYIN[ch]}.mp3"
    raise ValueError(f"not a syllable voice: {voice}")


def trim(wave: np.ndarray, threshold: float = 0.02, margin: int = 400) -> np.ndarray:
    """`wave` from its first to its last sample above `threshold` of its peak, `margin` samples
    kept either side (~9 ms at 44.1 kHz): the recordings' leading and trailing silence, and an
    MP3 decoder's delay, go."""
    nz = np.flatnonzero(np.abs(wave) > threshold * np.abs(wave).max())
    return wave[max(nz[0] - margin, 0) : nz[-1] + margin] if nz.size else wave


def read_syllable(voice: str, ch: str, yanyu_dir: str | Path | None = None) -> tuple[np.ndarray, int]:
    """Character `ch` read by `voice`: mono float32, silence trimmed, and its sample rate."""
    wave, sr = sf.read(str(syllable_path(voice, ch, yanyu_dir)), dtype="float32")
    return trim(to_mono(wave)), sr


def gcin_path(voice: str, folder: str) -> Path:
    """gcin-voice `voice`'s ("gcin3") recording of the syllable `folder` (bopomofo + tone)."""
    return GCIN_DIR / folder / f"{voice.removeprefix('gcin')}.ogg"


def yanyu_ready(folder: Path) -> bool:
    return all((folder / f"{p}.mp3").is_file() for p in PINYIN.values())


def fetch_yanyu(dest: Path) -> Path:
    """yanyu's syllable folder under `dest`, fetched with `npm pack` the first time (the package's
    recordings and licence only; nothing is installed). A one-line UserError says why not."""
    folder = dest / "yanyu" / YANYU_FOLDER
    if yanyu_ready(folder):
        return folder
    if not shutil.which("npm"):
        raise UserError("npm not found (Debian/Ubuntu: apt-get install npm)")
    dest.mkdir(parents=True, exist_ok=True)
    got = subprocess.run(
        ["npm", "pack", YANYU_PACKAGE, "--silent", "--pack-destination", str(dest)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    tarball = dest / f"{YANYU_PACKAGE.replace('@', '-')}.tgz"
    if got.returncode or not tarball.is_file():
        why = (got.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError(f"npm pack {YANYU_PACKAGE} failed ({why})")
    with tarfile.open(tarball) as tar:
        keep = [m for m in tar.getmembers() if m.isfile() and m.name.startswith(f"package/{YANYU_FOLDER}/")]
        keep += [m for m in tar.getmembers() if m.name in ("package/LICENSE", "package/package.json")]
        for m in keep:
            m.name = m.name.removeprefix("package/")
        tar.extractall(dest / "yanyu", members=keep, filter="data")
    tarball.unlink()
    if not yanyu_ready(folder):
        raise UserError(f"{YANYU_PACKAGE} has no {YANYU_FOLDER}/ recordings for the demo's syllables")
    return folder
