"""Output formats: a transcript as text, JSON, TSV segments or SRT/WebVTT subtitles cut at
pauses, to standard output or one file per input."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from asr.errors import UserError
from asr.transcript import Char, Transcript

PAUSE = 0.8  # seconds between two characters' CTC spikes that start a new cue (spikes are short,
# so spike-to-spike gaps run longer than the pauses a listener hears)
MAX_CHARS = 24  # characters per cue (about two lines of Mandarin subtitles)
MAX_SECONDS = 6.0
TAIL = 0.3  # a cue stays up this long after its last character's spike, if nothing follows


def cues(t: Transcript, joiner: str = "") -> list[tuple[float, float, str]]:
    """(start, end, text) cues from the character times: a new cue at every pause of PAUSE
    seconds, and before a cue grows past MAX_CHARS characters or MAX_SECONDS."""
    groups: list[list[Char]] = []
    for c in t.chars:
        cur = groups[-1] if groups else None
        if cur is None or c.start - cur[-1].end >= PAUSE or len(cur) >= MAX_CHARS or c.end - cur[0].start > MAX_SECONDS:
            groups.append([c])
        else:
            cur.append(c)
    out = []
    for k, g in enumerate(groups):
        end = g[-1].end + TAIL
        if k + 1 < len(groups):
            end = min(end, groups[k + 1][0].start)
        if t.duration:
            end = min(end, t.duration)
        text = "".join(c.char for c in g).strip()
        if joiner == " ":
            text = " ".join(text.split())
        out.append((g[0].start, max(end, g[-1].end), text))
    return out


def _stamp(seconds: float, sep: str) -> str:
    ms = int(round(seconds * 1000))
    h, ms = divmod(ms, 3600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_srt(t: Transcript) -> str:
    blocks = [f"{i}\n{_stamp(a, ',')} --> {_stamp(b, ',')}\n{text}\n" for i, (a, b, text) in enumerate(cues(t), 1)]
    return "\n".join(blocks)


def to_vtt(t: Transcript) -> str:
    blocks = [f"{_stamp(a, '.')} --> {_stamp(b, '.')}\n{text}\n" for a, b, text in cues(t)]
    return "WEBVTT\n\n" + "\n".join(blocks)


def to_tsv(t: Transcript) -> str:
    """One line per segment: path, start, end, text (tabs and newlines in text are spaces)."""
    return "".join(f"{t.path}\t{s.start:.2f}\t{s.end:.2f}\t{' '.join(s.text.split())}\n" for s in t.segments)


def output_stems(names: list[str]) -> dict[str, str]:
    """A distinct file stem per input, for one output file each in a folder: the input's stem,
    preceded by as many of its parent folders as it takes to tell it from the other inputs'
    (a/x.wav, b/x.wav -> a_x, b_x; x.wav, x.flac -> x.wav, x.flac); "-" is "stdin"."""
    distinct = list(dict.fromkeys(names))
    depth = dict.fromkeys(distinct, 0)
    whole = set()  # names that need their suffix too

    def stem(name: str) -> str:
        if name == "-":
            return "stdin"
        p = Path(name)
        tail = p.parent.parts[len(p.parent.parts) - depth[name] :] if depth[name] else ()
        parents = [q for q in tail if q not in ("/", "..", ".")]
        return "_".join([*parents, p.name if name in whole else p.stem])

    for _ in range(64):
        groups: dict[str, list[str]] = {}
        for name in distinct:
            groups.setdefault(stem(name), []).append(name)
        clashes = [g for g in groups.values() if len(g) > 1]
        if not clashes:
            break
        for group in clashes:
            for name in group:
                if depth[name] < len(Path(name).parent.parts):
                    depth[name] += 1
                else:
                    whole.add(name)
    out = {name: stem(name) for name in distinct}
    seen: dict[str, int] = {}
    for name in distinct:  # still equal (only by contrived names): number them
        k = seen[out[name]] = seen.get(out[name], 0) + 1
        if k > 1:
            out[name] = f"{out[name]}-{k}"
    return out


FORMATS = ("text", "json", "tsv", "srt", "vtt")


def plain_text(t: Transcript) -> str:
    """The text format's line: the transcript, then (with a slot tagger) its slots as slot=value."""
    slots = "" if t.slots is None else "\t" + " ".join(f"{s.slot}={s.text}" for s in t.slots)
    return (t.text or "") + slots + "\n"


class OutputWriter:
    """Writes each Transcript in one format to standard output, or to DIR/<stem>.<ext> per input
    (stems from output_stems, so inputs with the same stem do not overwrite each other)."""

    def __init__(self, fmt: str, output_dir: Path | None, names: list[str]) -> None:
        if fmt not in FORMATS:
            raise UserError(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
        if fmt in ("srt", "vtt") and len(names) > 1 and output_dir is None:
            raise UserError(
                f"--format {fmt} with {len(names)} inputs: give --output-dir to get one subtitle file per input"
            )
        for folder in [output_dir, *output_dir.parents] if output_dir is not None else []:
            if folder.exists() and not folder.is_dir():
                raise UserError(
                    f"--output-dir {output_dir}: {folder} is a file, not a folder; give a folder to write into"
                )
        self.fmt, self.output_dir, self.stems = fmt, output_dir, output_stems(names)
        self.header = "path\tstart\tend\ttext\n" if fmt == "tsv" and output_dir is None else ""

    def render(self, t: Transcript) -> str:
        if self.fmt == "text":
            return (f"{t.path}\t" if self.output_dir is None else "") + plain_text(t)
        if self.fmt == "json":
            return json.dumps(t.to_json(), ensure_ascii=False) + "\n"
        return {"tsv": to_tsv, "srt": to_srt, "vtt": to_vtt}[self.fmt](t)

    def write(self, t: Transcript) -> None:
        if self.output_dir is None:
            sys.stdout.write(self.header + self.render(t))
            self.header = ""
            sys.stdout.flush()
            return
        if not self.output_dir.is_dir():  # once, not per file: a folder of thousands of inputs
            self.output_dir.mkdir(parents=True, exist_ok=True)
        ext = "txt" if self.fmt == "text" else self.fmt
        (self.output_dir / f"{self.stems[t.path]}.{ext}").write_text(self.render(t), encoding="utf-8")
