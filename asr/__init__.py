"""asr: CTC speech recognition with a deep bidirectional LSTM.

from asr import load_model
model = load_model("exp/demo/best.pt")
result = model.transcribe("a.wav")      # Transcript: .text, .chars (Char: char, start, end), .segments, .confidence
for r in model.transcribe_many(["a.wav", "b.flac"]):   # length-sorted batches, input order kept
    print(r.path, r.text)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asr.recognizer import Recognizer

__version__ = "0.1.0"


def load_model(path: str, device: str = "cpu", **decode: Any) -> Recognizer:
    """Load a model file (weights only: no code runs) into a Recognizer on `device` (cpu, cuda,
    cuda:N or auto).

    `decode` overrides the model's decoding settings: decoder="beam", beam=10, lm="lm.arpa",
    alpha, beta, hotwords (a file, or a list of phrases), hotword_boost; an LM or hotwords
    without a decoder mean the beam search, as on the command line. `max_segment_seconds` sets
    the longest piece that long audio is cut into. What the command line prints as warnings
    (hotwords the model cannot spell) comes as Python warnings (UserWarning).
    """
    import warnings

    from asr.recognizer import Recognizer

    rec = Recognizer(path, device=device, **decode)
    for line in rec.warnings:
        warnings.warn(line, UserWarning, stacklevel=2)
    return rec
