"""A loaded model with its resolved decoding settings: a batch of 16 kHz waves -> Transcripts
(features, log-posteriors, decoding). It reads no files: sources, long audio and many files are
asr/transcribe.py's (what `transcribe` and `transcribe_many` call)."""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

import asr.transcribe as long_audio
from asr.audio import SAMPLE_RATE, array_blocks, load_audio
from asr.checkpoint import load_checkpoint, model_from_checkpoint
from asr.decoding import DecodeConfig, Hotwords, decode
from asr.errors import UserError, check_choice, check_range
from asr.features import FRAME_LENGTH, FRAME_SHIFT, compute_features
from asr.lm import WordLM, load_lm
from asr.runtime import amp_name, choose_amp, inference_device
from asr.segment import HOP, frame_energy_db
from asr.transcript import Alternative, Char, Transcript, confidence
from asr.vocab import SPACE

# Test-time VTLN warps: the range the demo recipe's VTLP augmentation trains on (0.8-1.25)
VTLN_WARPS = (0.8, 0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.15, 1.2, 1.25)
# decoding settings a call may change (Recognizer.overrides); the LM and the hotwords file are the recognizer's
SEARCH = ("decoder", "beam", "alpha", "beta", "token_min_logp", "prune_topk", "blank_skip")
# search settings only the beam search reads: asking for one selects it (greedy and one: refused)
BEAM_ONLY = ("beam", "alpha", "beta", "token_min_logp", "prune_topk", "blank_skip")


@dataclass(frozen=True)
class DecodeOverrides:
    """One call's decoding options, checked when made (Recognizer.overrides): the search settings
    that differ from the recognizer's (None: its own), the n-best list's length (None: not asked,
    one) and per-call hotwords (already made into a Hotwords automaton)."""

    decoder: str | None = None
    beam: int | None = None
    alpha: float | None = None
    beta: float | None = None
    token_min_logp: float | None = None
    prune_topk: int | None = None
    blank_skip: float | None = None
    nbest: int | None = None
    hotwords: Hotwords | None = None
    warning: str | None = None  # hotword phrases the model cannot spell, said once

    def search(self) -> dict:
        """The DecodeConfig keys this call changes."""
        return {k: getattr(self, k) for k in SEARCH if getattr(self, k) is not None}


NO_OVERRIDES = DecodeOverrides()


def beam_rule(asks: Sequence[str], decoder: str | None, weights: Sequence[str], has_lm: bool) -> str | None:
    """The command line's one rule for a set of decoding settings given together: `asks`, the
    names of what only the beam search uses, select it when no `decoder` is given (the decoder
    they leave is returned, None for none); with decoder="greedy" they are refused, and so are LM
    `weights` (alpha, beta) without an LM (UserError)."""
    if decoder == "greedy" and asks:
        raise UserError(f"{', '.join(asks)}: only the beam search uses it; drop it or use the beam decoder")
    if weights and not has_lm:
        verb, them = ("weighs", "it") if len(weights) == 1 else ("weigh", "them")
        raise UserError(f"{' and '.join(weights)} {verb} an LM, and there is none: give one (lm / --lm) or drop {them}")
    return "beam" if asks and decoder is None else decoder


def hotword_phrases(value: str | Iterable[str]) -> list[str]:
    """Hotword phrases given as a list, or as one string with a phrase per line or comma: each
    stripped, the empty ones dropped. UserError for anything else."""
    if isinstance(value, str):
        value = value.replace(",", "\n").splitlines()
    phrases: list[object] = list(value) if isinstance(value, Iterable) else [value]
    if not all(isinstance(h, str) for h in phrases):
        raise UserError("hotwords: expected a list of phrases")
    return [h.strip() for h in phrases if isinstance(h, str) and h.strip()]


