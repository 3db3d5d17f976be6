"""Scoring: CER and WER with jiwer on normalized text, evaluation of a data dir, per-utterance
reports, and the LM weight grid search (scored the same way, streamed over the dev set)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import jiwer
import torch

from asr.decoding import greedy_decode
from asr.errors import UserError, output_file
from asr.vocab import TextConfig, Vocab, mixed_tokens, normalize_text

if TYPE_CHECKING:
    from torch.utils.data import DataLoader

    from asr.datadir import Utterance
    from asr.model import CTCModel
    from asr.recognizer import Recognizer
    from asr.transcript import Transcript


@dataclass
class ErrorCounts:
    """Character and word edit operations summed over utterances: corpus CER/WER that can be
    accumulated batch by batch (the same numbers as jiwer over the whole list at once). Words
    are what spaces separate; characters are counted without the spaces. The mixed error rate
    (MER) counts each CJK character and each other word as a token: the rate for code-switched
    Mandarin/English, equal to CER on Mandarin and to WER on English."""

    char_errors: int = 0
    chars: int = 0
    word_errors: int = 0
    words: int = 0
    mixed_errors: int = 0
    mixed: int = 0  # reference tokens of the mixed error rate
    text: TextConfig = TextConfig()  # how references and hypotheses are normalized first

    def add(self, refs: list[str], hyps: list[str]) -> ErrorCounts:
        """Score normalized pairs. Empty references are skipped: no errors can be normalized
        by a zero reference length (jiwer's definition)."""
        pairs = [(normalize_text(r, self.text), normalize_text(h, self.text)) for r, h in zip(refs, hyps, strict=True)]
        pairs = [(r, h) for r, h in pairs if r]
        if pairs:
            r, h = [p[0] for p in pairs], [p[1] for p in pairs]
            c = jiwer.process_characters([x.replace(" ", "") for x in r], [x.replace(" ", "") for x in h])
            w = jiwer.process_words(r, h)
            self.char_errors += c.substitutions + c.deletions + c.insertions
            self.chars += c.substitutions + c.deletions + c.hits
            self.word_errors += w.substitutions + w.deletions + w.insertions
            self.words += w.substitutions + w.deletions + w.hits
            m = jiwer.process_words([" ".join(mixed_tokens(x)) for x in r], [" ".join(mixed_tokens(x)) for x in h])
            self.mixed_errors += m.substitutions + m.deletions + m.insertions
            self.mixed += m.substitutions + m.deletions + m.hits
        return self

    def merge(self, other: ErrorCounts) -> ErrorCounts:
        """Add another batch's counts to these."""
        self.char_errors += other.char_errors
        self.chars += other.chars
        self.word_errors += other.word_errors
        self.words += other.words
        self.mixed_errors += other.mixed_errors
        self.mixed += other.mixed
        return self

    def rates(self) -> dict[str, float]:
        return {
            "cer": self.char_errors / self.chars if self.chars else 0.0,
            "wer": self.word_errors / self.words if self.words else 0.0,
            "mer": self.mixed_errors / self.mixed if self.mixed else 0.0,
        }


def error_rates(refs: list[str], hyps: list[str], text: TextConfig = TextConfig()) -> dict[str, float]:
    """Corpus-level {"cer", "wer", "mer"} over normalized texts.

    Unsegmented Mandarin has one "word" per sentence, so its WER is the sentence error
    rate and CER is the metric to read; MER is the one for code-switched text.
    """
    return ErrorCounts(text=text).add(refs, hyps).rates()


def evaluate(
    rec: Recognizer,
    utts: Sequence[Utterance],
    batch_size: int = 8,
    times: bool = False,
    on_error: Callable[[str, str], None] | None = None,
    speakers: dict[str, str] | None = None,
    jobs: int = 1,
    **decoding,
) -> tuple[list[dict], dict[str, str], dict[str, float]]:
    """Transcribe every utterance of a data dir with Recognizer `rec` and score it.

    With `speakers` ({utterance id: speaker}), test-time VTLN: each speaker's utterances are
    decoded with the filterbank warp its audio chose (Recognizer.choose_warp); an utterance with
    no speaker is its own. Returns (rows {"id", "ref", "hyp", "char_errors", "ref_chars",
    "word_errors", "ref_words", "mixed_errors", "ref_mixed" [, "warp"] [, "chars": per-character
    times]}, {id: error} of unreadable files, rates). Per-character times only with `times`.
    `jobs`: forked one-thread decoding processes; `decoding`: Recognizer.overrides. Audio is read
    as asr.transcribe reads it: whole files and segments alike, a long one cut at pauses.
    """
    from asr.transcribe import Clip, read_waves

    options = rec.overrides(**decoding)  # checked before any audio is read
    rows, failed, warps, total = [], {}, {}, ErrorCounts(text=rec.vocab.text)
    groups: dict[str, list[int]] = {}
    for i, u in enumerate(utts):
        groups.setdefault(speakers.get(u.id, u.id) if speakers is not None else "", []).append(i)
    results: dict[int, Transcript] = {}  # by utterance index, filled one group at a time
    for members in groups.values():
        sources, warp = [Clip(str(utts[i].path), utts[i].start, utts[i].end) for i in members], 1.0
        if speakers is not None:  # one waveform in memory at a time
            warp = rec.choose_warp(wave for _, wave in read_waves(sources))
            warps.update({utts[i].id: warp for i in members})
        decoded = rec.transcribe_many(
            sources, batch_size=batch_size, times=times, jobs=jobs, warp=warp, options=options
        )
        results.update(zip(members, decoded))
    for i, u in enumerate(utts):
        result = results[i]  # every utterance is in one group
        if result.error:
            failed[u.id] = result.error
            if on_error:
                on_error(u.id, result.error)
        else:
            assert result.text is not None  # a transcript without an error has its text
            counts = ErrorCounts(text=rec.vocab.text).add([u.text or ""], [result.text])
            total.merge(counts)
            rows.append(_row(u, result, counts, warps.get(u.id), times))
    return rows, failed, total.rates()


def _row(u: Utterance, result: Transcript, counts: ErrorCounts, warp: float | None, times: bool) -> dict:
    """One utterance's line of the report."""
    return {
        "id": u.id,
        "ref": u.text,
        "hyp": result.text,
        "char_errors": counts.char_errors,
        "ref_chars": counts.chars,
        "word_errors": counts.word_errors,
        "ref_words": counts.words,
        "mixed_errors": counts.mixed_errors,
        "ref_mixed": counts.mixed,
        **({"warp": warp} if warp is not None else {}),
        **({"chars": [c.to_json() for c in result.chars]} if times else {}),
    }


def write_report(path: str | Path, rows: list[dict], rates: dict[str, float], failed: dict[str, str]) -> None:
    """JSON report: cer, wer, mer, utterance count and per-utterance id/ref/hyp (+ files that failed)."""
    report = {
        "cer": rates["cer"],
        "wer": rates["wer"],
        "mer": rates["mer"],
        "utterances": rows,
        "num_utterances": len(rows),
        "failed": [{"id": k, "error": v} for k, v in failed.items()],
    }
    path = output_file(path)
    path.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")


def parse_grid(values: str, name: str, minimum: float | None = None) -> list[float]:
    """ "0,0.5,1" -> [0.0, 0.5, 1.0]; anything else is a UserError naming the option."""
    try:
        grid = [float(x) for x in values.split(",")]
    except ValueError:
        raise UserError(f"{name}: expected comma-separated numbers, got {values!r}") from None
    bad = [x for x in grid if not math.isfinite(x) or (minimum is not None and x < minimum)]
    if bad:
        raise UserError(
            f"{name}: {bad[0]:g} is not allowed (finite numbers" + (f" >= {minimum:g})" if minimum is not None else ")")
        )
    return list(dict.fromkeys(grid))


def tune_lm(
    rec: Recognizer,
    utts: Sequence[Utterance],
    alphas: Iterable[float],
    betas: Iterable[float],
    batch_size: int = 16,
    on_error: Callable[[str, str], None] | None = None,
) -> dict[tuple[float, float], float]:
    """Dev CER of beam search for every (alpha, beta) pair: {(alpha, beta): cer}.

    Streams: the acoustic model runs once per batch of `batch_size` utterances, each batch is
    decoded at every grid point and only error counts are kept, so memory holds one batch's
    (B, T', V) log-probs whatever the dev set's size (keeping every utterance's log-probs for
    all grid points needs ~36 GB for AISHELL-1 dev: 14k utterances, 4.3k units).
    """
    if not rec.decode.lm:
        raise UserError("tuning the LM weight needs a recognizer with an LM (lm=...): without one alpha scores nothing")
    grid = [(a, b) for a in alphas for b in betas]
    counts = {point: ErrorCounts(text=rec.vocab.text) for point in grid}
    from asr.transcribe import Clip, read_waves

    options = {(a, b): rec.overrides(decoder="beam", alpha=a, beta=b) for a, b in grid}  # checked before any audio
    for k in range(0, len(utts), batch_size):
        part = utts[k : k + batch_size]
        said = (lambda i, why, part=part: on_error(part[i].id, why)) if on_error else None
        loaded = [(part[i], w) for i, w in read_waves([Clip(str(u.path), u.start, u.end) for u in part], said)]
        if not loaded:
            continue
        refs = [u.text or "" for u, _ in loaded]
        feats = [rec.features(w) for _, w in loaded]
        log_probs, out_lens = rec.log_probs(feats)
        for point, opts in options.items():
            counts[point].add(refs, [r.text or "" for r in rec.decode_log_probs(log_probs, out_lens, options=opts)])
        del log_probs, out_lens  # freed before the next batch's are computed
    if not any(c.chars for c in counts.values()):
        raise UserError("lm tune: no readable dev utterance with a transcript to score")
    return {point: c.rates()["cer"] for point, c in counts.items()}


@torch.inference_mode()
def evaluate_loader(model: CTCModel, loader: DataLoader, vocab: Vocab, device: torch.device) -> dict:
    """Greedy CER/WER of `model` over a loader of Batches."""
    model.eval()
    refs, hyps = [], []
    for batch in loader:
        if not batch.ids:
            continue
        batch = batch.to(device)
        log_probs, out_lens = model(batch.feats, batch.feat_lens)
        hyps += [vocab.decode(h.ids) for h in greedy_decode(log_probs, out_lens, vocab.blank)]
        refs += [t or "" for t in batch.texts]
    return error_rates(refs, hyps, vocab.text)
