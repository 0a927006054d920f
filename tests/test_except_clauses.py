"""Every `except` clause names something loaded when its module is imported (issue #11).

`except (OSError, websockets.exceptions.WebSocketException)` raised AttributeError at the moment it
was evaluated, because `import websockets` does not load the submodule: the reconnect loop died on
its first failure. Each module is imported alone in a fresh interpreter, as `saima run` would.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "bulletins", "campaign", "chat", "handlers", "scheduler", "storage", "web")

CHECK = """
import importlib, json, sys
module = importlib.import_module(sys.argv[1])
missing = []
for expression in json.loads(sys.argv[2]):
    try:
        eval(expression, vars(module))
    except (AttributeError, NameError) as error:
        missing.append(f"{expression}: {error}")
print(json.dumps(missing))
"""


def dotted_except_names(tree: ast.AST) -> list[str]:
    """The `a.b.c` expressions named by except clauses (plain names are checked by ruff's F821)."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            kinds = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
            names += [ast.unparse(kind) for kind in kinds if isinstance(kind, ast.Attribute)]
    return names


def module_name(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def modules_with_dotted_excepts() -> dict[str, list[str]]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            names = dotted_except_names(ast.parse(path.read_text(encoding="utf-8")))
            if names:
                found[module_name(path)] = sorted(set(names))
    return found


def unloaded(module: str, expressions: list[str], where: Path = ROOT) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", CHECK, module, json.dumps(expressions)],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


@pytest.mark.parametrize(("module", "expressions"), sorted(modules_with_dotted_excepts().items()))
def test_except_clause_names_are_loaded_by_the_import_alone(
    module: str, expressions: list[str]
) -> None:
    assert unloaded(module, expressions) == []


def test_the_check_catches_a_lazily_loaded_submodule(tmp_path: Path) -> None:
    """The check is not vacuous: the clause that killed the reconnect loop is reported."""
    source = "import websockets\ntry:\n    pass\nexcept (OSError, websockets.exceptions.WebSocketException):\n    pass\n"
    (tmp_path / "old_stream.py").write_text(source)
    names = dotted_except_names(ast.parse(source))
    assert names == ["websockets.exceptions.WebSocketException"]
    assert unloaded("old_stream", names, tmp_path) != []
