"""Fish Fillets NG's Czech voice acting -> train/dev/test/test_unheard Kaldi-style data dirs.

Debian ships the game's Czech dialogs as `fillets-ng-data-cs` (the recordings,
`sound/<level>/cs/<sound-id>.ogg`, about 1,780 clips, 1.7 h) and their transcripts in the game
data, `fillets-ng-data` (`script/<level>/*dialogs_cs.lua` and the shared jokes and shouts in
`script/share/`: `dialogId("<sound-id>", "<font>", "<English>")` then `dialogStr("<Czech>")`);
both are GPL-2. The font names the speaker: the two
fish (font_small, font_big) speak about 650 clips each; about ten minor characters (a statue, a
parrot, vikings, ...) speak the rest.

The split is fixed by the transcript, so that one line read twice never lands in two sets: its
SHA-1 (of the normalized text) modulo 100 puts it in train (0-79), dev (80-89) or test (90-99).
The minor characters' clips all go to test_unheard (voices training never hears). Text is lower
case with punctuation turned into spaces; diacritics stay.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

from asr.corpora.common import Entry, Report, write_corpus
from asr.errors import UserError

PACKAGES = ("fillets-ng-data-cs", "fillets-ng-data")
GAME = Path("usr/share/games/fillets-ng")
MAIN_VOICES = {"font_small": "small_fish", "font_big": "big_fish"}
SPLITS = ("train", "dev", "test", "test_unheard")
_STRING = r'"((?:[^"\\]|\\.)*)"'
DIALOG = re.compile(
    rf"dialogId\(\s*{_STRING}\s*,\s*{_STRING}\s*,\s*{_STRING}\s*\)\s*dialogStr\(\s*{_STRING}\s*\)", re.DOTALL
)


def normalize(text: str) -> str:
    """Lower case; every character that is not a letter or digit (punctuation, dashes, quotes)
    becomes a space; diacritics kept (NFC)."""
    text = unicodedata.normalize("NFC", text.replace("\\n", " ")).lower()
    return " ".join("".join(c if unicodedata.category(c)[0] in "LN" else " " for c in text).split())


def split_of(text: str) -> str:
    """train, dev or test, fixed by the normalized transcript's SHA-1 (80/10/10)."""
    bucket = int(hashlib.sha1(text.encode("utf-8")).hexdigest(), 16) % 100
    return "train" if bucket < 80 else "dev" if bucket < 90 else "test"


# The shared scripts' sound folders, as the game's dialogLoad calls name them (a level's own
# scripts, dialogs_cs.lua, demo_dialogs_cs.lua and brief_dialogs_cs.lua, play from sound/<level>/)
SHARED_SOUNDS = {"black": "blackjokes", "bore": "borejokes", "border": "border", "shout": "border", "intro": "intro"}


def read_dialogs(game: Path) -> list[tuple[str, str, str, str]]:
    """(sound folder under sound/, sound id, font, Czech text) of every dialog line in the game's
    Czech scripts."""
    rows = []
    for lua in sorted(game.glob("script/*/*dialogs_cs.lua")):
        folder = lua.parent.name
        if folder == "share":
            prefix = lua.name.removesuffix("_dialogs_cs.lua")
            if prefix not in SHARED_SOUNDS:
                continue
            folder = f"share/{SHARED_SOUNDS[prefix]}"
        for sound, font, _english, czech in DIALOG.findall(lua.read_text(encoding="utf-8")):
            rows.append((folder, sound, font, czech.replace('\\"', '"')))
    return rows


def download(dest: Path) -> Path:
    """The two Debian packages fetched with `apt-get download` (no install, no root) and unpacked
    under dest; returns the game folder."""
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        raise UserError(
            "fetching the Czech dialogs needs apt-get and dpkg-deb (Debian/Ubuntu); elsewhere unpack "
            f"{' and '.join(PACKAGES)} yourself and pass the folder: asr prepare fillets-cs OUT --from DIR"
        )
    debs = dest / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    got = subprocess.run(["apt-get", "download", *PACKAGES], cwd=debs, capture_output=True, text=True)
    if got.returncode:
        why = (got.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError(f"apt-get download {' '.join(PACKAGES)} failed ({why}); run apt-get update, or pass --from DIR")
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(dest / "root")], check=True)
    return dest / "root" / GAME


def game_folder(source: Path) -> Path:
    """The folder holding script/ and sound/: `source` itself, or the game folder under an
    unpacked package root."""
    for candidate in (source, source / GAME):
        if (candidate / "script").is_dir() and (candidate / "sound").is_dir():
            return candidate
    raise UserError(
        f"{source}: no script/ and sound/ folders here or under {GAME}; unpack {' and '.join(PACKAGES)} "
        "(dpkg-deb -x PKG.deb DIR), or leave --from out to fetch them"
    )


def entries(game: Path, report: dict[str, Report]) -> dict[str, list[Entry]]:
    """The dialog lines as entries by split; lines no one can train on go to their split's report."""
    out: dict[str, list[Entry]] = {s: [] for s in SPLITS}
    for folder, sound, font, czech in read_dialogs(game):
        text = normalize(czech)
        split = split_of(text) if font in MAIN_VOICES else "test_unheard"
        path = game / "sound" / folder / "cs" / f"{sound}.ogg"
        uid = f"{folder.replace('/', '-')}-{sound}"
        if font in ("", "font_both"):
            report[split].skip(uid, path, "no single speaker" if font else "no speaker (a sound effect)")
            continue
        speaker = MAIN_VOICES.get(font, font.removeprefix("font_"))
        out[split].append(Entry(f"{speaker}-{uid}", path, text, speaker))
    return out


def prepare_fillets(out_dir: str | Path, source: str | Path | None = None) -> list[Report]:
    """Write out_dir/{train,dev,test,test_unheard} from the game data under `source` (None: fetch
    the Debian packages into out_dir/download)."""
    out_dir = Path(out_dir)
    game = game_folder(Path(source)) if source else download(out_dir / "download")
    reports = {s: Report(out_dir / s) for s in SPLITS}
    by_split = entries(game, reports)
    if not any(by_split.values()):
        raise UserError(f"{game}: no dialogs_cs.lua dialog lines found under script/")
    return [write_corpus(out_dir / s, by_split[s], reports[s]) for s in SPLITS]
