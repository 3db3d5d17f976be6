"""Typed results of recognition: a file's Transcript, its Segments (pieces cut at pauses), its
Chars (times, CTC spike posterior, unit id and frame span) and its n-best Alternatives.

`to_json()` gives what `asr transcribe -f json` and the server print: the unit ids and frame
spans stay in Python (align draws from them instead of aligning again)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Char:
    """One emitted character: when it is spoken (the frames it owns around its CTC spike,
    asr.decoding.owned_frames) in seconds, and its spike's mean posterior and frames."""

    char: str
    start: float  # seconds from the start of the audio (of the piece, before `shifted`)
    end: float
    score: float | None = None  # None for characters read back from JSON without one
    unit: int = -1  # the vocabulary id (-1: not known)
    frames: tuple[int, int] | None = (
        None  # its spike's first and last model output frame, in the piece it was decoded in
    )

    def to_json(self) -> dict:
        out = {"char": self.char, "start": self.start, "end": self.end}
        return out if self.score is None else {**out, "score": self.score}


@dataclass(frozen=True)
class Segment:
    """A piece of the audio cut at pauses and decoded as if alone."""

    start: float  # seconds
    end: float
    text: str

    def to_json(self) -> dict:
        return {"start": self.start, "end": self.end, "text": self.text}


@dataclass(frozen=True)
class Alternative:
    """One n-best hypothesis of the beam search: text and total score (log)."""

    text: str
    score: float

    def to_json(self) -> dict:
        return {"text": self.text, "score": self.score}


@dataclass(frozen=True)
class Slot:
    """One filled slot of a transcript (asr/slots.py): its name, its text as said, the value a
    booking uses (asr/slotvalues.py: a date as ISO 8601, a time as HH:MM, a place as said), the
    sentence it was said in (`segment`: the transcript's segment, or the sentence of a tagged
    text, from 0) and, when the transcript has character times, the span from its first
    character's start to its last's end."""

    slot: str
    text: str
    start: float | None = None
    end: float | None = None
    value: str | None = None
    segment: int = 0

    def form_json(self) -> dict:
        """The slot in a booking: {"text", "value", "start", "end"} (no times without them)."""
        out = {"text": self.text, "value": self.value if self.value is not None else self.text}
        return out if self.start is None else {**out, "start": self.start, "end": self.end}

    def to_json(self) -> dict:
        return {"slot": self.slot, **self.form_json(), "segment": self.segment}


@dataclass
class Transcript:
    path: str
    text: str | None = None
    error: str | None = None  # the file could not be transcribed
    warning: str | None = None  # transcribed, but something is off (silence)
    duration: float | None = None  # seconds
    confidence: float | None = None  # mean posterior of the emitted characters' CTC spikes
    segments: list[Segment] = field(default_factory=list)  # pieces cut at pauses
    nbest: list[Alternative] = field(default_factory=list)  # best first (beam search)
    chars: list[Char] = field(default_factory=list)
    slots: list[Slot] | None = None  # filled by a slot tagger (None: none was asked for)

    def to_json(self) -> dict:
        """The fields that are set, in declaration order; nested results as plain dicts. Slots,
        when a tagger filled them, as slots_json gives them (`slots`, `bookings`, `slot_spans`)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "slots" and value is not None:
                out.update(slots_json(value))
            elif value is not None and value != []:
                out[f.name] = [v.to_json() for v in value] if isinstance(value, list) else value
        return out


def bookings(slots: list[Slot]) -> list[dict[str, Slot]]:
    """The bookings of a transcript's slots: one per segment that has any, in order, each slot
    name -> its Slot (a tagger's fill gives one Slot per name and segment)."""
    out: dict[int, dict[str, Slot]] = {}
    for s in slots:
        out.setdefault(s.segment, {}).setdefault(s.slot, s)
    return [out[k] for k in sorted(out)]


def slots_json(slots: list[Slot]) -> dict:
    """{"slots": the booking form, "bookings": one form per segment that has slots, "slot_spans":
    every slot as a list}. A form maps slot name -> {"text", "value", "start", "end"}; `slots`
    takes each name from the first booking that has it (the only booking of one sentence; a
    sentence a pause cut in two still fills one form)."""
    forms = [{name: s.form_json() for name, s in b.items()} for b in bookings(slots)]
    form: dict[str, dict] = {}
    for b in forms:
        for name, filled in b.items():
            form.setdefault(name, filled)
    return {"slots": form, "bookings": forms, "slot_spans": [s.to_json() for s in slots]}


def slots_line(slots: list[Slot]) -> str:
    """Slots as text: `origin: 上海, time: 下午三点半 (15:30)`, the value in brackets where it is
    not the text; bookings (segments) apart with ` | `."""

    def said(s: Slot) -> str:
        return f"{s.slot}: {s.text}" + (f" ({s.value})" if s.value not in (None, s.text) else "")

    return " | ".join(", ".join(said(s) for s in b.values()) for b in bookings(slots))


def confidence(chars: list[Char]) -> float | None:
    """Mean posterior of the characters' CTC spikes (None without characters)."""
    scores = [c.score for c in chars if c.score is not None]  # read back from JSON, a Char may have none
    return round(float(np.mean(scores)), 4) if scores else None


def shifted(chars: list[Char], seconds: float, end: float) -> list[Char]:
    """Per-character times of a piece moved to where the piece starts, and kept within the piece,
    which ends at `end` s (the model's last frame of 40 ms may reach past the audio)."""
    return [
        dataclasses.replace(c, start=round(min(c.start + seconds, end), 3), end=round(min(c.end + seconds, end), 3))
        for c in chars
    ]


def joined(
    path: str, pieces: list[tuple[float, float, Transcript]], samples: int, sample_rate: int, joiner: str
) -> Transcript:
    """One file's Transcript from its decoded pieces (start s, end s, result), in order; `samples`
    at `sample_rate` make its duration, `joiner` goes between the pieces' texts."""
    out = Transcript(path, duration=round(samples / sample_rate, 3))
    for start, end, r in pieces:
        out.segments.append(Segment(round(start, 3), round(end, 3), r.text or ""))
        out.chars += shifted(r.chars, start, end)
    out.text = joiner.join(r.text for _, _, r in pieces if r.text)  # "" when nothing was heard
    if len(pieces) == 1:
        out.nbest = pieces[0][2].nbest
    out.confidence = confidence(out.chars)
    return out
