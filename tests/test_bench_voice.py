"""bench/heldout_voice.py's rows: each trains on a named corpus and each is a valid recipe, so a
typo fails here and not ten minutes into a training run."""

import pytest

from asr.config import load_recipe
from bench import common
from bench import heldout_voice as hv


@pytest.mark.parametrize("name", sorted(hv.ROWS))
def test_row_is_a_valid_recipe(name):
    overrides = [f"train.init=exp/{m[1:]}/best.pt" if (m := hv.pretrain_marker(o)) else o for o in hv.ROWS[name][1]]
    recipe = load_recipe("recipes/demo.yaml", [*hv.BASE, *overrides])
    assert recipe.train.seed == (1 if name.endswith("seed1") else 0)


def test_every_row_names_its_corpus():
    assert not [r for r in hv.ROWS if r not in hv.ROW_CORPUS and r not in hv.ON_BASE_CORPUS]
    assert not set(hv.ROW_CORPUS) & hv.ON_BASE_CORPUS
    assert set(hv.ROW_CORPUS.values()) <= set(hv.CORPORA) | set(hv.JOINED)


def test_seed1_twin_is_its_row_with_seed_1():
    twins = {name.removesuffix("_seed1"): name for name in hv.ROWS if name.endswith("_seed1")}
    twins.pop("rec", None)  # rec_seed1: the recipe of its time, which has no row of its own
    assert len(twins) >= 10
    for row, twin in twins.items():
        assert hv.ROWS[twin][1] == hv.ROWS[row][1] + ["train.seed=1"]
        assert hv.ROW_CORPUS.get(twin) == hv.ROW_CORPUS.get(row)
        assert hv.ROWS[twin][0].count("training seed 1") == 1


def test_a_rerun_keeps_the_text_above_the_table(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "RESULTS", tmp_path / "RESULTS.md")
    assert common.section_note("voice") == ""
    common.write_section("voice", "## Title\nWhich code trained it.\nSecond line.\n\nMachine: x\n\n| table |")
    assert common.section_note("voice") == "Which code trained it.\nSecond line."
    common.write_section("voice", "## Title\n\nMachine: x\n\n| table |")
    assert common.section_note("voice") == ""
