"""Corpus layouts -> Kaldi-style data dirs (one module per corpus)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from asr.errors import UserError, located

if TYPE_CHECKING:
    from asr.config import DataConfig, Recipe

log = logging.getLogger("asr.train")


def _missing(data: DataConfig) -> list[str]:
    """The recipe's train and dev data dirs that do not exist yet."""
    return [d for d in (data.train, data.dev) if not (Path(d) / "wav.scp").is_file()]


def ensure_data(recipe: Recipe) -> None:
    """Make sure the recipe's data dirs exist, preparing them from the corpus when it names one."""
    data = recipe.data
    if not _missing(data):
        return
    out = Path(data.train).parent
    if data.corpus == "aishell":
        from asr.corpora.aishell import prepare_aishell

        for report in prepare_aishell(data.corpus_dir or "data/aishell", out):
            log.info(f"prepared {report.line()}")
        return
    if data.corpus in ("librispeech", "commonvoice"):
        if not data.corpus_dir:
            raise UserError(f"data.corpus: {data.corpus} needs data.corpus_dir (where the corpus is)")
        if data.corpus == "librispeech":
            from asr.corpora.librispeech import prepare_librispeech as prepare
        else:
            from asr.corpora.commonvoice import prepare_commonvoice as prepare
        for report in prepare(data.corpus_dir, out):
            log.info(f"prepared {report.line()}")
        missing = _missing(data)
        if missing:
            raise UserError(f"data dir {located(missing[0])} not among those prepared from {data.corpus_dir}")
        return
    if data.corpus is not None:
        raise UserError(f"data.corpus: expected aishell, librispeech or commonvoice, got {data.corpus!r}")
    missing = _missing(data)
    hint = ""
    if "demo" in missing[0]:
        hint = " (generate the demo corpus with: asr prepare demo data/demo)"
    elif "fillets_cs" in missing[0]:
        hint = f" (build the Czech corpus with: asr prepare fillets-cs {Path(missing[0]).parent})"
    raise UserError(f"data dir {located(missing[0])} not found{hint}")
