"""Kaldi-style data dirs: the tables (wav.scp, text, segments, utt2spk, slots) read into
Utterances and written back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from asr.audio import check_audio, load_audio, past_the_end, segment_problem
from asr.errors import UserError, located


@dataclass(frozen=True)
class Utterance:
    """One entry of a data dir: its audio (a whole file, or a segment of one) and transcript."""

    id: str
    path: Path
    text: str | None = None
    start: float = 0.0  # a segment of a longer recording (Kaldi `segments`): seconds into it ...
    end: float | None = None  # ... to here (None: to the end of the file)

    def load(self) -> torch.Tensor:
        """The utterance's audio (its segment only), mono float32 at 16 kHz."""
        return load_audio(self.path, start=self.start, end=self.end)

    def check(self) -> tuple[float, str | None]:
        """(seconds, None) from the header alone, or (0.0, why it cannot be used), as check_audio."""
        seconds, why = check_audio(self.path)
        if why or (self.start == 0.0 and self.end is None):
            return seconds, why
        end = seconds if self.end is None else self.end
        why = segment_problem(self.start, self.end)
        if not why and (end > seconds + 0.01 or self.start >= seconds):
            why = past_the_end(self.start, self.end, seconds)
        return (0.0, why) if why else (end - self.start, None)


def _read_table(path: Path) -> dict[str, str]:
    table: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        # as in Kaldi: the first run of whitespace (spaces or tabs) ends the key
        key, *rest = line.strip().split(maxsplit=1)
        value = rest[0] if rest else ""
        if key in table:
            raise UserError(f"{path}:{n}: duplicate id {key!r}")
        table[key] = value.strip()
    return table


def read_speakers(data_dir: str | Path) -> dict[str, str]:
    """{utterance id: speaker} from the data dir's utt2spk ({} without one: each utterance is
    then taken as its own speaker)."""
    path = Path(data_dir) / "utt2spk"
    return _read_table(path) if path.is_file() else {}


def read_texts(data_dir: str | Path) -> dict[str, str]:
    """{utterance id: transcript} of a data dir's `text` table."""
    path = Path(data_dir) / "text"
    if not path.is_file():
        raise UserError(f"{located(path)}: not found (a Kaldi-style data dir has text and wav.scp)")
    return _read_table(path)


def write_slots(data_dir: str | Path, tags: dict[str, list[str]]) -> None:
    """Write the data dir's `slots` table: per utterance id, one BIO slot tag per character of its
    transcript (`utt B-origin I-origin O ...`), sorted by id."""
    rows = (f"{uid} {' '.join(t)}\n" for uid, t in sorted(tags.items()))
    (Path(data_dir) / "slots").write_text("".join(rows), encoding="utf-8")


def read_slot_data(data_dir: str | Path) -> list[tuple[str, str, list[str]]]:
    """(id, transcript, tags) of every utterance in the data dir's `text` and `slots` tables;
    a missing table, an utterance without tags or tags that do not match the transcript's
    characters one to one is a UserError naming the line."""
    data_dir = Path(data_dir)
    for name in ("text", "slots"):
        if not (data_dir / name).is_file():
            raise UserError(
                f"{located(data_dir / name)}: not found; slot tagging needs text and slots "
                "(asr prepare demo writes them; asr slots label adds slots to a demo data dir)"
            )
    texts, slots = _read_table(data_dir / "text"), _read_table(data_dir / "slots")
    out = []
    for uid, text in texts.items():
        if uid not in slots:
            raise UserError(f"{data_dir / 'slots'}: no tags for utterance {uid}")
        tags = slots[uid].split()
        bad = [t for t in tags if t != "O" and not (t[:2] in ("B-", "I-") and len(t) > 2)]
        if bad or len(tags) != len(text):
            why = (
                f"tag {bad[0]!r} is not O, B-slot or I-slot" if bad else f"{len(tags)} tags for {len(text)} characters"
            )
            raise UserError(f"{data_dir / 'slots'}: utterance {uid}: {why}")
        out.append((uid, text, tags))
    return out


