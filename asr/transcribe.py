"""Model + audio -> text, segments, per-character times and confidence; long audio in pieces."""

from __future__ import annotations

import dataclasses
import io
import itertools
import math
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from asr.audio import SAMPLE_RATE, array_blocks, check_audio, check_usable, load_audio, stream_audio, worth_decoding
from asr.checkpoint import load_checkpoint, model_from_checkpoint
from asr.decoding import Hotwords, decode
from asr.errors import AudioError, UserError
from asr.features import FRAME_LENGTH, FRAME_SHIFT, compute_features
from asr.forked import Forked
from asr.lm import WordLM, load_lm
from asr.runtime import inference_device
from asr.segment import cut_at_pauses
from asr.vocab import SPACE

# Test-time VTLN warps: the range the demo recipe's VTLP augmentation trains on (0.8-1.25)
VTLN_WARPS = (0.8, 0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.15, 1.2, 1.25)
# decoding settings a call may change (decode_log_probs); the LM and hotwords (with their boost) are the recognizer's
PER_CALL = frozenset({"decoder", "beam", "alpha", "beta", "token_min_logp", "prune_topk", "blank_skip"})
WINDOW_SECONDS = 300.0  # a long file's pieces sorted by length this much audio at a time (memory)


@dataclass
class Transcript:
    path: str
    text: str | None = None
    error: str | None = None  # the file could not be transcribed
    warning: str | None = None  # transcribed, but something is off (silence)
    duration: float | None = None  # seconds
    confidence: float | None = None  # mean posterior of the emitted characters' CTC spikes
    segments: list[dict] = field(default_factory=list)  # {"start", "end", "text"}: pieces cut at pauses
    nbest: list[dict] = field(default_factory=list)  # {"text", "score"}, best first (beam search)
    chars: list[dict] = field(default_factory=list)  # {"char", "start", "end", "score"}, seconds

    def to_json(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None and v != []}


def shifted(chars: list[dict], seconds: float, end: float) -> list[dict]:
    """Per-character times (Transcript.chars) of a piece moved to where the piece starts, and
    kept within the piece, which ends at `end` s (the model's last frame of 40 ms may reach past
    the audio)."""
    return [
        {**c, "start": round(min(c["start"] + seconds, end), 3), "end": round(min(c["end"] + seconds, end), 3)}
        for c in chars
    ]


