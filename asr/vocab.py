"""Output units: text normalization and the character vocabulary (blank = 0, unknown = 1)."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from asr.errors import UserError

BLANK = "<blank>"
UNK = "<unk>"
SPACE = "|"  # word boundary unit for space-delimited languages

_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_SPACE_NEAR_CJK = re.compile(rf"(?<=[{_CJK}])\s+|\s+(?=[{_CJK}])")
_MIXED_TOKEN = re.compile(rf"[{_CJK}]|[^\s{_CJK}]+")


@dataclass(frozen=True)
class TextConfig:
    """How transcripts are normalized for training and scoring (the recipe's `text:` section);
    the defaults suit Mandarin and space-delimited languages alike."""

    nfkc: bool = True  # full-width letters, digits and punctuation -> half-width
    lowercase: bool = True
    keep: str = "'"  # punctuation and symbols kept (the apostrophe of "it's"); the others become spaces
    numbers: str = "keep"  # keep | drop (digits removed, e.g. where transcripts spell numbers out)
    charset: str = ""  # a regex character class, e.g. "[a-z']": other characters are dropped ("" keeps all)

    def __post_init__(self) -> None:
        if self.numbers not in ("keep", "drop"):
            raise UserError(f"text.numbers: expected keep or drop, got {self.numbers!r}")
        if self.charset:
            try:
                re.compile(self.charset)
            except re.error as exc:
                raise UserError(f"text.charset: not a regular expression ({exc})") from None


def normalize_text(text: str, cfg: TextConfig = TextConfig()) -> str:
    """Normalize a transcript for training and scoring.

    By default: NFKC, lower case, punctuation and symbols dropped (the apostrophe of "it's"
    stays), whitespace collapsed; spaces next to CJK characters are removed, so Mandarin comes
    out unsegmented while space-delimited words keep single spaces between them.
    """
    if cfg.nfkc:
        text = unicodedata.normalize("NFKC", text)
    if cfg.lowercase:
        text = text.lower()
    text = "".join(" " if c not in cfg.keep and unicodedata.category(c)[0] in "PSZC" else c for c in text)
    if cfg.numbers == "drop":
        text = "".join(" " if c.isdigit() else c for c in text)
    if cfg.charset:
        allowed = re.compile(cfg.charset)
        text = "".join(c if c.isspace() or allowed.fullmatch(c) else "" for c in text)
    text = " ".join(text.split())
    return _SPACE_NEAR_CJK.sub("", text)


def mixed_tokens(text: str) -> list[str]:
    """The tokens of the mixed error rate (code-switched Mandarin/English): each CJK character
    is a token and so is each run of other characters between spaces and CJK characters
    ("我喜欢python和c语言" -> 我 喜 欢 python 和 c 语 言)."""
    return _MIXED_TOKEN.findall(text)


class Vocab:
    """Character units. Index 0 is the CTC blank and index 1 the unknown unit; a space is `|`."""

    blank = 0
    unk = 1

    def __init__(self, units: Sequence[str], text: TextConfig = TextConfig()) -> None:
        self.text = text  # how transcripts become units (and are scored)
        if len(units) < 3 or units[0] != BLANK or units[1] != UNK:
            raise ValueError("a vocabulary starts with <blank>, <unk> and has at least one unit")
        if len(set(units)) != len(units):
            raise ValueError("duplicate units in vocabulary")
        self.units = list(units)
        self._index = {u: i for i, u in enumerate(self.units)}

    @classmethod
    def build(cls, texts: Iterable[str], min_count: int = 1, text: TextConfig = TextConfig()) -> Vocab:
        """Collect the characters of normalized `texts`, most frequent first (ties by code point)."""
        counts = Counter(c for t in texts for c in normalize_text(t, text).replace(" ", SPACE))
        chars = sorted((c for c, n in counts.items() if n >= min_count), key=lambda c: (-counts[c], c))
        return cls([BLANK, UNK, *chars], text)

    def extend(self, texts: Iterable[str]) -> Vocab:
        """This vocabulary with the characters of `texts` it lacks appended (most frequent first):
        every existing unit keeps its index, so a model's output rows stay meaningful."""
        new = Vocab.build(texts, text=self.text).units[2:]
        return Vocab([*self.units, *(c for c in new if c not in self._index)], self.text)

    def __len__(self) -> int:
        return len(self.units)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.units == other.units

    def normalize(self, text: str) -> str:
        return normalize_text(text, self.text)

    def _chars(self, text: str) -> str:
        return self.normalize(text).replace(" ", SPACE)

    def encode(self, text: str) -> list[int]:
        """Normalized text -> unit ids (unknown characters map to <unk>)."""
        return [self._index.get(c, self.unk) for c in self._chars(text)]

    def unknown(self, text: str) -> list[str]:
        """The characters of normalized `text` that have no unit (what encode maps to <unk>)."""
        return [c for c in self._chars(text) if c not in self._index]

    def decode(self, ids: Iterable[int]) -> str:
        """Unit ids (blanks already removed) -> text; <unk> is dropped, `|` becomes a space."""
        chars = (self.units[i] for i in ids if i not in (self.blank, self.unk))
        return "".join(chars).replace(SPACE, " ").strip()
