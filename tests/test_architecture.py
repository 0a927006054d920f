"""Import boundaries: the core stays pure and data flows one way (STYLE 3.4, issues #8, #28).

Every module belongs to one layer; a layer may import only the layers listed for it. The
composition root (bot/ but its DingTalk transport and settings) is the only place that wires
features in. No two modules import each other, even for type checking, and only storage/ talks SQL.
"""

import ast
import re
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "bulletins", "campaign", "chat", "handlers", "scheduler", "storage", "web")

# Longest prefix wins: `bot.dingtalk.stream` is in "dingtalk", `bot.app` in "root".
LAYERS = {
    "campaign": "campaign",
    "storage": "storage",
    "chat": "chat",
    "bulletins": "bulletins",
    "handlers": "handlers",
    "scheduler": "scheduler",
    "web": "web",
    "bot.config": "config",
    "bot.dingtalk": "dingtalk",
    "bot": "root",  # the composition root: app, cli, campaign checks, imports, the sandboxes
}

# What each layer may import besides itself; everything else is forbidden. Read bottom-up: the
# pure domain, storage, the chat core, the use cases (bulletins, handlers), their triggers
# (scheduler), the web desk and the DingTalk transport, and the root that wires them together.
ALLOWED = {
    "campaign": set(),
    "config": set(),
    "storage": {"campaign"},
    "chat": {"campaign", "storage"},
    "bulletins": {"campaign", "storage", "chat"},
    "handlers": {"campaign", "storage", "chat", "bulletins"},
    "scheduler": {"campaign", "chat", "bulletins"},
    "web": {"campaign", "storage", "chat", "bulletins", "handlers"},
    "dingtalk": {"campaign", "storage", "chat", "config"},
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
        ("chat.pipeline", "handlers.texts"),
        ("bot.dingtalk.inbound", "bot.app"),
        ("bot.dingtalk.stream", "bulletins.service"),
        ("handlers.reports", "bot.dingtalk.sender"),
        ("handlers.bulletins", "scheduler.jobs"),
        ("bulletins.compose", "handlers.standings"),
        ("scheduler.build", "handlers.bulletins"),
        ("storage.repositories", "chat.messages"),
        ("campaign.ranking", "storage"),
    ],
)
def test_a_forbidden_edge_would_be_caught(module: str, imported: str) -> None:
    """The rules above are not vacuous: each of these edges, if someone added it, fails them."""
    source, target = layer_of(module), layer_of(imported)
    assert source is not None and target is not None
    assert target != source and target not in ALLOWED[source]


# Only storage/ talks SQL: ORM rows, sessions, SQLAlchemy and the database drivers stay behind the
# repositories, which return frozen values (issue #8). The composition root gets a Database and
# repositories too.
STORAGE_INTERNALS = ("storage.models", "sqlalchemy", "alembic", "sqlite3", "aiosqlite", "asyncpg")


def leaks_storage_internals(module: str, imported: str) -> bool:
    """True when a module outside storage/ imports the ORM models, SQLAlchemy, Alembic or a
    database driver."""
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
        ("chat.pipeline", "storage.models", True),
        ("chat.context", "sqlalchemy.ext.asyncio", True),
        ("bot.dingtalk.outbox", "sqlalchemy.exc", True),
        ("bot.dingtalk.outbox", "storage.models", True),
        ("bot.app", "sqlalchemy", True),
        ("bot.sandbox.console", "storage.models", True),
        ("campaign.membership", "sqlalchemy", True),
        ("bot.sandbox.reset", "sqlite3", True),
        ("web.health", "asyncpg", True),
        ("bot.dingtalk.outbox", "aiosqlite", True),
        ("handlers.admin", "storage", False),
        ("bot.dingtalk.outbox", "storage.outbox", False),
        ("handlers.projects", "storage.modelsx", False),
        ("storage.repositories", "storage.models", False),
        ("storage.outbox", "sqlalchemy.exc", False),
        ("storage.backup", "sqlite3", False),
        ("bot.cli", "sqlite3_helpers", False),
        ("storage.migrations.versions.0001_core", "alembic", False),
    ],
)
def test_a_storage_leak_would_be_caught(module: str, imported: str, leaks: bool) -> None:
    """The rule above is not vacuous: it flags exactly the imports it should."""
    assert leaks_storage_internals(module, imported) is leaks


def test_no_project_code_imports_requests() -> None:
    bad = [(m, i) for p in PACKAGES for m, i in imports(p) if i.split(".")[0] == "requests"]
    assert bad == []


# ---- no circles: between top-level packages and between modules, TYPE_CHECKING included ----


