"""Model + audio -> text."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from asr.audio import load_audio
from asr.checkpoint import load_checkpoint, model_from_checkpoint
from asr.decoding import greedy_decode
from asr.errors import AudioError
from asr.features import FRAME_LENGTH, compute_features


@dataclass
class Result:
    path: str
    text: str | None = None
    error: str | None = None


class Recognizer:
    """A loaded model ready to transcribe audio files on the CPU (or `device`)."""

    def __init__(self, model_path: str | Path, device: str = "cpu") -> None:
        self.recipe, self.vocab, self.model = model_from_checkpoint(load_checkpoint(model_path))
        self.device = torch.device(device)
        self.model.to(self.device)

    def features(self, path: str | Path) -> torch.Tensor:
        """(T, F) features of one file; AudioError for audio that cannot be used."""
        wave = load_audio(path)
        if wave.shape[0] < FRAME_LENGTH:
            raise AudioError(f"{path}: audio shorter than one 25 ms frame ({wave.shape[0]} samples)")
        return compute_features(wave, self.recipe.features)

    @torch.inference_mode()
    def decode_features(self, feats: list[torch.Tensor]) -> list[str]:
        """Greedy transcripts for a batch of (T, F) feature matrices."""
        lens = torch.tensor([f.shape[0] for f in feats])
        padded = torch.nn.utils.rnn.pad_sequence(feats, batch_first=True).to(self.device)
        log_probs, out_lens = self.model(padded, lens.to(self.device))
        return [self.vocab.decode(ids) for ids in greedy_decode(log_probs, out_lens, self.vocab.blank)]

    def transcribe(self, path: str | Path) -> str:
        return self.decode_features([self.features(path)])[0]

    def transcribe_many(self, paths: Iterable[str | Path], batch_size: int = 8) -> Iterator[Result]:
        """Transcribe files in order; a file that cannot be read yields a Result with `error`."""
        pending: list[tuple[str, torch.Tensor]] = []

        def flush() -> Iterator[Result]:
            texts = self.decode_features([f for _, f in pending]) if pending else []
            yield from (Result(p, text=t) for (p, _), t in zip(pending, texts))
            pending.clear()

        for path in paths:
            try:
                pending.append((str(path), self.features(path)))
            except AudioError as exc:
                yield from flush()
                yield Result(str(path), error=str(exc))
                continue
            if len(pending) >= batch_size:
                yield from flush()
        yield from flush()
