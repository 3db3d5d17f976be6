"""The documentation's shape: README.md stays a user's guide, a measured figure or a paragraph of
prose lives in one file, and every relative link resolves.

The files: README.md, docs/*.md, bench/RESULTS.md and experiments/*.md. A paragraph is a block of
lines between blank lines, outside code fences; the inside of a fence is commands to copy, which
may rightly repeat, and is skipped. A paragraph counts as long when it has more than two lines, or
more than 200 characters (two lines' worth: the benchmark scripts write notes on single long lines).
Paragraphs are compared with their whitespace collapsed, so rewrapping does not hide a copy.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README_MAX_LINES = 300
LONG_CHARS = 200

FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]\n]*\]\(([^()\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def doc_files() -> list[Path]:
    files = [ROOT / "README.md", ROOT / "bench" / "RESULTS.md"]
    files += sorted((ROOT / "docs").glob("*.md")) + sorted((ROOT / "experiments").glob("*.md"))
    return [f for f in files if f.is_file()]


def prose_lines(text: str) -> list[str]:
    """The lines of a Markdown text with every code fence's lines (fences included) made blank."""
    out, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            out.append("")
        else:
            out.append("" if fenced else line)
    return out


def paragraphs(text: str) -> list[list[str]]:
    """Blank-line separated blocks of prose lines (code fences left out)."""
    blocks, block = [], []
    for line in prose_lines(text) + [""]:
        if line.strip():
            block.append(line)
        elif block:
            blocks.append(block)
            block = []
    return blocks


def all_paragraphs(text: str) -> dict[str, tuple[int, str]]:
    """Every paragraph by its whitespace-collapsed text -> (its number of lines, its first line)."""
    found: dict[str, tuple[int, str]] = {}
    for block in paragraphs(text):
        flat = " ".join(" ".join(block).split())
        lines, first = found.get(flat, (0, block[0].strip()))
        found[flat] = (max(lines, len(block)), first)
    return found


def duplicates(texts: dict[str, str]) -> list[str]:
    """One line per long paragraph found in more than one of `texts` (name -> Markdown); long in any
    one of them is long (a copy written on one line is still a copy)."""
    where: dict[str, list[str]] = defaultdict(list)
    lines: dict[str, int] = defaultdict(int)
    first: dict[str, str] = {}
    for name, text in texts.items():
        for flat, (n, line) in all_paragraphs(text).items():
            where[flat].append(name)
            lines[flat] = max(lines[flat], n)
            first.setdefault(flat, line)
    return [
        f"{' and '.join(names)}: {first[flat][:80]!r}"
        for flat, names in where.items()
        if len(names) > 1 and (lines[flat] > 2 or len(flat) > LONG_CHARS)
    ]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: link text kept, lower case, punctuation dropped, spaces -> '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    seen: dict[str, int] = defaultdict(int)
    out = set()
    for line in prose_lines(text):
        m = HEADING.match(line)
        if m:
            base = slug(m.group(2))
            out.add(base if seen[base] == 0 else f"{base}-{seen[base]}")
            seen[base] += 1
    return out


def broken_links(path: Path) -> list[str]:
    """Relative links (and images) of a Markdown file whose file, or heading anchor, is missing."""
    text = path.read_text(encoding="utf-8")
    prose = INLINE_CODE.sub("", "\n".join(prose_lines(text)))
    bad = []
    for target in LINK.findall(prose):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            bad.append(f"{path.relative_to(ROOT)}: {target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest.read_text(encoding="utf-8")):
            bad.append(f"{path.relative_to(ROOT)}: {target} (no such heading)")
    return bad


def test_readme_is_short():
    lines = len((ROOT / "README.md").read_text(encoding="utf-8").splitlines())
    assert lines <= README_MAX_LINES, (
        f"README.md has {lines} lines (at most {README_MAX_LINES}): it is a user's guide; "
        "measured figures go to docs/results.md, experiments to experiments/"
    )


def test_no_paragraph_in_two_files():
    texts = {str(f.relative_to(ROOT)): f.read_text(encoding="utf-8") for f in doc_files()}
    found = duplicates(texts)
    assert not found, "paragraphs copied between files (keep one, link to it):\n" + "\n".join(found)


def test_duplicate_check_catches_a_copy():
    para = "A paragraph of three lines\nthat one file holds and another\ncopies, rewrapped."
    assert duplicates({"a.md": f"# A\n\n{para}\n", "b.md": f"# B\n\n{' '.join(para.split())}\n"})
    assert not duplicates({"a.md": f"{para}\n", "b.md": f"```\n{para}\n```\n"})  # code fences may repeat
    assert not duplicates({"a.md": "one line\ntwo lines\n", "b.md": "one line\ntwo lines\n"})  # short


def test_relative_links_resolve():
    bad = [line for f in doc_files() for line in broken_links(f)]
    assert not bad, "broken links:\n" + "\n".join(bad)


def test_slug_is_githubs():
    assert slug("Which recurrent cell?") == "which-recurrent-cell"
    assert (
        slug("`asr prepare manifest` throughput (bench/prepare.py)") == "asr-prepare-manifest-throughput-benchpreparepy"
    )
    assert slug("A few hours of real speech") == "a-few-hours-of-real-speech"