def module_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (`from a import b` is a.b when that is a module)."""
    known = {
        module_name(path)
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    }

    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {module: set() for module in known}
    for module, imported in own_imports():
        target = resolve(imported)
        # A package's own __init__ is not an import of the package by its modules.
        if module in graph and target and target != module and not module.startswith(f"{target}."):
            graph[module].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while (member := stack.pop()) != node:
                component.append(member)
            if component:
                found.append(sorted([node, *component]))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    top: dict[str, set[str]] = {}
    for module, targets in graph.items():
        for target in targets:
            if module.split(".")[0] != target.split(".")[0]:
                top.setdefault(module.split(".")[0], set()).add(target.split(".")[0])
    return top


def test_no_two_top_level_packages_import_each_other() -> None:
    assert cycles(package_graph(module_graph())) == []


def test_no_two_modules_import_each_other() -> None:
    assert cycles(module_graph()) == []


def test_a_cycle_would_be_caught() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert cycles(graph) == [["a", "b", "c"]]


@pytest.mark.parametrize("package", ["handlers", "bulletins", "scheduler"])
def test_use_cases_import_nothing_from_the_composition_root(package: str) -> None:
    assert [(m, i) for m, i in imports(package) if i.split(".")[0] == "bot"] == []


# ---- only storage/ talks SQL: no session, engine or statement outside it ----

SQL_HANDLES = {"sessionmaker", "engine", "execute", "scalar", "scalars", "AsyncSession"}
# A statement spelled out as text (upper case, as storage/ writes them), for a driver to run.
SQL_TEXT = re.compile(
    r"\s*(SELECT|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|(CREATE|ALTER|DROP)\s+(TABLE|INDEX)"
    r"|PRAGMA)\b"
)


def sql_in(source: str) -> list[str]:
    """Every session, engine or statement handle the source touches (held privately, as
    `self._engine`, too) and "SQL text" for every statement it spells out."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if SQL_TEXT.match(node.value):
                found.append("SQL text")
            continue
        if isinstance(node, ast.Attribute):
            name = node.attr
        elif isinstance(node, ast.Name):
            name = node.id
        elif isinstance(node, ast.arg):
            name = node.arg
        else:
            continue
        if name.lstrip("_") in SQL_HANDLES:
            found.append(name)
    return found


def sql_uses(package: str) -> list[tuple[str, str]]:
    """(module, handle) for every session, engine or statement in the package's files."""
    return [
        (module_name(path), use)
        for path in (ROOT / package).rglob("*.py")
        for use in sql_in(path.read_text(encoding="utf-8"))
    ]


@pytest.mark.parametrize("package", [p for p in PACKAGES if p != "storage"])
def test_only_storage_opens_sessions_or_runs_statements(package: str) -> None:
    assert sql_uses(package) == []


def test_storage_is_seen_talking_sql() -> None:
    """The search above finds what it looks for where it is meant to be."""
    assert {"sessionmaker", "engine", "execute", "scalar", "SQL text"} <= {
        use for _, use in sql_uses("storage")
    }


@pytest.mark.parametrize(
    ("source", "caught"),
    [
        ("async with database.sessionmaker.begin() as session:\n    pass", True),
        ("self._sessionmaker = factory", True),
        ("def __init__(self, sessionmaker): pass", True),
        ("shared = app.database.engine.dialect.name != 'sqlite'", True),
        ("lock = leader_lock(app.database.engine)", True),
        ("await self._engine.dispose()", True),
        ("await session.execute(statement)", True),
        ("row = await repos.outbox.session.scalar(query)", True),
        ("COUNT = 'SELECT count(*) FROM outbox'", True),
        ("cursor.run('DELETE FROM inbox')", True),
        ("cursor.run('  UPDATE app_state SET value = ?')", True),
        (
            "async with database.outbox(write=True) as outbox:\n    await outbox.claim(row_id)",
            False,
        ),
        (
            "async with database.write(campaign_id) as repos:\n    await repos.state.set(KEY, 1)",
            False,
        ),
        ("shared = app.database.is_shared", False),
        ("lock = leader_lock(app.database)", False),
        ("session = self.session(request)", False),  # the dashboard's sign-in
        ("await self._session.post(url, json=body)", False),  # the shared HTTP client
        ("hint = 'Select a campaign, then update the targets'", False),
    ],
)
def test_a_session_engine_or_statement_would_be_caught(source: str, caught: bool) -> None:
    """The rule above is not vacuous: it flags exactly the code it should."""
    assert bool(sql_in(source)) is caught


# ---- small functions: none above cyclomatic complexity 20 (radon's count, issue #28) ----

MAX_COMPLEXITY = 20


def complexity_over(limit: int, source: str) -> list[tuple[str, int]]:
    from radon.complexity import cc_visit

    found = []
    for block in cc_visit(source):
        for item in [block, *getattr(block, "methods", [])]:
            if item.complexity > limit:
                found.append((item.name, item.complexity))
    return found


def test_no_function_is_more_complex_than_twenty() -> None:
    bad = [
        (module_name(path), name, score)
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
        for name, score in complexity_over(MAX_COMPLEXITY, path.read_text(encoding="utf-8"))
    ]
    assert bad == []


def test_a_complex_function_would_be_caught() -> None:
    branches = "".join(f"    if x == {n}:\n        return {n}\n" for n in range(MAX_COMPLEXITY))
    assert complexity_over(MAX_COMPLEXITY, f"def f(x):\n{branches}    return -1\n") == [("f", 21)]


# ---- README's map: every module of the production code is in "Where things live" ----


def test_every_module_is_on_the_readme_map() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Where things live", 1)[1].split("\n## ", 1)[0]
    missing = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts or path.name in ("__init__.py", "__main__.py"):
                continue
            # a module of a sub-package (campaign/rules/, handlers/texts/) is covered by its folder
            folder = f"{path.parent.name}/" if path.parent != ROOT / package else path.name
            if path.name not in section and folder not in section:
                missing.append(str(path.relative_to(ROOT)))
    assert missing == []