def resolve_decoding(
    base: DecodeConfig, decode_file: str | Path | None = None, **given
) -> tuple[DecodeConfig, Sequence[str] | None]:
    """The one place decoding settings are resolved: the model's (`base`), then those of a YAML
    file (`asr lm tune -o` writes one), then `given` (DecodeConfig keys; None means not given;
    `hotwords` a file or a list of phrases). Asking for an LM or hotwords without a decoder means
    the beam search, over a file's decoder too; asking for them with the greedy decoder, or for an
    LM weight without an LM, is refused. -> (settings, hotword phrases given as a list)."""
    known = {f.name for f in dataclasses.fields(DecodeConfig)}
    unknown = sorted(set(given) - known)
    if unknown:
        raise UserError(f"unknown decoding option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    settings: dict[str, Any] = {}
    if decode_file:
        from asr.config import load_section

        settings = load_section(decode_file, DecodeConfig)
    # Any: each value is the caller's, checked by DecodeConfig itself in the replace below
    flags: dict[str, Any] = {k: str(v) if isinstance(v, Path) else v for k, v in given.items() if v is not None}
    phrases: Sequence[str] | None = flags.pop("hotwords") if isinstance(flags.get("hotwords"), (list, tuple)) else None
    dataclasses.replace(base, **flags)  # each value's own check first (a number where one belongs, ...)
    # a file's settings, then the flags: each must hold together; the flags' decoder comes first
    from_file = beam_rule([k for k in ("lm", "hotwords") if settings.get(k)], settings.get("decoder"), [], True)
    asks = [k for k in ("lm", "hotwords") if flags.get(k)] + (["hotwords"] if phrases else [])
    asks += [k for k in BEAM_ONLY if k in flags]
    weights = [k for k in ("alpha", "beta") if k in flags]
    has_lm = bool(flags.get("lm") or settings.get("lm", base.lm))
    decoder = beam_rule(asks, flags.get("decoder"), weights, has_lm) or from_file
    settings.update(flags)
    if decoder:
        settings["decoder"] = decoder
    return dataclasses.replace(base, **settings), phrases


def read_hotwords(path: str | Path) -> list[str]:
    path = Path(path)
    if not path.is_file():
        raise UserError(
            f"{path}: hotwords file not found (a file holds a phrase per line; in Python, phrases themselves go as a list)"
        )
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class Recognizer:
    """A loaded model with its decoder, ready to transcribe audio of any length. Nothing about it
    changes once built (the LM and hotwords of a beam search asked of a greedy-built recognizer
    are loaded on first use, under a lock): the VTLN warp and the number of processes are
    arguments of the calls."""

    def __init__(
        self,
        model_path: str | Path,
        device: str = "cpu",
        max_segment_seconds: float = 20.0,
        int8: bool = False,
        decode_file: str | Path | None = None,
        amp: str = "off",
        **decode_overrides,
    ) -> None:
        """`device`: cpu, cuda, cuda:N or auto (CUDA when there is a GPU); `int8`: dynamic int8
        quantization, on the CPU; `amp`: the model's forward pass under autocast, off (float32),
        bf16, or auto (on the CPU bf16 where a timed forward pass is at least 10% faster in it,
        `amp_why` says why; on CUDA bf16 where the GPU supports it). Decoding settings: the
        recipe's `decode` section, then `decode_file`'s, then the keyword arguments
        (resolve_decoding)."""
        check_choice("amp", amp, ("off", "bf16", "auto"))
        check_range("max_segment_seconds", max_segment_seconds, "[1, inf)", why="the longest piece decoded at once")
        if int8 and device not in ("cpu", "auto"):
            raise UserError("--int8 runs on the CPU (dynamic quantization); drop --int8 or use --device cpu")
        if int8 and amp != "off":
            raise UserError("--int8 runs its layers in int8: drop --amp, or --int8")
        self.recipe, self.vocab, ctc = model_from_checkpoint(load_checkpoint(model_path))
        model: torch.nn.Module = ctc  # int8 quantization gives back a plain Module with the same forward
        self.device = inference_device("cpu" if int8 else device)
        if int8:
            from asr.export import quantize_int8

            model = quantize_int8(model)
        self.model = model.to(self.device)
        self.dtype, self.amp_why = self._choose_amp(amp)
        self.max_segment_seconds = max_segment_seconds
        self.decode, self._phrases = resolve_decoding(self.recipe.decode, decode_file, **decode_overrides)
        self.warnings: list[str] = []  # things the user should hear about once (CLI: warning: lines)
        self._beam_parts: tuple | None = None  # (LM, Hotwords), made for the first beam search
        self._lock = threading.Lock()  # the server decodes in several threads
        if self.decode.decoder == "beam":  # greedy decoding uses neither: made if a call asks for the beam
            self._beam_parts = self._make_beam_parts()
        self.frame_seconds = self.recipe.model.stack * FRAME_SHIFT / self.recipe.features.sample_rate
        self.joiner = " " if SPACE in self.vocab.units else ""

    @property
    def amp(self) -> str:
        """The forward pass's autocast: bf16 or off."""
        return amp_name(self.dtype)

    def _choose_amp(self, amp: str) -> tuple[torch.dtype | None, str]:
        """(autocast dtype or None, why) for the `amp` setting; auto on the CPU times a forward
        pass over 2 x 10 s of features both ways (runtime.choose_amp)."""
        if amp == "off":
            return None, "off"
        if amp == "bf16":
            return torch.bfloat16, "bf16 (asked)"
        if self.device.type == "cuda":
            bf16 = torch.cuda.is_bf16_supported()
            return (torch.bfloat16, "bf16 (CUDA)") if bf16 else (None, "float32 (this GPU has no bf16)")
        feats, lens = torch.randn(2, 1000, self.recipe.features.dim), torch.tensor([1000, 1000])

        @torch.inference_mode()
        def forward(dtype: torch.dtype | None) -> float:
            with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
                return float(self.model(feats, lens)[0].float().sum())

        return choose_amp(forward, "forward pass")

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
            if self._phrases is None:
                path = self.decode.hotwords
                assert path is not None  # no phrases given, so the condition above means a file
                ids = self._phrase_ids(read_hotwords(path), path)
            else:
                ids = self._phrase_ids(self._phrases, "hotwords")
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

    def features(self, wave: torch.Tensor, warp: float = 1.0) -> torch.Tensor:
        """(N,) 16 kHz waveform -> (T, F) features as the model was trained on, with the mel
        filterbank warped by `warp` (test-time VTLN; 1.0: none)."""
        return compute_features(wave, self.recipe.features, warp)

    @torch.inference_mode()
    def choose_warp(
        self,
        waves: Iterable[torch.Tensor | np.ndarray | str | Path] | torch.Tensor | np.ndarray,
        warps: Sequence[float] = VTLN_WARPS,
    ) -> float:
        """Test-time vocal-tract-length normalization: of the filterbank `warps`, the one under
        which the model is most confident on `waves` (one speaker's audio: 16 kHz waveforms,
        arrays or tensors as transcribe takes them, or audio files; one alone too): the largest sum over frames of
        the best unit's log-posterior. Needs no transcript; costs a model pass per warp. Pass it
        as `warp` to what decodes that speaker's audio."""
        if isinstance(waves, (str, Path)) or (isinstance(waves, (np.ndarray, torch.Tensor)) and waves.ndim == 1):
            waves = [waves]
        cfg, totals = self.recipe.features, np.zeros(len(warps))
        for k, given in enumerate(waves):
            if isinstance(given, (str, Path)):
                wave = load_audio(given)
            else:  # an array as transcribe reads one: integer PCM scaled, channels averaged; AudioError else
                wave = torch.from_numpy(np.concatenate(list(array_blocks(given, SAMPLE_RATE, f"waves[{k}]"))))
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
        with torch.autocast(self.device.type, dtype=self.dtype or torch.bfloat16, enabled=self.dtype is not None):
            log_probs, out_lens = self.model(padded, lens.to(self.device))
        return log_probs.float().cpu(), out_lens.cpu()

    def overrides(
        self,
        nbest: int | None = None,
        hotwords: str | Iterable[str] | None = None,
        hotword_boost: float | None = None,
        **search,
    ) -> DecodeOverrides:
        """One call's decoding options, checked before any audio is read (UserError, one line):
        `search` (decoder, beam, alpha, beta, token_min_logp, prune_topk, blank_skip) over the
        recognizer's settings; `nbest` hypotheses; `hotwords` (phrases: a list, or one string with
        a phrase per line or comma) with their `hotword_boost`. The rule of the command line:
        asking for what only the beam search does (a beam width, n-best, hotwords, LM weights)
        without a decoder selects the beam search; asking for it with decoder="greedy" is
        refused, and so are LM weights without an LM."""
        unknown = sorted(set(search) - set(SEARCH))
        if unknown:
            known = ", ".join(sorted({*SEARCH, "nbest", "hotwords", "hotword_boost"}))
            raise UserError(f"unknown decoding option(s) {', '.join(unknown)}; known: {known}")
        given = {k: v for k, v in search.items() if v is not None}
        if nbest is not None and (isinstance(nbest, bool) or not isinstance(nbest, int) or nbest < 1):
            raise UserError(f"nbest: expected a whole number >= 1, got {nbest!r}")
        asks = [k for k in BEAM_ONLY if k in given] + (["nbest"] if nbest and nbest > 1 else [])
        asks += ["hotwords"] if hotwords else []
        weights = [k for k in ("alpha", "beta") if k in given]
        decoder = beam_rule(asks, given.get("decoder"), weights, bool(self.decode.lm))
        if decoder:
            given["decoder"] = decoder
        settings = dataclasses.replace(self.decode, **given)  # the values' own checks (decoder name, beam >= 1, ...)
        if settings.decoder == "beam":
            self._beam()  # the LM and hotwords files read now: their errors before any audio, once per process
        made, warning = self._call_hotwords(hotwords, hotword_boost)
        return DecodeOverrides(**given, nbest=nbest, hotwords=made, warning=warning)

    def for_json(self, options: DecodeOverrides) -> DecodeOverrides:
        """`options` for a result written as JSON: an n-best list of 5 when the beam search runs
        and none was asked for (the command line's and the server's default)."""
        beam = (options.decoder or self.decode.decoder) == "beam"
        return dataclasses.replace(options, nbest=5) if options.nbest is None and beam else options

    def _call_hotwords(self, hotwords, boost: float | None) -> tuple[Hotwords | None, str | None]:
        if boost is not None and not hotwords:
            raise UserError(
                "hotword_boost: give hotwords to boost (the recognizer's own keep the boost they were built with)"
            )
        if boost is not None and not (isinstance(boost, (int, float)) and 0 <= boost < math.inf):
            raise UserError(f"hotword_boost: expected a number >= 0, got {boost!r}")
        if not hotwords:
            return None, None
        ids, warning = self.hotword_ids(hotword_phrases(hotwords))
        made = Hotwords(ids, self.decode.hotword_boost if boost is None else float(boost)) if ids else None
        return made, f"hotwords: {warning}" if warning else None

    def decode_log_probs(
        self,
        log_probs: torch.Tensor,
        out_lens: torch.Tensor,
        times: bool = False,
        options: DecodeOverrides = NO_OVERRIDES,
        waves: Sequence[np.ndarray | torch.Tensor] | None = None,
    ) -> list[Transcript]:
        """Decode (B, T', V) log-probs with this recognizer's settings changed by `options`
        (Recognizer.overrides; the beam search asked of a recognizer built greedy uses its LM and
        hotwords all the same, per-call hotwords instead of its own). `waves`, the pieces the
        log-probs are of, refine character times by their energy (asr.decoding.owned_frames)."""
        d = dataclasses.replace(self.decode, **options.search()) if options.search() else self.decode
        lm, own_hotwords = self._beam() if d.decoder == "beam" else (None, None)
        hyps = decode(
            log_probs,
            out_lens,
            d,
            self.vocab.blank,
            lm=lm,
            units=self.vocab.units,
            hotwords=options.hotwords or own_hotwords,
            nbest=options.nbest or 1,
            times=times,
            energy_db=[frame_energy_db(np.asarray(w, np.float32)) for w in waves] if times and waves else None,
            sub=round(self.frame_seconds * self.recipe.features.sample_rate) // HOP,
        )
        return [self._transcript(h, d.decoder == "beam") for h in hyps]

    def _transcript(self, hyps: list, beam: bool) -> Transcript:
        """A piece's Transcript from its hypotheses (best first): text, n-best (beam), and with
        the best one's spans, its characters: times of the frames each owns (owned_frames), score
        and frames of its CTC spike."""
        best = hyps[0]
        r = Transcript("", text=self.vocab.decode(best.ids))
        if beam:
            r.nbest = [Alternative(self.vocab.decode(h.ids), h.score) for h in hyps if math.isfinite(h.score)]
        if best.spans is not None:
            fs = self.frame_seconds
            owned = best.owned or [(s, e + 1) for _, s, e, _ in best.spans]
            r.chars = [
                Char(self.vocab.decode([u]) or " ", round(a * fs, 3), round(b * fs, 3), round(score, 4), u, (s, e))
                for (u, s, e, score), (a, b) in zip(best.spans, owned)
            ]
            r.confidence = confidence(r.chars)
        return r

    def decode_waves(
        self,
        waves: Sequence[np.ndarray | torch.Tensor],
        times: bool = False,
        warp: float = 1.0,
        options: DecodeOverrides = NO_OVERRIDES,
    ) -> list[Transcript]:
        """Pieces of 16 kHz mono audio (each at least one frame, at most max_segment_seconds),
        decoded together -> one Transcript each; times count from each piece's start. `warp`:
        the filterbank's VTLN warp (choose_warp); `options`: Recognizer.overrides."""
        feats = [self.features(torch.as_tensor(w), warp) for w in waves]
        return self.decode_log_probs(*self.log_probs(feats), times=times, options=options, waves=waves)

    def transcribe(self, source: long_audio.Source, **options) -> Transcript:
        """One file, standard input ("-"), an open binary file, a file's bytes or an array of
        samples, of any length: asr.transcribe.transcribe (its docstring lists the options)."""
        return long_audio.transcribe(self, source, **options)

    def transcribe_many(self, sources: Iterable[str | Path | long_audio.Clip], **options) -> Iterator[Transcript]:
        """Many files, results in the order given: asr.transcribe.transcribe_many (options there)."""
        return long_audio.transcribe_many(self, sources, **options)
