"""The Czech voice acting of Fish Fillets NG as a corpus, on a tiny built-in sample of its layout:
dialog scripts parsed (multi-line calls, escaped quotes, shared scripts), text normalized with
diacritics kept, the split fixed by transcript, the minor characters kept for test_unheard."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_corpora import skipped, table, tone

from asr.corpora.fillets import normalize, prepare_fillets, split_of
from asr.errors import UserError
from conftest import run_asr

LINES = {  # sound id: (font, Czech)
    "m-ahoj": ("font_small", "Ahoj, velká rybo!"),
    "v-cau": ("font_big", "Čau. Kde jsi byla?"),
    "m-dlouha": ("font_small", 'Tohle je \\"dlouhá\\" věta - s pomlčkou...'),
    "v-oko": ("font_big", "Vidíš to oko? Němý svědek tragédie."),
    "v-opak": ("font_big", "Ahoj, velká rybo!"),  # the same line read by the other fish
    "s-papousek": ("font_parrot", "Papoušek chce sušenku."),
    "both": ("font_both", "Jedeme!"),
    "efekt": ("", ""),
    "m-nahrano": ("font_small", "Tahle věta nemá nahrávku."),
}


def layout(root: Path) -> Path:
    game = root / "usr/share/games/fillets-ng"
    calls = []
    for k, (sound, (font, czech)) in enumerate(LINES.items()):
        sep = "\n" if k % 2 else ""  # some calls span lines, as the game's do
        calls.append(f'dialogId("{sound}", "{font}", "English")\ndialogStr({sep}"{czech}")\n\n')
        if sound != "m-nahrano":
            tone(game / "sound/level1/cs" / f"{sound}.ogg", 0.4, 22050, format="OGG", subtype="VORBIS")
    (game / "script/level1").mkdir(parents=True)
    (game / "script/level1/dialogs_cs.lua").write_text("".join(calls), encoding="utf-8")
    (game / "script/level1/dialogs_en.lua").write_text('dialogId("m-ahoj", "font_small", "Hi")\ndialogStr("Hi")\n')
    (game / "script/share").mkdir(parents=True)
    joke = 'dialogId("smrt-m-0", "font_small", "Oh")\ndialogStr("No a je to.")\n'
    (game / "script/share/black_dialogs_cs.lua").write_text(joke, encoding="utf-8")
    tone(game / "sound/share/blackjokes/cs/smrt-m-0.ogg", 0.4, 44100, format="OGG", subtype="VORBIS")
    return game


def test_text_keeps_diacritics_and_turns_punctuation_into_spaces():
    assert normalize("Ahoj, velká rybo!") == "ahoj velká rybo"
    assert normalize('Tohle je "dlouhá" věta - s pomlčkou...') == "tohle je dlouhá věta s pomlčkou"
    assert normalize("C:\\\\WINDOWS\\\\CONFIG") == "c windows config"
    assert normalize("ČAU") == "čau" and normalize("e\u0301") == "é"  # composed (NFC)


def test_the_split_is_fixed_by_the_transcript():
    assert split_of("ahoj velká rybo") == split_of("ahoj velká rybo")
    splits = [split_of(f"věta číslo {k}") for k in range(2000)]
    assert 0.75 < splits.count("train") / 2000 < 0.85 and 0.07 < splits.count("dev") / 2000 < 0.13


def test_corpus_from_the_game_layout(tmp_path):
    reports = prepare_fillets(tmp_path / "out", layout(tmp_path / "pkg"))
    assert [r.out_dir.name for r in reports] == ["train", "dev", "test", "test_unheard"]
    out = tmp_path / "out"
    texts = {s: table(out / s, "text") for s in ("train", "dev", "test", "test_unheard")}
    speakers = {s: set(table(out / s, "utt2spk").values()) for s in texts}
    heard = {**texts["train"], **texts["dev"], **texts["test"]}
    assert heard["small_fish-level1-m-ahoj"] == "ahoj velká rybo"
    assert heard["big_fish-level1-v-cau"] == "čau kde jsi byla"
    assert heard["small_fish-level1-m-dlouha"] == "tohle je dlouhá věta s pomlčkou"
    assert heard["small_fish-share-blackjokes-smrt-m-0"] == "no a je to"  # a shared script, its own sound folder
    for split, ids in texts.items():  # each line where its transcript's hash puts it
        if split != "test_unheard":
            assert all(split_of(t) == split for t in ids.values())
    # one line read by both fish lands in one split
    where = [s for s in texts if "big_fish-level1-v-opak" in texts[s]]
    assert where == [s for s in texts if "small_fish-level1-m-ahoj" in texts[s]]
    assert speakers["test_unheard"] == {"parrot"} and texts["test_unheard"] == {
        "parrot-level1-s-papousek": "papoušek chce sušenku"
    }
    assert all(s <= {"small_fish", "big_fish"} for k, s in speakers.items() if k != "test_unheard")
    unheard_skips = skipped(out / "test_unheard")
    assert unheard_skips["level1-both"] == "no single speaker" and "no speaker" in unheard_skips["level1-efekt"]
    missing = {**skipped(out / "train"), **skipped(out / "dev"), **skipped(out / "test")}
    assert missing["small_fish-level1-m-nahrano"] == "file not found"
    assert sum(r.utterances for r in reports) == 7


def test_cli_and_a_folder_that_is_not_the_game(tmp_path):
    layout(tmp_path / "pkg")
    res = run_asr("prepare", "fillets-cs", tmp_path / "out", "--from", tmp_path / "pkg")
    assert res.returncode == 0, res.stderr
    assert "test_unheard: 1 utterances" in res.stdout
    res = run_asr("prepare", "fillets-cs", tmp_path / "out2", "--from", tmp_path)
    assert res.returncode == 2 and "no script/ and sound/ folders" in res.stderr and "Traceback" not in res.stderr
    with pytest.raises(UserError, match="no script/ and sound/"):
        prepare_fillets(tmp_path / "out3", tmp_path / "nothing")
