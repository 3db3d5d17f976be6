"""Commands that recognize speech with a model: transcribe, evaluate, align."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from asr.cli.app import app, err
from asr.cli.options import (
    Amp,
    BatchSize,
    DecodingFlags,
    Device,
    Int8,
    MaxCueSeconds,
    MaxLineChars,
    MaxLines,
    MinCueSeconds,
    SlotModel,
    Threads,
    decoding_flags,
    print_error,
    recognizer,
)

if TYPE_CHECKING:
    from rich.progress import TaskID  # rich itself is imported when a bar is shown (start-up time)


@app.command()
@decoding_flags
def transcribe(
    inputs: Annotated[
        list[str], typer.Argument(help="Audio files, directories, @list.txt files, or - for stdin", show_default=False)
    ],
    model: Annotated[Path, typer.Option("--model", "-m", help="Model file (best.pt)")],
    format: Annotated[str, typer.Option("--format", "-f", help="text | json | tsv | srt | vtt")] = "text",
    output_dir: Annotated[
        Optional[Path],
        typer.Option("--output-dir", "-o", help="Write one FILE.<format> per input here instead of stdout"),
    ] = None,
    nbest: Annotated[
        Optional[int],
        typer.Option(
            "--nbest",
            min=1,
            help="Hypotheses in the JSON n-best list (N > 1: -f json only; selects the beam search; default 5 with it)",
        ),
    ] = None,
    batch_size: BatchSize = 8,
    decoding: DecodingFlags = DecodingFlags(),
    int8: Int8 = False,
    device: Device = "auto",
    threads: Threads = 0,
    amp: Amp = "off",
    vtln: Annotated[
        bool,
        typer.Option(
            "--vtln",
            help="Test-time VTLN: one filterbank warp for all inputs (one speaker), chosen on their first 60 s",
        ),
    ] = False,
    slots: SlotModel = None,
    max_line_chars: MaxLineChars = None,
    max_lines: MaxLines = None,
    min_cue_seconds: MinCueSeconds = None,
    max_cue_seconds: MaxCueSeconds = None,
) -> None:
    """Transcribe audio of any length; one result per input, failures reported on stderr.

    text: path<TAB>text (with --slots: <TAB>slot: text (value), ...).  json: one object per line
    (text, segments, chars with times, confidence, n-best; with --slots: slots, bookings, slot_spans).
    tsv: path, start, end, text per segment.  srt/vtt: subtitles by the Netflix style guide's limits.
    """
    from asr.audio import expand_inputs
    from asr.subtitles import OutputWriter

    rules = _cue_rules(format, nbest, max_line_chars, max_lines, min_cue_seconds, max_cue_seconds)
    items = expand_inputs(inputs)
    out = OutputWriter(format, output_dir, [name for name, _ in items], rules)
    tagger = _slot_tagger(slots, format)
    rec, jobs = recognizer(model, decoding, int8, device, threads, amp)
    options = _call_options(rec, nbest, format, decoding.decoder)
    warp = rec.choose_warp(_first_seconds(items, 60.0)) if vtln else 1.0
    if vtln:
        err.print(f"VTLN warp {warp:g} (chosen on the first 60 s of the inputs)", markup=False)
    opts = dict(jobs=jobs, warp=warp, batch_size=batch_size, times=format != "text", options=options)
    failed = _write_results(rec.transcribe_many, items, out, tagger, **opts)
    if failed:
        err.print(f"{failed} of {len(items)} input(s) failed", markup=False)
        raise typer.Exit(1)


def _cue_rules(format: str, nbest: int | None, max_line_chars, max_lines, min_cue_seconds, max_cue_seconds):
    """The subtitle flags as one CueRules (its defaults where not given), checked before any
    audio is read; they, and --nbest above 1, are refused with a format that does not use them."""
    from asr.errors import UserError
    from asr.subtitles import CueRules, check_nbest_format

    check_nbest_format(nbest, format)
    given = {
        "max_line_chars": max_line_chars,
        "max_lines": max_lines,
        "min_cue_seconds": min_cue_seconds,
        "max_cue_seconds": max_cue_seconds,
    }
    given = {k: v for k, v in given.items() if v is not None}
    if given and format not in ("srt", "vtt"):
        flag = "--" + next(iter(given)).replace("_", "-")
        raise UserError(f"{flag} shapes subtitles: use it with --format srt or vtt")
    return CueRules(**given)


def _call_options(rec, nbest: int | None, format: str, decoder: str | None):
    """The decoding options of the call, checked before any audio is read: --nbest (selects the
    beam search; refused with --decoder greedy), else JSON's default (Recognizer.for_json)."""
    options = rec.overrides(nbest=nbest, decoder=decoder if nbest else None)
    return rec.for_json(options) if format == "json" else options


