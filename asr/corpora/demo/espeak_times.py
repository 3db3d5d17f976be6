"""Where espeak-ng speaks each character: its phoneme events, read through its C library.

The `espeak-ng` program gives no times for its ordinary voices (--pho writes only for MBROLA
voices), but the library it is built on reports every phoneme it plays, with the sample it
starts at and the character of the text it reads. Called with the program's own synthesis flags
and settings it makes the same samples (tests/test_char_times.py checks this), so the events
time the corpus's audio to the sample: a character runs from its first phoneme's start to the
start of whatever follows its last (the next phoneme, or the pause after it). One Mandarin
syllable per character, as the demo's text is.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import json
import subprocess
import sys
from dataclasses import dataclass

# espeak_ng's speak_lib.h
_SYNCHRONOUS = 2  # AUDIO_OUTPUT_SYNCHRONOUS
_PHONEME_EVENTS = 0x0001  # espeakINITIALIZE_PHONEME_EVENTS
_EVENT_LIST_TERMINATED, _EVENT_PHONEME = 0, 7
_RATE, _PITCH, _WORDGAP = 1, 3, 7
_POS_CHARACTER = 1
# the flags espeak-ng's program synthesizes with: espeakCHARS_AUTO | espeakPHONEMES | espeakENDPAUSE
_PROGRAM_FLAGS = 0x0000 | 0x0100 | 0x1000


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),  # characters from the text's start, from 1
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),  # ms
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),  # a phoneme event's phoneme name
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(frozen=True)
class Phoneme:
    name: str
    char: int  # index of the text's character it reads, from 0
    sample: int  # where it starts, at the synthesizer's sample rate


def _read(lib: ctypes.CDLL, text: str, voice: str, settings: tuple[int, int, int], path: str | None) -> dict:
    """One reading by the library loaded in this process: {"rate", "samples", "phonemes": [[name,
    character, sample], ...]}."""
    made, phonemes = [0], []

    def collect(wave, n: int, events) -> int:
        made[0] += max(n, 0)
        k = 0
        while events[k].type != _EVENT_LIST_TERMINATED:
            e = events[k]
            if e.type == _EVENT_PHONEME:
                phonemes.append([e.id.decode("ascii", "replace"), e.text_position - 1, e.sample])
            k += 1
        return 0

    callback = _CALLBACK(collect)  # held here while the library may call it
    rate = lib.espeak_Initialize(_SYNCHRONOUS, 0, path.encode() if path else None, _PHONEME_EVENTS)
    lib.espeak_SetSynthCallback(callback)
    if lib.espeak_SetVoiceByName(voice.encode()) != 0:
        raise SystemExit(f"espeak-ng has no voice {voice}")
    for param, value in zip((_RATE, _PITCH, _WORDGAP), settings):
        lib.espeak_SetParameter(param, value, 0)
    data = text.encode("utf-8")
    lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _PROGRAM_FLAGS, None, None)
    lib.espeak_Synchronize()
    return {"rate": rate, "samples": made[0], "phonemes": phonemes}


@functools.cache
def library_name() -> str | None:
    """libespeak-ng's file name where the system has it, else None."""
    name = ctypes.util.find_library("espeak-ng")
    if name is None and sys.platform.startswith("linux"):
        try:  # find_library needs ldconfig or a compiler; the Debian package's soname loads without
            ctypes.CDLL("libespeak-ng.so.1")
            name = "libespeak-ng.so.1"
        except OSError:
            return None
    return name


def phonemes(
    text: str, voice: str, settings: tuple[int, int, int], path: str | None = None
) -> tuple[list[Phoneme], int, int] | None:
    """(phoneme events, samples made, sample rate) of `text` read as `espeak-ng -v voice -s rate
    -p pitch -g gap [--path path]` reads it (`settings`: rate, pitch, gap), or None without
    libespeak-ng. Each reading runs in a process of its own, as the program's does: the library
    carries state from one synthesis to the next (the next reading's length changes by a few
    samples), and initializing it again in one process hangs."""
    if library_name() is None:
        return None
    args = [sys.executable, "-m", __name__, voice, *map(str, settings), *([path] if path else [])]
    done = subprocess.run(args, input=text.encode("utf-8"), capture_output=True, check=True)
    got = json.loads(done.stdout)
    return [Phoneme(*p) for p in got["phonemes"]], got["samples"], got["rate"]


def char_spans(phonemes: list[Phoneme], n_chars: int, end: int) -> list[tuple[int, int]] | None:
    """(first sample, end sample) of each of `n_chars` characters from a reading's phoneme
    events (`end`: the reading's length): from the character's first phoneme to the start of
    what follows its last one; pauses ("_" phonemes) belong to no character. None when a
    character has no phoneme of its own (the reading does not time the text one to one)."""
    spans: list[list[int]] = [[] for _ in range(n_chars)]
    for k, p in enumerate(phonemes):
        if p.name.startswith("_") or not 0 <= p.char < n_chars:
            continue
        after = phonemes[k + 1].sample if k + 1 < len(phonemes) else end
        spans[p.char] += [p.sample, after]
    if any(not s for s in spans):
        return None
    out = [(min(s), max(s)) for s in spans]
    ordered = all(a[1] <= b[0] for a, b in zip(out, out[1:]))
    return out if ordered else None


if __name__ == "__main__":  # one reading: espeak_times VOICE RATE PITCH GAP [PATH] < text
    voice, rate, pitch, gap, *where = sys.argv[1:]
    name = library_name()
    assert name is not None
    folder = where[0] if where else None
    reading = _read(ctypes.CDLL(name), sys.stdin.read(), voice, (int(rate), int(pitch), int(gap)), folder)
    print(json.dumps(reading))
