"""The suite under the CPU kernel settings that round like other machines do, one run each:
pass/fail per setting, and the margins the learning tests record (record_property).

    python tests/matrix.py [--only NAME ...] [-- PYTEST ARGS]

ATEN_CPU_CAPABILITY picks torch's vector kernels (default: no SIMD, avx2, avx512),
MKL_ENABLE_INSTRUCTIONS=AVX2 caps MKL's, MKL_CBWR=COMPATIBLE asks MKL for its portable paths;
the last setting is what CI's reviewers run once (no SIMD, one thread). Results go to
exp/test-matrix/ (a JUnit XML file per setting) and a table on stdout.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {
    "aten-default": {"ATEN_CPU_CAPABILITY": "default"},
    "aten-avx2": {"ATEN_CPU_CAPABILITY": "avx2"},
    "aten-avx512": {"ATEN_CPU_CAPABILITY": "avx512"},
    "mkl-avx2": {"MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "mkl-compatible": {"MKL_CBWR": "COMPATIBLE"},
    "default-1-thread": {"ATEN_CPU_CAPABILITY": "default", "OMP_NUM_THREADS": "1"},
}


def summary(xml: Path) -> tuple[dict, list[tuple[str, str, str]]]:
    """({tests, failures, errors, skipped, time}, [(test, property, value)]) of a JUnit XML file."""
    suite = ET.parse(xml).getroot().find("testsuite")
    counts = {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped", "time")}
    props = []
    for case in suite.iter("testcase"):
        for p in case.iter("property"):
            props.append((case.get("name"), p.get("name"), p.get("value")))
    return counts, props


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=list(SETTINGS), help="run these settings only")
    parser.add_argument("pytest_args", nargs="*", help="after --: passed to pytest (e.g. -k train)")
    args = parser.parse_args()
    out = ROOT / "exp" / "test-matrix"
    out.mkdir(parents=True, exist_ok=True)
    rows, failed = [], False
    for name in args.only or SETTINGS:
        xml = out / f"{name}.xml"
        started = time.monotonic()
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "junit_family=legacy"]
        cmd += [f"--junitxml={xml}", *args.pytest_args]
        code = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **SETTINGS[name]}).returncode
        counts, props = summary(xml)
        failed |= code != 0
        rows.append((name, code, time.monotonic() - started, counts, props))
    print("\n| setting | result | tests | failed | skipped | minutes |\n|---|---|---|---|---|---|")
    for name, code, seconds, c, _ in rows:
        bad = int(c["failures"]) + int(c["errors"])
        print(
            f"| {name} | {'pass' if code == 0 else 'FAIL'} | {c['tests']} | {bad} | {c['skipped']} | {seconds / 60:.1f} |"
        )
    keys = sorted({(t, p) for *_, props in rows for t, p, _ in props})
    if keys:
        print("\n| learning test: measured | " + " | ".join(r[0] for r in rows) + " |")
        print("|---" * (len(rows) + 1) + "|")
        for t, p in keys:
            values = [next((v for tt, pp, v in r[4] if (tt, pp) == (t, p)), "-") for r in rows]
            shown = [f"{float(v):.4g}" if v != "-" else v for v in values]
            print(f"| {t}: {p} | " + " | ".join(shown) + " |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