def _write_results(transcribe_many, items, out, tagger, **options) -> int:
    """Transcribe the inputs, fill each result's slots when there is a tagger, and write it; an
    input that fails is one `error:` line. Returns the number that failed."""
    import dataclasses

    failed = 0
    with _long_audio_progress() as progress:
        for result in transcribe_many(items, progress=progress, **options):
            if result.error:
                failed += 1
                err.print(f"error: {result.error}", markup=False, soft_wrap=True)
                continue
            if result.warning:
                err.print(f"warning: {result.warning}", markup=False, soft_wrap=True)
            if tagger:
                result = dataclasses.replace(result, slots=tagger.fill_transcript(result))
            out.write(result)
    return failed


def _slot_tagger(path: Path | None, format: str):
    """The slot tagger of --slots (None without it); a bad file, or a format that has no place
    for slots, is a one-line error before any audio is read."""
    if path is None:
        return None
    from asr.errors import UserError
    from asr.slots import SlotTagger

    if format not in ("text", "json"):
        raise UserError(f"--slots: the slots are printed with --format text or json, not {format}")
    return SlotTagger.load(path)


def _first_seconds(items: list[tuple[str, str | None]], seconds: float):
    """Waveforms of the readable inputs, in order, until `seconds` of audio (standard input and
    unreadable files are left out: their errors come when they are transcribed)."""
    from asr.audio import SAMPLE_RATE
    from asr.errors import AudioError
    from asr.transcribe import Clip, read_whole

    left = int(seconds * SAMPLE_RATE)  # samples still wanted
    for name, error in items:
        if left <= 0:
            return
        if error or name == "-":
            continue
        try:
            _, wave, _, _ = read_whole(Clip(name, end=left / SAMPLE_RATE))  # reads no further than it needs
        except AudioError:
            continue
        left -= len(wave)
        yield wave


class _long_audio_progress:
    """A progress bar on a terminal for files long enough to be cut into pieces; else nothing."""

    def __enter__(self) -> _long_audio_progress:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:.0f}/{task.total:.0f} s"),
            TimeRemainingColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        )
        self.bar.__enter__()
        self.tasks: dict[str, TaskID] = {}
        return self

    def __call__(self, name: str, done: float, total: float) -> None:
        if name not in self.tasks:
            self.tasks[name] = self.bar.add_task(Path(name).name, total=total or None)
        self.bar.update(self.tasks[name], completed=done)

    def __exit__(self, *exc):
        return self.bar.__exit__(*exc)


