"""Mozilla Common Voice (a release's language folder) -> train/dev/test Kaldi-style data dirs.

The folder holds train.tsv, dev.tsv and test.tsv (tab-separated, with a header: client_id,
path, sentence, up_votes, down_votes, ...) and clips/*.mp3. A clip counts as validated, as in
the release, when at least two people voted it up and more voted up than down; the others are
skipped with their votes. MP3 is read through soundfile's libsndfile (1.1 or newer).
"""

from __future__ import annotations

import csv
from pathlib import Path

import soundfile as sf

from asr.corpora.common import Entry, Report, write_corpus
from asr.errors import UserError

SPLITS = ("train", "dev", "test")


def _votes(row: dict, key: str) -> int:
    try:
        return int(row.get(key) or 0)
    except ValueError:
        return 0


def prepare_commonvoice(corpus_dir: str | Path, out_dir: str | Path) -> list[Report]:
    root = Path(corpus_dir)
    tsvs = [root / f"{s}.tsv" for s in SPLITS if (root / f"{s}.tsv").is_file()]
    if not tsvs:
        raise UserError(
            f"{root}: no train.tsv, dev.tsv or test.tsv; point to a Common Voice language folder (e.g. cv-corpus-*/nl)"
        )
    if "MP3" not in sf.available_formats():
        raise UserError(
            f"this soundfile's libsndfile ({sf.__libsndfile_version__}) cannot read MP3: "
            "pip install -U soundfile (its wheels bundle libsndfile 1.1+, which can)"
        )
    reports = []
    csv.field_size_limit(1 << 20)
    for tsv in tsvs:
        report = Report(Path(out_dir) / tsv.stem)
        entries = []
        with open(tsv, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
            missing = {"path", "sentence"} - set(reader.fieldnames or ())
            if missing:
                raise UserError(f"{tsv}: no {' or '.join(sorted(missing))} column; is this a Common Voice TSV?")
            for row in reader:
                clip = root / "clips" / row["path"]
                uid = Path(row["path"]).stem
                up, down = _votes(row, "up_votes"), _votes(row, "down_votes")
                if up < 2 or up <= down:
                    report.skip(uid, clip, f"not validated: {up} up, {down} down votes")
                    continue
                entries.append(Entry(uid, clip, row["sentence"], row.get("client_id") or None))
        reports.append(write_corpus(report.out_dir, entries, report))
    return reports
