"""Spoken slot filling: a character-level slot tagger over transcripts.

The booking example of the RNN literature: in 我想十一月二号从上海去台北 the city after 从 is the
origin and the one after 去 the destination, which a tagger that sees one character at a time
cannot tell apart and one with memory can. Characters -> embeddings -> one recurrent layer of
any cell in asr/cells.py (or none: each character on its own) -> a BIO tag per character,
trained with cross-entropy and back-propagation through time (gradient clipping).

A slot model file holds its settings, character list, tags and weights, and loads like a
recognizer's: `SlotTagger.load(path)`; `fill(text, chars)` gives the filled slots of one
sentence with their times and values (asr/slotvalues.py), `fill_transcript(t)` those of each
segment of a transcript (a booking per segment), `fill_text(text)` those of each sentence.
"""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from asr.cells import CELLS, BiLayer, direction
from asr.errors import UserError, check_ranges
from asr.model import ModelConfig
from asr.modelfile import FORMAT as ASR_FORMAT
from asr.modelfile import SLOTS_FORMAT as FORMAT
from asr.modelfile import read_torch_file, write_torch_file
from asr.slotvalues import choose
from asr.transcript import Char, Slot, Transcript

VERSION = 1
FORM_ORDER = ("origin", "destination", "date", "time")
PAD, UNK = 0, 1  # character ids: padding, and characters training never saw


@dataclass(frozen=True)
class SlotConfig:
    """The recipe's `slots:` section."""

    cell: str = "lstm"  # none (no memory: each character alone) or a cell of asr/cells.py
    bidirectional: bool = True  # also read the characters right to left
    embed: int = 32  # character embedding size
    hidden: int = 64  # recurrent units (per direction)
    dropout: float = 0.1
    epochs: int = 20
    batch_size: int = 32
    lr: float = 3e-3
    grad_clip: float = 5.0  # max global gradient norm (0: no clipping)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.cell != "none" and self.cell not in CELLS:
            raise UserError(f"slots.cell: expected none or one of {', '.join(CELLS)}, got {self.cell!r}")
        check_ranges(
            "slots",
            self,
            embed="[1, inf)",
            hidden="[1, inf)",
            dropout="[0, 1)",
            epochs="[1, inf)",
            batch_size="[1, inf)",
            lr="(0, inf)",
            grad_clip="[0, inf)",
            seed=f"[0, {2**32 - 1}]",
        )

    @property
    def name(self) -> str:
        """E.g. "bidirectional lstm" or "no memory"."""
        if self.cell == "none":
            return "no memory"
        return f"{'bidirectional' if self.bidirectional else 'unidirectional'} {self.cell}"