def read_data_dir(data_dir: str | Path, need_text: bool = True) -> list[Utterance]:
    """Read `wav.scp` (id path) and `text` (id transcript) of a Kaldi-style data dir, and
    `segments` (utterance-id recording-id start end, in seconds) where there is one: then wav.scp
    lists recordings and each segment is an utterance.

    Relative audio paths are resolved against the data dir. Utterances are returned in
    wav.scp (or segments) order; with need_text, every one of them must have a transcript.
    """
    data_dir = Path(data_dir)
    scp = data_dir / "wav.scp"
    if not scp.is_file():
        raise UserError(f"{located(data_dir)}: not a data dir (no wav.scp); expected wav.scp and text files")
    wavs = _read_table(scp)
    texts = _read_table(data_dir / "text") if (data_dir / "text").is_file() else {}
    if need_text and not texts:
        said = (
            "its text file lists no transcripts" if (data_dir / "text").is_file() else "no text file with transcripts"
        )
        raise UserError(f"{data_dir}: {said}")
    paths = {}
    for uid, loc in wavs.items():
        if loc.endswith("|"):
            raise UserError(f"{scp}: {uid}: piped commands are not supported; list audio file paths")
        path = Path(loc)
        paths[uid] = path if path.is_absolute() else data_dir / path
    spans = _read_segments(data_dir / "segments", paths) if (data_dir / "segments").is_file() else None
    utts = []
    for uid, (path, start, end) in (spans or {u: (p, 0.0, None) for u, p in paths.items()}).items():
        if need_text and uid not in texts:
            raise UserError(f"{data_dir / 'text'}: no transcript for {uid!r}")
        utts.append(Utterance(uid, path, texts.get(uid), start, end))
    return utts


def _read_segments(path: Path, recordings: dict[str, Path]) -> dict[str, tuple[Path, float, float | None]]:
    spans: dict[str, tuple[Path, float, float | None]] = {}
    for uid, value in _read_table(path).items():
        fields = value.split()
        try:
            rec, start, end = fields[0], float(fields[1]), float(fields[2])
        except (IndexError, ValueError):
            raise UserError(f"{path}: {uid}: expected 'utterance-id recording-id start end'") from None
        if rec not in recordings:
            raise UserError(f"{path}: {uid}: recording {rec!r} is not in wav.scp")
        to_end = end == -1  # Kaldi: to the end of the recording
        why = segment_problem(start, None if to_end else end)
        if why:
            raise UserError(f"{path}: {uid}: {why}")
        spans[uid] = (recordings[rec], start, None if to_end else end)
    return spans


def write_data_dir(data_dir: str | Path, utts: list[Utterance], speakers: dict[str, str] | None = None) -> None:
    """Write wav.scp, text (and utt2spk when speakers are given), sorted by id as Kaldi expects.
    Where utterances are segments of recordings, wav.scp lists the recordings (ids from their
    file names) and `segments` the utterances."""
    data_dir = Path(data_dir)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # it, or a folder above it, is a file
        raise UserError(f"{data_dir}: cannot make this folder ({exc.strerror or exc})") from None
    utts = sorted(utts, key=lambda u: u.id)
    (data_dir / "text").write_text("".join(f"{u.id} {u.text}\n" for u in utts), encoding="utf-8")
    if speakers is not None:
        (data_dir / "utt2spk").write_text("".join(f"{u.id} {speakers[u.id]}\n" for u in utts), encoding="utf-8")
    (data_dir / "segments").unlink(missing_ok=True)
    if all(u.start == 0.0 and u.end is None for u in utts):
        (data_dir / "wav.scp").write_text("".join(f"{u.id} {u.path}\n" for u in utts), encoding="utf-8")
        return
    recordings: dict[Path, str] = {}
    for u in utts:
        if u.path not in recordings:
            stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in u.path.stem)
            recordings[u.path] = stem if stem not in recordings.values() else f"{stem}-{len(recordings)}"
    scp = sorted((rec, path) for path, rec in recordings.items())
    (data_dir / "wav.scp").write_text("".join(f"{rec} {path}\n" for rec, path in scp), encoding="utf-8")
    rows = (
        f"{u.id} {recordings[u.path]} {u.start:.3f} {'-1' if u.end is None else format(u.end, '.3f')}\n" for u in utts
    )
    (data_dir / "segments").write_text("".join(rows), encoding="utf-8")