def read_hotwords(path: str | Path) -> list[str]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: hotwords file not found")
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class Recognizer:
    """A loaded model with its decoder, ready to transcribe audio of any length."""

    def __init__(
        self,
        model_path: str | Path,
        device: str = "cpu",
        max_segment_seconds: float = 20.0,
        int8: bool = False,
        **decode_overrides,
    ) -> None:
        """`device`: cpu, cuda, cuda:N or auto (CUDA when there is a GPU); `int8`: dynamic int8
        quantization, on the CPU. Decoding settings default to the recipe's `decode` section;
        keyword arguments override them."""
        if int8 and device not in ("cpu", "auto"):
            raise UserError("--int8 runs on the CPU (dynamic quantization); drop --int8 or use --device cpu")
        self.recipe, self.vocab, model = model_from_checkpoint(load_checkpoint(model_path))
        self.device = inference_device("cpu" if int8 else device)
        if int8:
            from asr.export import quantize_int8

            model = quantize_int8(model)
        self.model = model.to(self.device)
        self.max_segment_seconds = max_segment_seconds
        given = {k: str(v) if isinstance(v, Path) else v for k, v in decode_overrides.items() if v is not None}
        phrases = given.pop("hotwords") if isinstance(given.get("hotwords"), (list, tuple)) else None
        if (given.get("lm") or given.get("hotwords") or phrases) and "decoder" not in given:
            given["decoder"] = "beam"  # an LM or hotwords are asked for: only the beam search uses them
        self.decode = dataclasses.replace(self.recipe.decode, **given)
        self.warnings: list[str] = []  # things the user should hear about once (CLI: warning: lines)
        self._phrases = phrases
        self._beam_parts: tuple | None = None  # (LM, Hotwords), made for the first beam search
        self._lock = threading.Lock()  # the server decodes in several threads
        if self.decode.decoder == "beam":  # greedy decoding uses neither: made if a call asks for the beam
            self._beam_parts = self._make_beam_parts()
        self.frame_seconds = self.recipe.model.stack * FRAME_SHIFT / self.recipe.features.sample_rate
        self.joiner = " " if SPACE in self.vocab.units else ""

    def _make_beam_parts(self) -> tuple:
        lm = load_lm(self.decode.lm, SPACE in self.vocab.units) if self.decode.lm else None
        if isinstance(lm, WordLM) and SPACE not in self.vocab.units:
            raise UserError(
                f"{self.decode.lm}: a word LM needs a model whose units include the word boundary "
                "(space-delimited languages); this model's text has no spaces (Mandarin): "
                "use a character LM (asr lm train DATA -o chars.arpa)"
            )
        hotwords = None
        if self.decode.hotwords or self._phrases:
            phrases = self._phrases
            ids = self._hotword_ids(self.decode.hotwords) if phrases is None else self._phrase_ids(phrases, "hotwords")
            hotwords = Hotwords(ids, self.decode.hotword_boost)
        return lm, hotwords

    def _beam(self) -> tuple:
        """(LM, Hotwords) of this recognizer's settings (each None when not set): what every beam
        search uses, whether the recognizer was built for the beam or a call asks for it."""
        if self._beam_parts is None:
            with self._lock:
                if self._beam_parts is None:
                    self._beam_parts = self._make_beam_parts()
        return self._beam_parts

    @property
    def lm(self):
        """The LM the beam search scores with (None: none, or not loaded while decoding greedily)."""
        return self._beam_parts[0] if self._beam_parts else None

    @property
    def hotwords(self) -> Hotwords | None:
        return self._beam_parts[1] if self._beam_parts else None

    @classmethod
    def from_settings(
        cls,
        model_path: str | Path,
        decode_file: str | Path | None = None,
        int8: bool = False,
        device: str = "cpu",
        **flags,
    ) -> Recognizer:
        """The one place a Recognizer is built from a user's options: the model's decode settings,
        then those of a YAML file (`asr lm tune -o` writes one), then `flags` (DecodeConfig keys;
        None means not given; `hotwords` a file or a list of phrases). Asking for an LM or
        hotwords without a decoder means the beam. `int8`: dynamic int8 quantization, on the CPU."""
        settings = {}
        if decode_file:
            from asr.config import DecodeConfig, load_section

            settings = load_section(decode_file, DecodeConfig)
        settings.update({k: v for k, v in flags.items() if v is not None})
        if (flags.get("lm") or flags.get("hotwords")) and flags.get("decoder") is None:
            settings["decoder"] = "beam"  # over a settings file's decoder too: the flag asks for them
        return cls(model_path, device=device, int8=int8, **settings)

    def _hotword_ids(self, path: str) -> list[list[int]]:
        """The phrases of a hotwords file as unit ids (see hotword_ids)."""
        return self._phrase_ids(read_hotwords(path), path)

    def _phrase_ids(self, phrases: Iterable[str], where: str) -> list[list[int]]:
        if isinstance(phrases, str) or not all(isinstance(p, str) for p in phrases):
            raise UserError(f"{where}: expected a file or a list of phrases, got {phrases!r}")
        ids, warning = self.hotword_ids(phrases)
        if warning:
            self.warnings.append(f"{where}: {warning}")
        return ids

    def hotword_ids(self, phrases: Iterable[str]) -> tuple[list[list[int]], str | None]:
        """Hotword phrases as unit ids, and a warning (or None). A phrase with characters the model
        has no unit for can never be spelled out, so it is skipped; the warning names them."""
        ids, unknown, skipped = [], [], []
        for phrase in phrases:
            encoded = self.vocab.encode(phrase)
            missing = self.vocab.unknown(phrase)
            if missing:
                unknown += [c for c in missing if c not in unknown]
                skipped.append(phrase)
            elif encoded:
                ids.append(encoded)
        warning = None
        if skipped:
            warning = (
                f"{len(skipped)} hotword phrase(s) skipped ({', '.join(skipped[:5])}"
                f"{', ...' if len(skipped) > 5 else ''}): the model has no unit for {' '.join(unknown)}"
            )
        return ids, warning

    def hotwords_for(self, phrases: Iterable[str], boost: float | None = None) -> Hotwords | None:
        """A Hotwords automaton for `phrases` (None when none of them can be spelled)."""
        ids, _ = self.hotword_ids(phrases)
        return Hotwords(ids, self.decode.hotword_boost if boost is None else boost) if ids else None

    def features(self, wave: torch.Tensor, warp: float = 1.0) -> torch.Tensor:
        """(N,) 16 kHz waveform -> (T, F) features as the model was trained on, with the mel
        filterbank warped by `warp` (test-time VTLN; 1.0: none)."""
        return compute_features(wave, self.recipe.features, warp)

    @torch.inference_mode()
    def choose_warp(self, waves: Iterable[torch.Tensor], warps: Sequence[float] = VTLN_WARPS) -> float:
        """Test-time vocal-tract-length normalization: of the filterbank `warps`, the one under
        which the model is most confident on `waves` (one speaker's audio): the largest sum over
        frames of the best unit's log-posterior. Needs no transcript; costs a model pass per warp.
        Pass it as `warp` to what decodes that speaker's audio."""
        cfg, totals = self.recipe.features, np.zeros(len(warps))
        for wave in waves:
            if len(wave) < FRAME_LENGTH:
                continue
            feats = [compute_features(wave, cfg, k) for k in warps]
            log_probs, lens = self.log_probs(feats)
            best = log_probs.max(dim=-1).values
            totals += [float(best[j, : lens[j]].sum()) for j in range(len(warps))]
        return float(warps[int(np.argmax(totals))]) if totals.any() else 1.0

    @torch.inference_mode()
    def log_probs(self, feats: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Batch of (T, F) features -> (log_probs (B, T', V) on the CPU, out_lens (B,))."""
        lens = torch.tensor([f.shape[0] for f in feats])
        padded = torch.nn.utils.rnn.pad_sequence(feats, batch_first=True).to(self.device)
        log_probs, out_lens = self.model(padded, lens.to(self.device))
        return log_probs.float().cpu(), out_lens.cpu()

    def decode_log_probs(
        self,
        log_probs: torch.Tensor,
        out_lens: torch.Tensor,
        times: bool = False,
        nbest: int = 1,
        hotwords: Hotwords | None = None,
        **overrides,
    ) -> list[Transcript]:
        """Decode (B, T', V) log-probs with this recognizer's settings, or with `overrides` of the
        search (PER_CALL keys: decoder, beam, alpha, beta, ...; the beam search asked of a
        recognizer built greedy uses its LM and hotwords all the same); `hotwords` instead of the
        recognizer's own. The LM and hotwords files are the recognizer's: UserError per call."""
        if hotwords is not None and not isinstance(hotwords, Hotwords):
            raise UserError(
                "hotwords: per call, phrases made into Hotwords by hotwords_for; a file is set when the recognizer is built"
            )
        fixed = sorted(set(overrides) - PER_CALL)
        if fixed:
            raise UserError(
                f"{', '.join(fixed)}: set when the recognizer is built (load_model or Recognizer), not per call"
            )
        d = dataclasses.replace(self.decode, **overrides) if overrides else self.decode
        lm, own_hotwords = self._beam() if d.decoder == "beam" else (None, None)
        nbests = decode(
            log_probs,
            out_lens,
            d,
            self.vocab.blank,
            lm=lm,
            units=self.vocab.units,
            hotwords=own_hotwords if hotwords is None else hotwords,
            nbest=nbest,
            times=times,
        )
        results = []
        for hyps in nbests:
            best = hyps[0]
            r = Transcript("", text=self.vocab.decode(best.ids))
            if d.decoder == "beam":
                r.nbest = [{"text": self.vocab.decode(h.ids), "score": h.score} for h in hyps if math.isfinite(h.score)]
            if best.spans is not None:
                r.chars = [
                    {
                        "char": self.vocab.decode([u]) or " ",
                        "start": round(s * self.frame_seconds, 3),
                        "end": round((e + 1) * self.frame_seconds, 3),
                        "score": round(score, 4),
                    }
                    for u, s, e, score in best.spans
                ]
                r.confidence = round(float(np.mean([c["score"] for c in r.chars])), 4) if r.chars else None
            results.append(r)
        return results

    def decode_waves(
        self, waves: Sequence[np.ndarray | torch.Tensor], times: bool = False, warp: float = 1.0, **options
    ) -> list[Transcript]:
        """Pieces of 16 kHz mono audio (each at least one frame, at most max_segment_seconds),
        decoded together -> one Transcript each; times count from each piece's start. `warp`:
        the filterbank's VTLN warp (choose_warp). `options` go to decode_log_probs (nbest,
        hotwords, DecodeConfig keys)."""
        feats = [self.features(torch.as_tensor(w), warp) for w in waves]
        return self.decode_log_probs(*self.log_probs(feats), times=times, **options)

    def _finish(
        self, name: str, pieces: list[tuple[float, float, Transcript]], samples: int, peak: float
    ) -> Transcript:
        """Join decoded pieces (start s, end s, result) into one file's Transcript."""
        out = Transcript(name, duration=round(samples / SAMPLE_RATE, 3))
        for start, end, r in pieces:
            out.segments.append({"start": round(start, 3), "end": round(end, 3), "text": r.text})
            out.chars += shifted(r.chars, start, end)
        out.text = self.joiner.join(r.text for _, _, r in pieces if r.text)  # "" when nothing was heard
        if len(pieces) == 1:
            out.nbest = pieces[0][2].nbest
        scores = [c["score"] for c in out.chars]
        out.confidence = round(float(np.mean(scores)), 4) if scores else None
        out.warning = check_usable(name, samples, peak)
        return out

    def transcribe(
        self,
        source: str | Path | BinaryIO | np.ndarray | torch.Tensor,
        nbest: int = 1,
        progress: Callable[[float], None] | None = None,
        times: bool = True,
        name: str | None = None,
        max_seconds: float | None = None,
        batch_size: int = 8,
        jobs: int = 1,
        sample_rate: int = SAMPLE_RATE,
        warp: float = 1.0,
        **options,
    ) -> Transcript:
        """Transcribe one file (or "-" for standard input), or a waveform in memory, of any length.

        The audio is read block by block and cut at pauses into pieces of at most
        max_segment_seconds, each decoded as it would be alone, `batch_size` pieces at a time:
        memory does not grow with the file. With `jobs` > 1 on the CPU and
        more than one batch of pieces, the batches are shared among that many forked one-thread
        processes (asr/forked.py) while this one reads and cuts on. `progress` is called with
        the seconds done after every batch of pieces. `times`: per-character
        times and confidence from a forced alignment. `source` may be an open binary file
        (`name` then names it in messages), or an array of samples at `sample_rate` Hz ((N,), or
        (N, C) / (C, N) channels; float in [-1, 1] or integer PCM); `max_seconds` refuses longer
        audio (AudioError) before decoding past it; `options` go to decode_log_probs (hotwords,
        DecodeConfig keys). Raises AudioError.
        """
        if isinstance(source, (np.ndarray, torch.Tensor)):
            name = name or f"<array {tuple(source.shape)}>"
            blocks = array_blocks(source, sample_rate, name)
        else:
            name = name or str(source)
            blocks = stream_audio(io.BytesIO(sys.stdin.buffer.read()) if name == "-" else source, name=name)
        peak, samples, pieces = 0.0, 0, []

        def watched(blocks):
            nonlocal peak, samples
            for b in blocks:
                if len(b):
                    peak = max(peak, float(np.abs(b).max()))
                samples += len(b)
                if max_seconds is not None and samples > max_seconds * SAMPLE_RATE:
                    raise AudioError(f"{name}: audio longer than the limit of {max_seconds:g} s")
                yield b

        def batches() -> Iterator[tuple[list[tuple[int, int]], list[np.ndarray]]]:
            """((start, length) in samples, pieces) batch_size pieces at a time, as they are cut:
            a window of up to 8 batches (at most WINDOW_SECONDS of audio) is sorted by length
            first, so that a batch pads little (consecutive pieces padded 2.2x the audio of a
            30-minute file; sorted windows 1.2x)."""
            window: list[tuple[int, np.ndarray]] = []

            def emptied():
                window.sort(key=lambda piece: -len(piece[1]))
                for k in range(0, len(window), batch_size):
                    part = window[k : k + batch_size]
                    yield [(start, len(seg)) for start, seg in part], [seg for _, seg in part]
                window.clear()

            held = 0
            for start, seg in cut_at_pauses(watched(blocks), self.max_segment_seconds):
                if not worth_decoding(seg):
                    continue
                window.append((start, seg))
                held += len(seg)
                if len(window) == 8 * batch_size or held >= WINDOW_SECONDS * SAMPLE_RATE:
                    yield from emptied()
                    held = 0
            yield from emptied()

        cut = batches()
        head = list(itertools.islice(cut, 2))  # one batch (a short file) is not worth a fork
        with Forked(self, jobs if len(head) > 1 else 1) as pool:
            reached = 0.0  # the end of the latest piece decoded: what progress reports
            for spans, results in pool.waves(
                itertools.chain(head, cut), times=times, nbest=nbest, warp=warp, **options
            ):
                for (start, length), result in zip(spans, results):
                    pieces.append((start / SAMPLE_RATE, (start + length) / SAMPLE_RATE, result))
                    reached = max(reached, pieces[-1][1])
                if progress:
                    progress(reached)
        pieces.sort(key=lambda piece: piece[0])
        check_usable(name, samples, peak)
        return self._finish(name, pieces, samples, peak)

    def decode_files(
        self, batch: list[tuple[int, str]], times: bool, nbest: int, warp: float = 1.0
    ) -> list[tuple[int, Transcript]]:
        """Files of at most max_segment_seconds (index, path), read and decoded together ->
        (index, Transcript) each; an unreadable file's Transcript holds its error."""
        out, ready = [], []
        for i, name in batch:
            try:
                wave = load_audio(name)
                peak = float(wave.abs().max())
                silent = check_usable(name, len(wave), peak)
            except AudioError as exc:
                out.append((i, Transcript(name, error=str(exc))))
                continue
            if silent:
                out.append((i, self._finish(name, [], len(wave), peak)))
                continue
            ready.append((i, name, wave, peak))
        if ready:
            results = self.decode_waves([w for _, _, w, _ in ready], times=times, nbest=nbest, warp=warp)
            for (i, name, wave, peak), r in zip(ready, results):
                out.append((i, self._finish(name, [(0.0, len(wave) / SAMPLE_RATE, r)], len(wave), peak)))
        return out

    def transcribe_many(
        self,
        sources: Iterable[str | Path],
        batch_size: int = 8,
        nbest: int = 1,
        progress: Callable[[str, float, float], None] | None = None,
        times: bool = True,
        jobs: int = 1,
        window: int = 256,
        warp: float = 1.0,
    ) -> Iterator[Transcript]:
        """Transcribe many files; results come in the order given, failures as Transcript.error.

        Files up to max_segment_seconds are decoded in batches of similar length: the inputs are
        taken `window` files at a time, each window's sorted by the duration in its headers
        (longest first, so that parallel processes finish together). Results are handed out as soon
        as they and all before them are done, so output keeps pace with decoding instead of
        waiting for the last batch. Longer files, and standard input, are decoded piece by piece
        after the batches. With `jobs` > 1 on the CPU, the batches are shared
        among that many forked processes of one thread each (asr/forked.py), and so are the
        pieces of a long file; the rest runs here with torch's threads. `warp`: the filterbank's
        VTLN warp for all of them (choose_warp).
        """
        items = [(str(s), None) if not isinstance(s, tuple) else s for s in sources]
        durations = [check_audio(n)[0] if err is None and n != "-" else 0.0 for n, err in items]
        short = [
            i
            for i, (n, err) in enumerate(items)
            if err is None and n != "-" and 0 < durations[i] <= self.max_segment_seconds
        ]
        batches = []
        for k in range(0, len(short), window):
            part = sorted(short[k : k + window], key=lambda i: -durations[i])
            batches += [[(i, items[i][0]) for i in part[j : j + batch_size]] for j in range(0, len(part), batch_size)]
        done: dict[int, Transcript] = {}
        batched = set(short)
        nxt = 0  # the first input not yet handed out
        with Forked(self, jobs if len(batches) >= 2 * jobs else 1) as pool:
            for results in pool.files(batches, times, nbest, warp):
                done.update(results)
                while nxt < len(items) and (items[nxt][1] is not None or nxt in done):
                    yield done.pop(nxt) if nxt in done else Transcript(items[nxt][0], error=items[nxt][1])
                    nxt += 1
        for i in range(nxt, len(items)):  # long files, standard input: here, each as it comes
            name, err = items[i]
            if err is not None:
                yield Transcript(name, error=err)
            elif i in batched:
                yield done.pop(i)
            else:
                try:
                    cb = (lambda s, name=name, total=durations[i]: progress(name, s, total)) if progress else None
                    yield self.transcribe(
                        name, nbest=nbest, progress=cb, times=times, batch_size=batch_size, jobs=jobs, warp=warp
                    )
                except AudioError as exc:
                    yield Transcript(name, error=str(exc))
