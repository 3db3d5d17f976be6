from asr.vocab import BLANK, UNK, Vocab, normalize_text


def test_mandarin_normalization():
    assert normalize_text("我想在 十一月，二号 到台北！") == "我想在十一月二号到台北"
    assert normalize_text("ＡＢＣ１２３，好棒") == "abc123好棒"  # full-width -> half-width
    assert normalize_text("  Hello,   World! It's  ") == "hello world it's"


def test_blank_is_zero_and_round_trip():
    v = Vocab.build(["好棒棒", "我想去北京", "hello world"])
    assert v.units[v.blank] == BLANK and v.blank == 0 and v.units[v.unk] == UNK
    assert v.decode(v.encode("我想去北京好棒棒")) == "我想去北京好棒棒"
    assert v.decode(v.encode("hello world")) == "hello world"  # the word boundary unit survives
    assert v.encode("好X")[1] == v.unk
    assert Vocab(v.units) == v


def test_text_section_options():
    from asr.vocab import TextConfig

    t = "Hello, World! It's 2 o'clock; 你好 World"
    assert normalize_text(t) == "hello world it's 2 o'clock你好world"
    assert normalize_text(t, TextConfig(lowercase=False)) == "Hello World It's 2 o'clock你好World"
    assert normalize_text(t, TextConfig(keep="',!")) == "hello, world! it's 2 o'clock你好world"
    assert normalize_text(t, TextConfig(numbers="drop")) == "hello world it's o'clock你好world"
    assert normalize_text(t, TextConfig(charset="[a-z']")) == "hello world it's o'clock world"
    assert normalize_text("ＡＢＣ", TextConfig(nfkc=False)) == "ａｂｃ"
    vocab = Vocab.build(["Hi, Bob!"], text=TextConfig(lowercase=False, keep="!"))
    assert vocab.encode("Hi Bob!") == vocab.encode("Hi, Bob!") and "B" in vocab.units and "!" in vocab.units


def test_text_section_in_the_recipe_reaches_the_model_file(tmp_path):
    import pytest

    from asr.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
    from asr.config import load_recipe
    from asr.errors import UserError
    from asr.model import CTCModel
    from conftest import ROOT

    recipe = load_recipe(ROOT / "recipes" / "demo.yaml", ["text.numbers=drop", "text.lowercase=false"])
    vocab = Vocab.build(["Ab 12"], text=recipe.text)
    save_checkpoint(tmp_path / "m.pt", recipe, vocab, CTCModel(recipe.features.dim, len(vocab), recipe.model))
    _, again, _ = model_from_checkpoint(load_checkpoint(tmp_path / "m.pt"))
    assert again.text == recipe.text and again.normalize("Ab 12") == "Ab"
    with pytest.raises(UserError, match="text.numbers: expected keep or drop"):
        load_recipe(ROOT / "recipes" / "demo.yaml", ["text.numbers=spell"])
    with pytest.raises(UserError, match="text.charset: not a regular expression"):
        load_recipe(ROOT / "recipes" / "demo.yaml", ['text.charset="[a-"'])
    with pytest.raises(UserError, match="not valid YAML"):
        load_recipe(ROOT / "recipes" / "demo.yaml", ["text.charset=[a-"])
