"""Spoken slot filling: the demo's slot labels, the tagger (memory against no memory, padding,
files), the commands, and slots from speech through transcribe and serve."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import httpx
import pytest
import soundfile as sf
from seqeval.metrics.sequence_labeling import get_entities

from asr.corpora.demo.grammar import CITIES, PROBES, travel_slots
from asr.corpora.demo.plan import plan
from asr.datadir import read_slot_data, write_slots
from asr.errors import UserError
from asr.slots import SlotConfig, SlotTagger, slot_values, spans, tag_f1, train_tagger, value_f1
from asr.transcript import Char, Segment, Transcript, slots_json
from conftest import SAMPLES, run_asr, start_server


@pytest.fixture(scope="module")
def sentences(demo_sentences):
    return demo_sentences


def trained(sentences, **settings) -> SlotTagger:
    cfg = SlotConfig(**{"epochs": 12, **settings})
    return train_tagger(cfg, sentences["train"], log=lambda line: None)[0]


@pytest.fixture(scope="module")
def bilstm(slot_model) -> SlotTagger:
    return SlotTagger.load(slot_model)


def test_labels_are_one_per_character_and_follow_the_words_before_the_city():
    jobs = plan(Path("/nowhere"), {"train": 2400, "dev": 300, "test": 200}, seed=2026, human=False)
    texts = [j.text for v in jobs.values() for j in v]
    assert all(len(travel_slots(t)) == len(t) for t in texts)
    found = {slot for t in texts for slot, _ in slot_values(t, travel_slots(t))}
    assert found == {"origin", "destination", "date", "time"}
    assert slot_values("从上海到台北", travel_slots("从上海到台北")) == [("origin", "上海"), ("destination", "台北")]
    assert slot_values("到台北从上海", travel_slots("到台北从上海")) == [("destination", "台北"), ("origin", "上海")]
    assert slot_values("我想在十一月二号八点半去北京", travel_slots("我想在十一月二号八点半去北京")) == [
        ("date", "十一月二号"),
        ("time", "八点半"),
        ("destination", "北京"),
    ]
    assert slot_values("一九八五年三月五日", travel_slots("一九八五年三月五日")) == [("date", "一九八五年三月五日")]
    assert slot_values("我在台北", travel_slots("我在台北")) == [("origin", "台北")]
    assert slot_values("我想到台北从上海", travel_slots("我想到台北从上海")) == [
        ("destination", "台北"),
        ("origin", "上海"),
    ]
    assert slot_values("我从上海", travel_slots("我从上海")) == [("origin", "上海")]
    assert slot_values("我想在台北", travel_slots("我想在台北")) == [("destination", "台北")]
    for text in ("台北好棒", "三千零五", "八一九六八七九零一一一"):
        assert travel_slots(text) == ["O"] * len(text)


def test_spans_read_tags_as_conlleval_does():
    rng = random.Random(0)
    pool = ["O", "B-a", "I-a", "B-b", "I-b"]
    for _ in range(2000):
        tags = [rng.choice(pool) for _ in range(rng.randint(0, 9))]
        assert spans(tags) == [(t, a, b + 1) for t, a, b in get_entities(tags)], tags


def test_value_f1_counts_slot_values_per_utterance():
    ref = [[("origin", "上海"), ("destination", "台北")], [("time", "八点")]]
    assert value_f1(ref, ref) == 1.0
    # one wrong value (北京 for 台北): 2 of 3 found, 2 of 3 right
    assert value_f1(ref, [[("origin", "上海"), ("destination", "北京")], [("time", "八点")]]) == pytest.approx(2 / 3)
    assert value_f1(ref, [[], []]) == 0.0 and value_f1([[]], [[]]) == 1.0
    assert tag_f1([["O", "O"]], [["O", "O"]]) == 1.0


def test_a_bidirectional_lstm_tags_the_demo_test_sentences(sentences, bilstm):
    test = sentences["test"]
    hyps = bilstm.tag_many([text for text, _ in test])
    assert [len(h) for h in hyps] == [len(text) for text, _ in test]
    assert tag_f1([tags for _, tags in test], hyps) >= 0.95


def test_a_bidirectional_lstm_reads_destination_first_probes(bilstm):
    """The demo's sentences in other orders (destination first, an origin alone) teach a tagger
    that reads both ways that the last city need not be the destination."""
    refs = [slot_values(t, travel_slots(t)) for t in PROBES]
    assert value_f1(refs, [slot_values(t, h) for t, h in zip(PROBES, bilstm.tag_many(PROBES))]) >= 0.95


def origin_destination(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [p for p in pairs if p[0] in ("origin", "destination")]


def test_memory_tells_the_origin_from_the_destination(sentences):
    """The same city is an origin after 从 and a destination after 到/去: a tagger that sees one
    character at a time cannot tell, a unidirectional Elman network remembers the word before."""
    both = [
        (t, tags)
        for t, tags in sentences["test"]
        if {"origin", "destination"} <= set(s for s, _ in slot_values(t, tags))
    ]
    assert len(both) >= 10
    refs = [origin_destination(slot_values(t, tags)) for t, tags in both]

    def score(tagger: SlotTagger) -> float:
        texts = [t for t, _ in both]
        return value_f1(refs, [origin_destination(slot_values(t, h)) for t, h in zip(texts, tagger.tag_many(texts))])

    elman = trained(sentences, cell="elman", bidirectional=False)
    no_memory = trained(sentences, cell="none")
    assert score(elman) >= 0.9 and score(no_memory) <= 0.6
    # and in the order the demo never says it, destination first (到Y从X): the word before decides
    probes = [f"到{b}从{a}" for a, b in itertools.permutations(CITIES, 2)]
    refs = [slot_values(t, travel_slots(t)) for t in probes]
    assert refs[0] == [("destination", CITIES[1]), ("origin", CITIES[0])]
    assert value_f1(refs, [slot_values(t, h) for t, h in zip(probes, elman.tag_many(probes))]) >= 0.8


def test_padding_does_not_change_tags(bilstm):
    texts = ["我想在十一月二号到台北", "七点", "从上海去北京", "好棒棒"]
    assert bilstm.tag_many(texts) == [bilstm.tag(t) for t in texts]


def test_fill_gives_slot_times_from_the_characters(bilstm):
    text = "从上海去北京"
    chars = [Char(c, 0.1 * i, 0.1 * i + 0.05) for i, c in enumerate(text)]
    filled = bilstm.fill(text, chars)
    assert [(s.slot, s.text, s.value, s.start, s.end) for s in filled] == [
        ("origin", "上海", "上海", pytest.approx(0.1), pytest.approx(0.25)),
        ("destination", "北京", "北京", pytest.approx(0.4), pytest.approx(0.55)),
    ]
    assert all(s.start is None for s in bilstm.fill(text))  # no characters: no times


def test_values_a_booking_can_use(bilstm):
    """The whole time with its part of the day (a tagger that never heard 下午), no digit as a
    city, dates and times normalized."""
    said = lambda text: {s.slot: (s.text, s.value) for s in bilstm.fill(text)}
    assert said("下午三点半去广州")["time"] == ("下午三点半", "15:30")
    assert "origin" not in said("七北去广州")
    assert said("我想十一月二号八点半从上海去台北") == {
        "date": ("十一月二号", "--11-02"),
        "time": ("八点半", "08:30"),
        "origin": ("上海", "上海"),
        "destination": ("台北", "台北"),
    }


def test_each_segment_of_a_transcript_is_a_booking(bilstm):
    texts = ["我想十一月二号从上海去台北", "", "晚上八点到北京从广州"]
    chars, segments, at = [], [], 0.0
    for text in texts:
        chars += [Char(c, at + 0.2 * i, at + 0.2 * i + 0.05) for i, c in enumerate(text)]
        segments.append(Segment(at, at + 0.2 * len(text) + 0.5, text))
        at += 0.2 * len(text) + 1.0
    t = Transcript("x", text="".join(texts), segments=segments, chars=chars)
    filled = bilstm.fill_transcript(t)
    out = slots_json(filled)
    assert [{k: v["text"] for k, v in b.items()} for b in out["bookings"]] == [
        {"date": "十一月二号", "origin": "上海", "destination": "台北"},
        {"time": "晚上八点", "destination": "北京", "origin": "广州"},
    ]
    assert {s.segment for s in filled} == {0, 2}
    assert out["bookings"][1]["time"]["value"] == "20:00"
    for s in filled:  # times from the segment's own characters
        inside = "".join(c.char for c in chars if s.start <= c.start and c.end <= s.end)
        assert inside == s.text
    assert out["slots"]["origin"]["text"] == "上海"  # the form: the first booking's
    # one string, tagged whole, is one booking
    assert len(slots_json(bilstm.fill(t.text or ""))["bookings"]) == 1


def test_tag_prints_values_and_a_booking_per_sentence(slot_model):
    r = run_asr(
        "slots", "tag", "-f", "text", slot_model, "下午三点半去广州", "七北去广州", "从上海去北京。到台北从深圳"
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "下午三点半去广州\ttime: 下午三点半 (15:30), destination: 广州",
        "七北去广州\tdestination: 广州",
        "从上海去北京。到台北从深圳\torigin: 上海, destination: 北京 | destination: 台北, origin: 深圳",
    ]
    row = json.loads(run_asr("slots", "tag", slot_model, "从上海去北京。到台北从深圳").stdout)
    assert [{k: v["value"] for k, v in b.items()} for b in row["bookings"]] == [
        {"origin": "上海", "destination": "北京"},
        {"destination": "台北", "origin": "深圳"},
    ]
    assert len(row["tags"]) == len(row["text"]) and row["tags"][6] == "O"
    r = run_asr("slots", "tag", "-f", "yaml", slot_model, "七点")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--format" in r.stderr, r.stderr


def test_a_saved_tagger_tags_the_same(tmp_path, bilstm, sentences):
    bilstm.save(tmp_path / "slots.pt")
    loaded = SlotTagger.load(tmp_path / "slots.pt")
    texts = [t for t, _ in sentences["test"][:50]]
    assert loaded.tag_many(texts) == bilstm.tag_many(texts)
    assert loaded.slots == ["origin", "destination", "date", "time"]


def test_bad_slot_settings_and_files_are_one_line_errors(tmp_path, tiny_model):
    with pytest.raises(UserError, match="slots.cell"):
        SlotConfig(cell="transformer")
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    for path, words in (
        (tmp_path / "junk.pt", "not a readable slot model file"),
        (tmp_path / "none.pt", "slot model file not found"),
        (tiny_model["model"], "a speech recognition model, not a slot model"),
    ):
        r = run_asr("slots", "tag", path, "从上海去北京")
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and words in r.stderr, r.stderr
        r = run_asr("transcribe", "-m", tiny_model["model"], "--slots", path, SAMPLES / "test-f2-00114.wav")
        assert r.returncode == 2 and words in r.stderr and "Traceback" not in r.stderr, r.stderr


def write_dirs(root: Path, sentences) -> None:
    for split, rows in sentences.items():
        d = root / split
        d.mkdir(parents=True)
        (d / "text").write_text("".join(f"{split}-{i:04d} {t}\n" for i, (t, _) in enumerate(rows)), encoding="utf-8")
        write_slots(d, {f"{split}-{i:04d}": tags for i, (_, tags) in enumerate(rows)})


def test_slot_data_is_checked_against_the_transcripts(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / "text").write_text("u1 从上海去北京\n", encoding="utf-8")
    with pytest.raises(UserError, match="slots: not found"):
        read_slot_data(d)
    (d / "slots").write_text("u1 O B-origin I-origin O B-destination\n", encoding="utf-8")
    with pytest.raises(UserError, match="5 tags for 6 characters"):
        read_slot_data(d)
    (d / "slots").write_text("u1 O B-origin I-origin O B-destination X\n", encoding="utf-8")
    with pytest.raises(UserError, match="'X' is not O, B-slot or I-slot"):
        read_slot_data(d)


def test_the_commands_train_tag_and_label(tmp_path, sentences):
    small = {k: v[:300] if k == "train" else v[:40] for k, v in sentences.items()}
    write_dirs(tmp_path, small)
    (tmp_path / "test" / "slots").unlink()
    r = run_asr("slots", "label", tmp_path / "test")  # a demo data dir written before slots existed
    assert r.returncode == 0 and read_slot_data(tmp_path / "test") == [
        (f"test-{i:04d}", t, tags) for i, (t, tags) in enumerate(small["test"])
    ]
    model = tmp_path / "m.pt"
    r = run_asr("slots", "train", tmp_path / "train", "--dev", tmp_path / "dev", "-o", model, "-s", "slots.epochs=3")
    assert r.returncode == 0 and "dev slot F1" in r.stdout and r.stderr.count("epoch ") == 3, r.stderr
    r = run_asr("slots", "tag", model, "从上海去北京", "七点")
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [row["text"] for row in rows] == ["从上海去北京", "七点"]
    for row in rows:
        assert set(row) == {"text", "slots", "bookings", "slot_spans", "tags"} and len(row["tags"]) == len(row["text"])
        assert all(s["text"] in row["text"] and s["slot"] in row["slots"] for s in row["slot_spans"])
    r = run_asr("slots", "evaluate", model, tmp_path / "test")
    assert r.returncode == 0 and "on the reference text (40 utterances" in r.stdout
    # a wrong speech model is the one line, before any score; another section's setting is no slot setting
    r = run_asr("slots", "evaluate", model, tmp_path / "test", "--asr-model", model)
    assert r.returncode == 2 and r.stdout == "" and r.stderr.count("\n") == 1, r.stdout + r.stderr
    r = run_asr("slots", "train", tmp_path / "train", "-o", tmp_path / "x.pt", "-s", "train.epochs=1")
    assert r.returncode == 2 and "the slot tagger's settings are slots.KEY=VALUE" in r.stderr, r.stderr


def test_transcribe_adds_slots_with_times(tiny_model, tiny_reads, slot_model):
    r = run_asr("transcribe", "-m", tiny_model["model"], "--slots", slot_model, "-f", "json", SAMPLES)
    assert r.returncode == 0, r.stderr
    tagger = SlotTagger.load(slot_model)
    for line in r.stdout.splitlines():
        out = json.loads(line)
        assert out["text"] == tiny_reads[Path(out["path"]).stem]
        kept = [(s.slot, s.text, s.value) for s in tagger.fill(out["text"])]  # a sample is one segment
        assert [(s["slot"], s["text"], s["value"]) for s in out["slot_spans"]] == kept
        assert all(s["slot"] in out["slots"] for s in out["slot_spans"]) and len(out["bookings"]) <= 1
        for s in out["slot_spans"]:
            assert 0 <= s["start"] < s["end"] <= out["duration"]
            inside = "".join(c["char"] for c in out["chars"] if s["start"] <= c["start"] and c["end"] <= s["end"])
            assert inside == s["text"]  # the span's characters are the slot's
    r = run_asr("transcribe", "-m", tiny_model["model"], "--slots", slot_model, SAMPLES / "test-belinda-00054.wav")
    path, text, *form = r.stdout.rstrip("\n").split("\t")
    assert text == tiny_reads["test-belinda-00054"] and len(form) == 1
    for fmt in ("srt", "vtt", "tsv"):  # no place for slots: refused, not dropped
        wav = SAMPLES / "test-belinda-00054.wav"
        r = run_asr("transcribe", "-m", tiny_model["model"], "--slots", slot_model, "-f", fmt, wav)
        assert (
            r.returncode == 2
            and r.stderr.strip() == f"error: --slots: the slots are printed with --format text or json, not {fmt}"
        )


def test_serve_returns_slots_for_uploads_and_stream_finals(tiny_model, slot_model, tiny_reads):
    import asyncio

    import websockets

    proc, url = start_server(tiny_model["model"], "--slots", slot_model)
    try:
        assert httpx.get(f"{url}/v1/model").json()["slots"] == ["origin", "destination", "date", "time"]
        sample = SAMPLES / "test-belinda-00054.wav"
        out = httpx.post(f"{url}/v1/transcribe", files={"file": (sample.name, sample.read_bytes())}, timeout=60).json()
        tagger = SlotTagger.load(slot_model)
        assert [(s["slot"], s["text"]) for s in out["slot_spans"]] == [
            (s.slot, s.text) for s in tagger.fill(out["text"])
        ]

        wave, _ = sf.read(sample, dtype="int16")

        async def stream() -> list[dict]:
            async with websockets.connect(url.replace("http", "ws") + "/v1/stream") as ws:
                await ws.send(json.dumps({"signal": "start", "sample_rate": 16000, "format": "pcm16"}))
                await ws.recv()
                await ws.send(wave.tobytes())
                await ws.send(json.dumps({"signal": "end"}))
                return [json.loads(m) async for m in ws]

        finals = [m for m in asyncio.run(stream()) if m["type"] == "final_result"]
        assert finals
        for m in finals:  # each segment's slots, times within the segment
            assert {k: v["value"] for k, v in m["slots"].items()} == {s.slot: s.value for s in tagger.fill(m["text"])}
            assert all(m["start"] <= s["start"] < s["end"] <= m["end"] for s in m["slot_spans"])
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert "Traceback" not in err, err
