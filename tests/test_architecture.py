"""Import boundaries: the core stays pure and data flows one way (STYLE 3.4)."""

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OWN = {"bot", "campaign", "handlers", "storage", "scheduler"}


def imports(package: str) -> list[tuple[str, str]]:
    found = []
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [(str(path.relative_to(ROOT)), alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((str(path.relative_to(ROOT)), node.module))
    return found


def test_campaign_imports_only_the_standard_library_and_itself() -> None:
    bad = [
        (path, module)
        for path, module in imports("campaign")
        if module.split(".")[0] not in sys.stdlib_module_names
        and module.split(".")[0] != "campaign"
    ]
    assert bad == []


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("campaign", ("bot", "handlers", "storage", "scheduler")),
        ("storage", ("bot", "handlers", "scheduler")),
        ("handlers", ("bot.dingtalk", "bot.app", "bot.cli", "bot.pipeline", "scheduler")),
        ("scheduler", ("bot.app", "bot.cli", "bot.pipeline", "bot.sandbox")),
    ],
)
def test_packages_do_not_import_upstream(package: str, forbidden: tuple[str, ...]) -> None:
    bad = [
        (path, module)
        for path, module in imports(package)
        if any(module == f or module.startswith(f + ".") for f in forbidden)
    ]
    assert bad == []


def test_no_project_code_imports_requests() -> None:
    bad = [(p, m) for pkg in OWN for p, m in imports(pkg) if m.split(".")[0] == "requests"]
    assert bad == []