class TaggerNet(nn.Module):
    """Character ids (B, L) and lengths (B,) -> tag log-probabilities (B, L, n_tags).

    Padding never changes an utterance's tags: the forward direction cannot see later steps
    and BiLayer runs the backward direction over each utterance reversed within its length."""

    def __init__(self, n_chars: int, n_tags: int, cfg: SlotConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(n_chars, cfg.embed, padding_idx=PAD)
        cells = ModelConfig(hidden=cfg.hidden, layers=1, dropout=0.0, cell=cfg.cell if cfg.cell != "none" else "lstm")
        if cfg.cell == "none":
            self.rnn: nn.Module = nn.Sequential(nn.Linear(cfg.embed, cfg.hidden), nn.Tanh())
        elif cfg.bidirectional:
            self.rnn = BiLayer(cfg.embed, cells)
        else:
            self.rnn = direction(cfg.embed, cells)
        size = 2 * cfg.hidden if cfg.cell != "none" and cfg.bidirectional else cfg.hidden
        self.dropout = nn.Dropout(cfg.dropout)
        self.output = nn.Linear(size, n_tags)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        x = self.dropout(self.embed(ids))
        if self.cfg.cell == "none":
            h = self.rnn(x)
        elif self.cfg.bidirectional:
            h = self.rnn(x, lengths)
        else:
            h = self.rnn(x)[0]
        return self.output(self.dropout(h)).log_softmax(dim=-1)


def spans(tags: list[str]) -> list[tuple[str, int, int]]:
    """The slots of a BIO tag sequence as (slot, start, end) character ranges, end exclusive.

    As conlleval reads tags: a slot starts at B-x, or at I-x after anything but x; an I-x that
    follows x continues it."""
    out: list[tuple[str, int, int]] = []
    current: list = []  # [slot, start] of the open span
    for i, tag in enumerate([*tags, "O"]):
        kind, _, slot = tag.partition("-")
        if current and (kind != "I" or slot != current[0]):
            out.append((current[0], current[1], i))
            current = []
        if kind == "B" or (kind == "I" and not current):
            current = [slot, i]
    return out


def slot_values(text: str, tags: list[str]) -> list[tuple[str, str]]:
    """(slot, value) pairs of a tagged text, in order."""
    return [(slot, text[a:b]) for slot, a, b in spans(tags)]


class SlotTagger:
    """A trained tagger: characters, tags and the network, in eval mode. Immutable after loading."""

    def __init__(self, net: TaggerNet, chars: list[str], tags: list[str]) -> None:
        self.net = net.eval()
        self.chars = chars
        self.tags = tags
        self._ids = {c: i for i, c in enumerate(chars)}

    @property
    def slots(self) -> list[str]:
        """The slot names the tagger knows, in a booking form's order (where from, where to, when),
        then any others alphabetically."""
        names = {t[2:] for t in self.tags if t != "O"}
        return [n for n in FORM_ORDER if n in names] + sorted(names - set(FORM_ORDER))

    def encode(self, text: str) -> list[int]:
        return [self._ids.get(c, UNK) for c in text]

    @torch.inference_mode()
    def tag_many(self, texts: list[str]) -> list[list[str]]:
        """One tag per character of each text."""
        if not texts:
            return []
        ids, lengths = _padded([self.encode(t) or [PAD] for t in texts])
        best = self.net(ids, lengths).argmax(dim=-1)
        return [[self.tags[k] for k in row[: len(t)].tolist()] for row, t in zip(best, texts)]

    def tag(self, text: str) -> list[str]:
        return self.tag_many([text])[0]

    def fill(self, text: str, chars: list[Char] | None = None) -> list[Slot]:
        """The slots of one sentence, in order, one per slot name (slotvalues.choose); with the
        sentence's characters (one per non-space character of `text`), each slot gets its first
        character's start and its last character's end time."""
        return fill_slots(text, self.tag(text), chars)

    def fill_transcript(self, t: Transcript) -> list[Slot]:
        """The slots of each segment of a transcript, tagged one segment at a time (a segment is
        a sentence said between pauses: one booking each), with times from its characters."""
        pieces = segment_pieces(t)
        tags = self.tag_many([text for text, _ in pieces])
        return [s for k, ((text, chars), ts) in enumerate(zip(pieces, tags)) for s in fill_slots(text, ts, chars, k)]

    def fill_text(self, text: str) -> tuple[list[Slot], list[str]]:
        """The slots of each sentence of a text (split at 。！？；!?; and line ends), and one tag
        per character of the text (O for the marks between sentences)."""
        ranges = sentences(text)
        tags = ["O"] * len(text)
        slots = []
        for k, ((a, b), ts) in enumerate(zip(ranges, self.tag_many([text[a:b] for a, b in ranges]))):
            tags[a:b] = ts
            slots += fill_slots(text[a:b], ts, None, k)
        return slots, tags

    def save(self, path: str | Path) -> None:
        """Write the model file (settings, characters, tags, weights); readers never see half a file."""
        payload = {
            "format": FORMAT,
            "version": VERSION,
            "config": dataclasses.asdict(self.net.cfg),
            "chars": self.chars,
            "tags": self.tags,
            "model": {k: v.detach().cpu() for k, v in self.net.state_dict().items()},
        }
        write_torch_file(path, payload)

    @classmethod
    def load(cls, path: str | Path) -> SlotTagger:
        """Read a slot model file; anything else (a recognizer's model, a damaged file) is a UserError."""
        ckpt = read_torch_file(path, "slot model file")
        if ckpt.get("format") == ASR_FORMAT:
            raise UserError(f"{path}: a speech recognition model, not a slot model (asr slots train makes one)")
        if ckpt.get("format") != FORMAT or ckpt.get("version") != VERSION:
            raise UserError(f"{path}: not an asr slot model file (version {VERSION})")
        try:
            cfg = SlotConfig(**ckpt["config"])
            net = TaggerNet(len(ckpt["chars"]), len(ckpt["tags"]), cfg)
            net.load_state_dict(ckpt["model"])
        except (KeyError, TypeError, RuntimeError, UserError) as exc:
            raise UserError(f"{path}: a damaged slot model file ({type(exc).__name__})") from None
        return cls(net, list(ckpt["chars"]), list(ckpt["tags"]))


def fill_slots(text: str, tags: list[str], chars: list[Char] | None = None, segment: int = 0) -> list[Slot]:
    """The slots of one tagged sentence (one per name, the value a booking can use:
    slotvalues.choose), marked as said in `segment`; times from `chars` when they match the
    text's non-space characters."""
    where = [i for i, c in enumerate(text) if not c.isspace()]
    timed = chars if chars is not None and len(chars) == len(where) else None
    char_of = {pos: k for k, pos in enumerate(where)}
    out = []
    for slot, a, b, value in choose(text, spans(tags)):
        inside = [char_of[i] for i in range(a, b) if i in char_of]
        if not inside:
            continue
        said = text[a:b].strip()
        if timed is not None:
            out.append(Slot(slot, said, timed[inside[0]].start, timed[inside[-1]].end, value, segment))
        else:
            out.append(Slot(slot, said, value=value, segment=segment))
    return out


def segment_pieces(t: Transcript) -> list[tuple[str, list[Char] | None]]:
    """(text, characters) of each segment of a transcript (its characters shared out by the
    segments' non-space characters; None where they do not add up), or its whole text as one."""
    texts = [s.text for s in t.segments] if len(t.segments) > 1 else [t.text or ""]
    counts = [sum(not c.isspace() for c in text) for text in texts]
    if not t.chars or sum(counts) != len(t.chars):
        return [(text, None) for text in texts]
    out: list[tuple[str, list[Char] | None]] = []
    k = 0
    for text, n in zip(texts, counts):
        out.append((text, t.chars[k : k + n]))
        k += n
    return out


SENTENCE_END = "。！？；!?;\n"


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of a text, cut at 。！？；!?; and line ends (which belong to
    none); at least one (empty, for a text of none)."""
    out: list[tuple[int, int]] = []
    a = 0
    for i, c in enumerate([*text, "\n"]):
        if c in SENTENCE_END:
            if i > a or not out and i == len(text):
                out.append((a, i))
            a = i + 1
    return out


def _padded(seqs: list[list[int]]) -> tuple[Tensor, Tensor]:
    """Right-padded ids (B, L) and lengths (B,)."""
    lengths = torch.tensor([len(s) for s in seqs])
    ids = torch.full((len(seqs), int(lengths.max())), PAD, dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return ids, lengths


Example = tuple[str, list[str]]  # (text, one tag per character)


def train_tagger(
    cfg: SlotConfig,
    train: list[Example],
    dev: list[Example] | None = None,
    log: Callable[[str], None] = print,
) -> tuple[SlotTagger, float | None]:
    """Train a tagger on (text, tags) examples; with `dev`, keep the epoch of the best dev slot F1
    (returned; None without dev). Characters seen once or less in training share the unknown id."""
    if not train:
        raise UserError("slot training data is empty")
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    counts = Counter(c for text, _ in train for c in text)
    chars = ["<pad>", "<unk>", *sorted(c for c, n in counts.items() if n > 1)]
    tags = ["O", *sorted({t for _, ts in train for t in ts} - {"O"})]
    tag_id = {t: i for i, t in enumerate(tags)}
    tagger = SlotTagger(TaggerNet(len(chars), len(tags), cfg), chars, tags)
    net = tagger.net
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    data = [(tagger.encode(text), [tag_id.get(t, 0) for t in ts]) for text, ts in train if text]
    best, best_state = None, None
    for epoch in range(1, cfg.epochs + 1):
        net.train()
        rng.shuffle(data)
        total = 0.0
        for k in range(0, len(data), cfg.batch_size):
            batch = data[k : k + cfg.batch_size]
            ids, lengths = _padded([x for x, _ in batch])
            target = torch.full(ids.shape, -100, dtype=torch.long)  # padding: no loss
            for i, (_, y) in enumerate(batch):
                target[i, : len(y)] = torch.tensor(y)
            loss = nn.functional.nll_loss(net(ids, lengths).transpose(1, 2), target, ignore_index=-100)
            opt.zero_grad()
            loss.backward()  # through time: every step's loss reaches every earlier step
            if cfg.grad_clip:
                nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
            opt.step()
            total += loss.item() * len(batch)
        net.eval()
        line = f"epoch {epoch}/{cfg.epochs}: loss {total / len(data):.4f}"
        if dev:
            f1 = tag_f1([ts for _, ts in dev], tagger.tag_many([text for text, _ in dev]))
            line += f", dev slot F1 {f1:.2%}"
            if best is None or f1 > best:
                best, best_state = f1, {k: v.clone() for k, v in net.state_dict().items()}
                line += " (best)"
        log(line)
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    return tagger, best


def tag_f1(refs: list[list[str]], hyps: list[list[str]]) -> float:
    """Slot F1 over tagged reference texts, as conlleval counts it (seqeval): a slot is right
    when its type, start and end all are. 1.0 when neither side has a slot."""
    from seqeval.metrics import f1_score  # imports scikit-learn: only where F1 is wanted

    if not any(t != "O" for ts in refs + hyps for t in ts):
        return 1.0
    return float(f1_score(refs, hyps, zero_division=0))


def value_f1(refs: list[list[tuple[str, str]]], hyps: list[list[tuple[str, str]]]) -> float:
    """Slot F1 from speech, where the recognized text need not match the reference's
    characters: per utterance, the (slot, value) pairs found against those of the reference
    (as a multiset), summed over utterances. 1.0 when neither side has a slot."""
    hit = sum(sum((Counter(r) & Counter(h)).values()) for r, h in zip(refs, hyps))
    n_ref, n_hyp = sum(map(len, refs)), sum(map(len, hyps))
    if not n_ref and not n_hyp:
        return 1.0
    return 2 * hit / (n_ref + n_hyp)
