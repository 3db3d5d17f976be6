"""Typed results: what JSON shows of them, times moved into a file, and align drawing from the
decoder's own alignment."""

from __future__ import annotations

from asr.transcript import Alternative, Char, Segment, Transcript, joined, shifted
from conftest import SAMPLES


def test_json_keeps_the_fields_that_are_set_and_not_the_ids():
    t = Transcript(
        "a.wav",
        text="台北",
        duration=1.0,
        confidence=0.9,
        segments=[Segment(0.0, 1.0, "台北")],
        nbest=[Alternative("台北", -1.5)],
        chars=[Char("台", 0.1, 0.2, 0.9, unit=7, frames=(2, 4))],
    )
    assert t.to_json() == {
        "path": "a.wav",
        "text": "台北",
        "duration": 1.0,
        "confidence": 0.9,
        "segments": [{"start": 0.0, "end": 1.0, "text": "台北"}],
        "nbest": [{"text": "台北", "score": -1.5}],
        "chars": [{"char": "台", "start": 0.1, "end": 0.2, "score": 0.9}],
    }
    assert list(t.to_json()) == ["path", "text", "duration", "confidence", "segments", "nbest", "chars"]
    assert Transcript("b.wav", error="unreadable").to_json() == {"path": "b.wav", "error": "unreadable"}


def test_pieces_join_into_one_file_with_times_from_its_start():
    a = Transcript("", text="台北", chars=[Char("台", 0.1, 0.2, 0.8), Char("北", 0.3, 0.44, 0.6)])
    b = Transcript("", text="", chars=[])
    t = joined("x.wav", [(0.0, 0.42, a), (5.0, 6.0, b)], 6 * 16000, 16000, "")
    assert t.text == "台北" and t.duration == 6.0 and t.confidence == 0.7
    assert [s.to_json() for s in t.segments] == [
        {"start": 0.0, "end": 0.42, "text": "台北"},
        {"start": 5.0, "end": 6.0, "text": ""},
    ]
    assert [(c.start, c.end) for c in t.chars] == [(0.1, 0.2), (0.3, 0.42)]  # the last one kept in its piece
    assert [(c.start, c.end) for c in shifted(a.chars, 2.0, 10.0)] == [(2.1, 2.2), (2.3, 2.44)]


def test_align_draws_the_decoders_alignment_without_aligning_again(tiny_model, tmp_path, monkeypatch):
    import asr.decoding
    from asr.align import plot_alignment
    from asr.recognizer import Recognizer

    calls = []
    align = asr.decoding.align
    monkeypatch.setattr(asr.decoding, "align", lambda *a, **k: calls.append(1) or align(*a, **k))
    rec = Recognizer(tiny_model["model"])
    result = plot_alignment(rec, SAMPLES / "test-f2-00114.wav", tmp_path / "a.png")
    assert len(calls) == 1 and (tmp_path / "a.png").stat().st_size > 0
    assert result.text and "".join(c.char for c in result.chars) == result.text
    assert all(c.unit == rec.vocab.encode(c.char)[0] and c.frames[0] <= c.frames[1] for c in result.chars)
    # the times are the frames each character owns around its spike: in order, apart
    assert all(c.start < c.end for c in result.chars)
    assert all(a.end <= b.start for a, b in zip(result.chars, result.chars[1:]))