@app.command()
@decoding_flags
def evaluate(
    model: Annotated[Path, typer.Option("--model", "-m", help="Model file (best.pt)")],
    data: Annotated[Path, typer.Option("--data", "-d", help="Kaldi-style data dir with wav.scp and text")],
    report: Annotated[Optional[Path], typer.Option("--report", help="Write a JSON report here")] = None,
    times: Annotated[
        bool, typer.Option("--times", help="Per-character times in the report (forced alignment)")
    ] = False,
    time_ref: Annotated[
        Optional[Path],
        typer.Option(
            "--time-ref",
            help="Score the per-character times against this CTM (asr prepare demo writes DATA/chars.ctm)",
        ),
    ] = None,
    batch_size: BatchSize = 8,
    decoding: DecodingFlags = DecodingFlags(),
    int8: Int8 = False,
    device: Device = "auto",
    threads: Threads = 0,
    amp: Amp = "off",
    vtln: Annotated[
        bool,
        typer.Option(
            "--vtln",
            help="Test-time VTLN: per speaker (utt2spk), the filterbank warp under which the model is most confident",
        ),
    ] = False,
) -> None:
    """Print CER, WER and MER (mixed: CJK characters and other words) of MODEL on a data dir."""
    from asr.datadir import read_data_dir
    from asr.errors import output_file
    from asr.evaluate import evaluate as run
    from asr.evaluate import write_report
    from asr.timing import read_ctm

    reference = read_ctm(time_ref) if time_ref else None  # its errors before any audio is read
    report = output_file(report) if report else None  # and the report's place
    rec, jobs = recognizer(model, decoding, int8, device, threads, amp)
    utts = read_data_dir(data)
    speakers = _vtln_speakers(data) if vtln else None
    timed = times or reference is not None
    rows, failed, rates = run(
        rec, utts, batch_size=batch_size, times=timed, on_error=print_error, speakers=speakers, jobs=jobs
    )
    if speakers is not None:  # --vtln
        _print_warps(rows, speakers)
    print(
        f"CER {rates['cer']:.2%}  WER {rates['wer']:.2%}  MER {rates['mer']:.2%}  ({len(rows)} utterances, {data}, {rec.decode.decoder})"
    )
    if reference is not None:
        _print_time_errors(reference, time_ref, rows, rec.frame_seconds)
    if report:
        write_report(report, rows, rates, failed)
    if failed:
        err.print(f"{len(failed)} utterance(s) could not be read and are not scored", markup=False)
        raise typer.Exit(1)


def _vtln_speakers(data: Path) -> dict[str, str]:
    """{utterance: speaker} for --vtln's per-speaker warps; a warning when the data dir has none."""
    from asr.datadir import read_speakers

    speakers = read_speakers(data)
    if not speakers:
        err.print(
            f"warning: {data}: no utt2spk, so each utterance chooses its own VTLN warp (less reliable than per speaker)",
            markup=False,
            soft_wrap=True,
        )
    return speakers


def _print_time_errors(reference: dict, path: Path | None, rows: list[dict], frame_seconds: float) -> None:
    from asr.timing import Pairing, report_times, time_errors

    times = report_times(rows)
    pairings: tuple[tuple[Pairing, str], ...] = (
        ("time", "paired by time (sclite -T)"),
        ("text", "paired by text alone"),
    )
    timed = sum(uid in reference for uid in times)
    left = f"; {len(times) - timed} without reference times, not counted" if timed < len(times) else ""
    print(f"character times vs {path} (output frame {frame_seconds * 1000:.0f} ms; {timed} utterance(s){left}):")
    for pairing, how in pairings:
        print(f"  {how}: {time_errors(reference, times, pairing).line()}")


def _print_warps(rows: list[dict], speakers: dict[str, str]) -> None:
    chosen = sorted({(speakers.get(r["id"], r["id"]), r["warp"]) for r in rows if "warp" in r})
    shown = ", ".join(f"{spk} {warp:g}" for spk, warp in chosen[:8]) + (", ..." if len(chosen) > 8 else "")
    print(f"VTLN warps: {shown}")


@app.command()
def align(
    audio: Annotated[Path, typer.Argument(help="Audio file")],
    model: Annotated[Path, typer.Option("--model", "-m", help="Model file")],
    plot: Annotated[
        Path, typer.Option("--plot", help="PNG to write (.png added to a name without an extension)")
    ] = Path("alignment.png"),
    device: Device = "auto",
) -> None:
    """Plot the posteriorgram (blank and emitted characters) over the waveform; print the times."""
    from asr.align import plot_alignment
    from asr.errors import output_file
    from asr.recognizer import Recognizer

    # a name without an extension gets .png, as matplotlib would add it: the line below names the file written
    plot = output_file(plot)
    plot = plot if plot.suffix else plot.with_name(plot.name + ".png")
    result = plot_alignment(Recognizer(model, device=device), audio, plot)
    print(result.text)
    for c in result.chars:
        print(f"{c.start:.2f}\t{c.end:.2f}\t{c.char}")
    if result.warning:
        err.print(f"warning: {result.warning}", markup=False, soft_wrap=True)
    err.print(f"wrote {plot}", markup=False)
