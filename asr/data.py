"""Kaldi-style data dirs -> datasets of (features, targets) -> length-grouped padded batches."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf
import torch
from torch.utils.data import Dataset, Sampler

from asr.audio import SAMPLE_RATE, load_audio
from asr.errors import AudioError, UserError
from asr.features import FeatureConfig, compute_features, num_frames
from asr.vocab import Vocab


@dataclass(frozen=True)
class Utterance:
    id: str
    path: Path
    text: str | None = None


def _read_table(path: Path) -> dict[str, str]:
    table: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        key, _, value = line.strip().partition(" ")
        if key in table:
            raise UserError(f"{path}:{n}: duplicate id {key!r}")
        table[key] = value.strip()
    return table


def read_data_dir(data_dir: str | Path, need_text: bool = True) -> list[Utterance]:
    """Read `wav.scp` (id path) and `text` (id transcript) of a Kaldi-style data dir.

    Relative audio paths are resolved against the data dir. Utterances are returned in
    wav.scp order; with need_text, every one of them must have a transcript.
    """
    data_dir = Path(data_dir)
    scp = data_dir / "wav.scp"
    if not scp.is_file():
        raise UserError(f"{data_dir}: not a data dir (no wav.scp); expected wav.scp and text files")
    wavs = _read_table(scp)
    texts = _read_table(data_dir / "text") if (data_dir / "text").is_file() else {}
    if need_text and not texts:
        raise UserError(f"{data_dir}: no text file with transcripts")
    utts = []
    for uid, loc in wavs.items():
        if loc.endswith("|"):
            raise UserError(f"{scp}: {uid}: piped commands are not supported; list audio file paths")
        if need_text and uid not in texts:
            raise UserError(f"{data_dir / 'text'}: no transcript for {uid!r}")
        path = Path(loc)
        utts.append(Utterance(uid, path if path.is_absolute() else data_dir / path, texts.get(uid)))
    return utts


def write_data_dir(data_dir: str | Path, utts: list[Utterance], speakers: dict[str, str] | None = None) -> None:
    """Write wav.scp, text (and utt2spk when speakers are given), sorted by id as Kaldi expects."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    utts = sorted(utts, key=lambda u: u.id)
    (data_dir / "wav.scp").write_text("".join(f"{u.id} {u.path}\n" for u in utts), encoding="utf-8")
    (data_dir / "text").write_text("".join(f"{u.id} {u.text}\n" for u in utts), encoding="utf-8")
    if speakers is not None:
        (data_dir / "utt2spk").write_text("".join(f"{u.id} {speakers[u.id]}\n" for u in utts))


def estimated_frames(utt: Utterance) -> int:
    """Feature frames of an utterance from its header alone (no decoding); 0 if unreadable."""
    try:
        info = sf.info(str(utt.path))
    except (sf.LibsndfileError, RuntimeError, OSError):
        return 0
    return num_frames(round(info.frames * SAMPLE_RATE / info.samplerate))


def ctc_min_frames(ids: list[int]) -> int:
    """Shortest CTC output that can carry `ids`: one frame per unit plus a blank between repeats."""
    return len(ids) + sum(a == b for a, b in zip(ids, ids[1:]))


class FeatureDataset(Dataset):
    """Utterances -> {"id", "feats" (T, F), "target" (L,)}; items that cannot be read are None.

    With cache=True the features are kept after first use (use num_workers=0 with it, since
    DataLoader workers would each fill a private copy).
    """

    def __init__(self, utts: list[Utterance], feat_cfg: FeatureConfig, vocab: Vocab | None, cache: bool = False) -> None:
        self.utts = utts
        self.feat_cfg = feat_cfg
        self.vocab = vocab
        self.cache: dict[int, torch.Tensor] | None = {} if cache else None
        self.failed: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self.utts)

    def features(self, i: int) -> torch.Tensor | None:
        if self.cache is not None and i in self.cache:
            return self.cache[i]
        utt = self.utts[i]
        try:
            feats = compute_features(load_audio(utt.path), self.feat_cfg)
        except AudioError as exc:
            self.failed[utt.id] = str(exc)
            return None
        except ValueError as exc:  # shorter than one frame
            self.failed[utt.id] = f"{utt.path}: {exc}"
            return None
        if self.cache is not None:
            self.cache[i] = feats
        return feats

    def __getitem__(self, i: int) -> dict | None:
        feats = self.features(i)
        if feats is None:
            return None
        utt = self.utts[i]
        ids = self.vocab.encode(utt.text) if (self.vocab is not None and utt.text is not None) else []
        return {"id": utt.id, "feats": feats, "target": torch.tensor(ids, dtype=torch.long), "text": utt.text}


@dataclass
class Batch:
    ids: list[str]
    feats: torch.Tensor  # (B, T, F), zero padded
    feat_lens: torch.Tensor  # (B,)
    targets: torch.Tensor  # (B, L), zero padded
    target_lens: torch.Tensor  # (B,)
    texts: list[str | None]

    def to(self, device: torch.device) -> "Batch":
        return Batch(
            self.ids, self.feats.to(device, non_blocking=True), self.feat_lens.to(device),
            self.targets.to(device), self.target_lens.to(device), self.texts,
        )


def collate(items: list[dict | None]) -> Batch:
    items = [it for it in items if it is not None]
    feats = torch.nn.utils.rnn.pad_sequence([it["feats"] for it in items], batch_first=True)
    targets = torch.nn.utils.rnn.pad_sequence([it["target"] for it in items], batch_first=True)
    return Batch(
        ids=[it["id"] for it in items],
        feats=feats,
        feat_lens=torch.tensor([it["feats"].shape[0] for it in items], dtype=torch.long),
        targets=targets,
        target_lens=torch.tensor([it["target"].shape[0] for it in items], dtype=torch.long),
        texts=[it["text"] for it in items],
    )


class LengthGroupedSampler(Sampler[list[int]]):
    """Batches of utterances of similar length, in a fresh random order every epoch.

    Grouping by length keeps padding (wasted LSTM steps) small without packed sequences.
    Utterances are sorted by length with random tie-breaking, cut into batches, and the
    batch order is shuffled with a generator seeded by (seed, epoch).
    """

    def __init__(self, lengths: list[int], batch_size: int, shuffle: bool = True, seed: int = 0) -> None:
        self.lengths = lengths
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def batches(self) -> list[list[int]]:
        g = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
        noise = torch.rand(len(self.lengths), generator=g).tolist() if self.shuffle else [0.0] * len(self.lengths)
        order = sorted(range(len(self.lengths)), key=lambda i: (self.lengths[i], noise[i]))
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if self.shuffle:
            batches = [batches[i] for i in torch.randperm(len(batches), generator=g).tolist()]
        return batches

    def __iter__(self):
        return iter(self.batches())

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)
