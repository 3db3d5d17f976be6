"""The package's shape: no import cycles, short functions, decoding flags declared once, and
decoding settings resolved by one rule."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from asr.decoding import DecodeConfig
from asr.errors import UserError
from asr.recognizer import resolve_decoding
from conftest import ROOT, run_asr

PACKAGE = ROOT / "asr"
LONGEST = 60  # lines per function, docstring included


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(source: str, me: str, modules: set[str]) -> set[str]:
    """The package's modules that module `me` (its `source`) imports anywhere (functions too),
    but for those under `if TYPE_CHECKING:`. `from pkg import sub` counts the submodule only."""
    found = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                subs = {f"{child.module}.{a.name}" for a in child.names} & modules
                found.update(subs or {child.module})
            visit(child)

    visit(ast.parse(source))
    return (found & modules) - {me}


def test_no_import_cycles():
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {m: imported(p.read_text(encoding="utf-8"), m, set(paths)) for m, p in paths.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(m: str) -> None:
        state[m] = 1
        path.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(n) :] + [n]))
            if n not in state:
                walk(n)
        path.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            walk(m)
    assert {"asr.recognizer", "asr.transcribe", "asr.transcript", "asr.forked"} <= set(graph)


def test_the_checker_sees_a_cycle():
    """The cycle check is not vacuous: an import inside a function counts, TYPE_CHECKING's not."""
    modules = {"asr.a", "asr.b", "asr.c"}
    assert imported("from asr.b import x\n", "asr.a", modules) == {"asr.b"}
    assert imported("def f():\n    import asr.a\n", "asr.b", modules) == {"asr.a"}
    assert imported("if TYPE_CHECKING:\n    from asr.a import A\n", "asr.c", modules) == set()
    assert imported("from asr import a\nfrom asr.b import f\n", "asr.c", modules | {"asr"}) == {"asr.a", "asr.b"}


def test_no_function_is_longer_than_60_lines():
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > LONGEST:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, long


def test_decoding_flags_are_declared_once_and_offered_by_every_decoding_command():
    flags = ["--decode", "--decoder", "--beam", "--lm", "--alpha", "--beta", "--hotwords", "--hotword-boost"]
    declared = [p for p in (PACKAGE / "cli").glob("*.py") if '"--hotword-boost"' in p.read_text()]
    assert [p.name for p in declared] == ["options.py"]
    for command in ("transcribe", "evaluate", "serve"):
        res = run_asr(command, "--help")
        assert res.returncode == 0, res.stderr
        assert all(f"  {flag} " in res.stdout for flag in flags), (command, res.stdout)


BASE = DecodeConfig()


@pytest.mark.parametrize(
    ("file", "flags", "expected"),
    [
        ({}, {}, {"decoder": BASE.decoder}),
        ({}, {"lm": "x.arpa"}, {"decoder": "beam", "lm": "x.arpa"}),  # an LM means the beam
        ({}, {"hotwords": ["台北"]}, {"decoder": "beam"}),  # phrases too
        ({}, {"beam": 4}, {"decoder": "beam", "beam": 4}),  # and a beam width
        ({"decoder": "greedy", "beam": 4}, {"lm": "x.arpa"}, {"decoder": "beam", "beam": 4}),  # the flag asks
        ({"lm": "x.arpa"}, {}, {"decoder": "beam"}),  # a file's LM without its decoder
        ({"lm": "x.arpa"}, {"decoder": "greedy"}, {"decoder": "greedy"}),  # a flag's decoder over the file's LM
        (
            {"beam": 4, "alpha": 0.3, "lm": "x.arpa"},
            {"alpha": 0.7, "beta": None},
            {"beam": 4, "alpha": 0.7, "beta": BASE.beta},
        ),
    ],
)
def test_decoding_settings_resolve_by_one_rule(tmp_path, file, flags, expected):
    import yaml

    path = None
    if file:
        path = tmp_path / "decode.yaml"
        path.write_text(yaml.safe_dump(file))
    settings, phrases = resolve_decoding(BASE, path, **flags)
    assert {k: getattr(settings, k) for k in expected} == expected
    assert phrases == flags.get("hotwords")


@pytest.mark.parametrize(
    ("file", "flags", "message"),
    [
        ({}, {"lm": "x.arpa", "decoder": "greedy"}, "lm: only the beam search"),
        ({}, {"hotwords": ["台北"], "decoder": "greedy"}, "hotwords: only the beam search"),
        ({"decoder": "greedy", "lm": "x.arpa"}, {}, "lm: only the beam search"),
        ({}, {"alpha": 2.0}, "alpha weighs an LM"),
        ({}, {"slots": "x.pt"}, "unknown decoding option.*slots.*known: alpha"),
    ],
)
def test_contradictory_decoding_settings_are_refused(tmp_path, file, flags, message):
    import yaml

    path = None
    if file:
        path = tmp_path / "decode.yaml"
        path.write_text(yaml.safe_dump(file))
    with pytest.raises(UserError, match=message):
        resolve_decoding(BASE, path, **flags)
