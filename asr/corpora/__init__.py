"""Corpus layouts -> Kaldi-style data dirs (one module per corpus)."""

from __future__ import annotations

import logging
from pathlib import Path

from asr.errors import UserError

log = logging.getLogger("asr.train")


def ensure_data(recipe) -> None:
    """Make sure the recipe's data dirs exist, preparing them from the corpus when it names one."""
    data = recipe.data
    if all((Path(d) / "wav.scp").is_file() for d in (data.train, data.dev)):
        return
    if data.corpus == "aishell":
        from asr.corpora.aishell import prepare_aishell

        out = Path(data.train).parent
        counts = prepare_aishell(data.corpus_dir or "data/aishell", out)
        log.info(f"prepared AISHELL-1 data dirs in {out} from {data.corpus_dir}: {counts}")
        return
    missing = [d for d in (data.train, data.dev) if not (Path(d) / "wav.scp").is_file()]
    hint = " (generate the demo corpus with: asr prepare demo data/demo)" if "demo" in missing[0] else ""
    raise UserError(f"data dir {missing[0]} not found{hint}")
