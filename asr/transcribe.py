"""Model + audio -> text, n-best and per-character times."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch

from asr.audio import load_audio
from asr.checkpoint import load_checkpoint, model_from_checkpoint
from asr.config import DecodeConfig
from asr.decoding import Hotwords, align, beam_decode, greedy_decode
from asr.errors import AudioError, UserError
from asr.features import FRAME_LENGTH, FRAME_SHIFT, compute_features
from asr.lm import load_lm


@dataclass
class Transcript:
    path: str
    text: str | None = None
    error: str | None = None
    nbest: list[dict] = field(default_factory=list)  # {"text", "score"}, best first (beam search)
    chars: list[dict] = field(default_factory=list)  # {"char", "start", "end"} in seconds

    def to_json(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


def read_hotwords(path: str | Path) -> list[str]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: hotwords file not found")
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class Recognizer:
    """A loaded model with its decoder, ready to transcribe audio files."""

    def __init__(self, model_path: str | Path, device: str = "cpu", **decode_overrides) -> None:
        self.recipe, self.vocab, self.model = model_from_checkpoint(load_checkpoint(model_path))
        self.device = torch.device(device)
        self.model.to(self.device)
        given = {k: v for k, v in decode_overrides.items() if v is not None}
        self.decode = dataclasses.replace(self.recipe.decode, **given)
        beam = self.decode.decoder == "beam"  # greedy decoding uses neither LM nor hotwords
        self.lm = load_lm(self.decode.lm) if beam and self.decode.lm else None
        self.hotwords = None
        if beam and self.decode.hotwords:
            phrases = [self.vocab.encode(p) for p in read_hotwords(self.decode.hotwords)]
            self.hotwords = Hotwords(phrases, self.decode.hotword_boost)
        self.frame_seconds = self.recipe.model.stack * FRAME_SHIFT / self.recipe.features.sample_rate

    def features(self, path: str | Path) -> torch.Tensor:
        """(T, F) features of one file; AudioError for audio that cannot be used."""
        wave = load_audio(path)
        if wave.shape[0] < FRAME_LENGTH:
            raise AudioError(f"{path}: audio shorter than one 25 ms frame ({wave.shape[0]} samples)")
        return compute_features(wave, self.recipe.features)

    @torch.inference_mode()
    def log_probs(self, feats: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Batch of (T, F) features -> (log_probs (B, T', V) on the CPU, out_lens (B,))."""
        lens = torch.tensor([f.shape[0] for f in feats])
        padded = torch.nn.utils.rnn.pad_sequence(feats, batch_first=True).to(self.device)
        log_probs, out_lens = self.model(padded, lens.to(self.device))
        return log_probs.float().cpu(), out_lens.cpu()

    def decode_log_probs(self, log_probs: torch.Tensor, out_lens: torch.Tensor, times: bool = False,
                         nbest: int = 1, **overrides) -> list[Transcript]:
        """Decode (B, T', V) log-probs with this recognizer's decoder settings (or `overrides`)."""
        d = dataclasses.replace(self.decode, **overrides) if overrides else self.decode
        if d.decoder == "greedy":
            best = greedy_decode(log_probs, out_lens, self.vocab.blank)
            results = [Transcript("", text=self.vocab.decode(ids)) for ids in best]
        else:
            nbests = beam_decode(
                log_probs, out_lens, beam=d.beam, blank=self.vocab.blank, token_min_logp=d.token_min_logp,
                prune_topk=d.prune_topk, blank_skip=d.blank_skip, lm=self.lm, units=self.vocab.units,
                alpha=d.alpha, beta=d.beta, hotwords=self.hotwords, nbest=max(nbest, 1),
            )
            best = [hyps[0].ids if hyps else [] for hyps in nbests]
            results = [
                Transcript("", text=self.vocab.decode(ids),
                           nbest=[{"text": self.vocab.decode(h.ids), "score": h.score} for h in hyps])
                for ids, hyps in zip(best, nbests)
            ]
        if times:
            for r, ids, lp, n in zip(results, best, log_probs, out_lens):
                r.chars = [
                    {"char": self.vocab.decode([u]) or " ", "start": round(s * self.frame_seconds, 3),
                     "end": round((e + 1) * self.frame_seconds, 3)}
                    for u, s, e in align(lp[: int(n)], ids, self.vocab.blank)
                ]
        return results

    def transcribe(self, path: str | Path, times: bool = False, nbest: int = 1) -> Transcript:
        result = self.decode_log_probs(*self.log_probs([self.features(path)]), times=times, nbest=nbest)[0]
        result.path = str(path)
        return result

    def transcribe_many(self, paths: Iterable[str | Path], batch_size: int = 8, times: bool = False,
                        nbest: int = 1) -> Iterator[Transcript]:
        """Transcribe files in order; a file that cannot be read yields a Transcript with `error`."""
        pending: list[tuple[str, torch.Tensor]] = []

        def flush() -> Iterator[Transcript]:
            if pending:
                results = self.decode_log_probs(*self.log_probs([f for _, f in pending]), times=times, nbest=nbest)
                for (path, _), r in zip(pending, results):
                    r.path = path
                    yield r
            pending.clear()

        for path in paths:
            try:
                pending.append((str(path), self.features(path)))
            except AudioError as exc:
                yield from flush()
                yield Transcript(str(path), error=str(exc))
                continue
            if len(pending) >= batch_size:
                yield from flush()
        yield from flush()
