"""Import boundaries: the core stays pure and data flows one way (STYLE 3.4, issue #8).

Every module belongs to one layer; a layer may import only the layers listed for it. The
composition root (bot/app.py, bot/cli.py, bot/__main__.py and bot/sandbox/) is the only place
that wires features in.
"""

import ast
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "bulletins", "campaign", "handlers", "scheduler", "storage")

# Longest prefix wins: `bot.chat.pipeline` is in "chat", `bot.messages` in "core".
LAYERS = {
    "campaign": "campaign",
    "storage": "storage",
    "bot.messages": "core",
    "bot.errors": "core",
    "bot.clock": "core",
    "bot.config": "core",
    "bot": "core",  # bot/__init__.py: the version only
    "bot.chat": "chat",
    "bot.dingtalk": "dingtalk",
    "bot.web": "web",
    "bulletins": "bulletins",
    "handlers": "handlers",
    "scheduler": "scheduler",
    "bot.app": "root",
    "bot.cli": "root",
    "bot.campaign_check": "root",
    "bot.report_import": "root",
    "bot.__main__": "root",
    "bot.sandbox": "root",
}

# What each layer may import besides itself; everything else is forbidden.
ALLOWED = {
    "campaign": set(),
    "core": set(),
    "storage": {"campaign"},
    "chat": {"campaign", "core", "storage"},
    "dingtalk": {"core", "chat", "storage"},
    "web": {"campaign", "core", "chat", "dingtalk", "storage", "bulletins"},
    "bulletins": {"campaign", "core", "storage"},
    "handlers": {"campaign", "core", "chat", "storage", "bulletins"},
    "scheduler": {"campaign", "core", "bulletins"},
    "root": set(LAYERS.values()) - {"root"},
}


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        found = LAYERS.get(".".join(parts[:n]))
        if found is not None:
            return found
    return None


def module_name(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


@cache
def imports(package: str) -> list[tuple[str, str]]:
    """(module, imported module) for every absolute import in the package's files."""
    found = []
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        name = module_name(path)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [(name, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((name, node.module))
                # `from bot.sandbox import demo_season` imports the module bot.sandbox.demo_season
                found += [(name, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def own_imports() -> list[tuple[str, str]]:
    return [
        (module, imported)
        for package in PACKAGES
        for module, imported in imports(package)
        if imported.split(".")[0] in PACKAGES
    ]


def test_campaign_imports_only_the_standard_library_and_itself() -> None:
    bad = [
        (module, imported)
        for module, imported in imports("campaign")
        if imported.split(".")[0] not in sys.stdlib_module_names
        and imported.split(".")[0] != "campaign"
    ]
    assert bad == []


def test_every_module_belongs_to_a_layer() -> None:
    modules = {
        module_name(path)
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    }
    assert [m for m in sorted(modules) if layer_of(m) is None] == []


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_the_layers_below_it(layer: str) -> None:
    bad = []
    for module, imported in own_imports():
        if layer_of(module) != layer:
            continue
        target = layer_of(imported)
        if target is not None and target != layer and target not in ALLOWED[layer]:
            bad.append((module, imported))
    assert bad == []


def test_the_layers_form_a_directed_acyclic_graph() -> None:
    graph = {layer: set(allowed) for layer, allowed in ALLOWED.items()}
    seen: dict[str, str] = {}

    def visit(node: str) -> None:
        seen[node] = "open"
        for nxt in graph[node]:
            assert seen.get(nxt) != "open", f"cycle through {node} -> {nxt}"
            if nxt not in seen:
                visit(nxt)
        seen[node] = "done"

    for layer in graph:
        if layer not in seen:
            visit(layer)


@pytest.mark.parametrize(
    ("module", "imported"),
    [
        ("bot.chat.pipeline", "handlers.texts"),
        ("bot.dingtalk.inbound", "bot.app"),
        ("bot.dingtalk.stream", "bulletins.service"),
        ("handlers.reports", "bot.dingtalk.sender"),
        ("handlers.bulletins", "scheduler.jobs"),
        ("bulletins.compose", "handlers.standings"),
        ("scheduler.build", "handlers.bulletins"),
        ("storage.repositories", "bot.messages"),
        ("campaign.ranking", "storage"),
    ],
)
def test_a_forbidden_edge_would_be_caught(module: str, imported: str) -> None:
    """The rules above are not vacuous: each of these edges, if someone added it, fails them."""
    source, target = layer_of(module), layer_of(imported)
    assert source is not None and target is not None
    assert target != source and target not in ALLOWED[source]


# Only storage/ talks SQL: ORM rows, sessions and SQLAlchemy stay behind the repositories, which
# return frozen values (issue #8). The composition root gets a Database and repositories too.
STORAGE_INTERNALS = ("storage.models", "sqlalchemy", "alembic")


def leaks_storage_internals(module: str, imported: str) -> bool:
    """True when a module outside storage/ imports the ORM models, SQLAlchemy or Alembic."""
    if layer_of(module) == "storage":
        return False
    return any(imported == name or imported.startswith(f"{name}.") for name in STORAGE_INTERNALS)


def test_only_storage_imports_the_orm_models_or_sqlalchemy() -> None:
    bad = [(m, i) for p in PACKAGES for m, i in imports(p) if leaks_storage_internals(m, i)]
    assert bad == []


@pytest.mark.parametrize(
    ("module", "imported", "leaks"),
    [
        ("handlers.admin", "storage.models", True),
        ("handlers.projects", "sqlalchemy.ext.asyncio", True),
        ("bulletins.compose", "sqlalchemy", True),
        ("scheduler.jobs", "storage.models", True),
        ("bot.chat.pipeline", "storage.models", True),
        ("bot.chat.context", "sqlalchemy.ext.asyncio", True),
        ("bot.dingtalk.outbox", "sqlalchemy.exc", True),
        ("bot.dingtalk.outbox", "storage.models", True),
        ("bot.app", "sqlalchemy", True),
        ("bot.sandbox.console", "storage.models", True),
        ("campaign.membership", "sqlalchemy", True),
        ("handlers.admin", "storage", False),
        ("bot.dingtalk.outbox", "storage.outbox", False),
        ("handlers.projects", "storage.modelsx", False),
        ("storage.repositories", "storage.models", False),
        ("storage.outbox", "sqlalchemy.exc", False),
        ("storage.migrations.versions.0001_core", "alembic", False),
    ],
)
def test_a_storage_leak_would_be_caught(module: str, imported: str, leaks: bool) -> None:
    """The rule above is not vacuous: it flags exactly the imports it should."""
    assert leaks_storage_internals(module, imported) is leaks


def test_no_project_code_imports_requests() -> None:
    bad = [(m, i) for p in PACKAGES for m, i in imports(p) if i.split(".")[0] == "requests"]
    assert bad == []
