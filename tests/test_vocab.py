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
