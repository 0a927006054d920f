"""Start-up: heavy libraries load only where used, and a database at head skips Alembic."""

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from storage.db import alembic_config, head_revision

ROOT = Path(__file__).resolve().parents[1]
HEAVY = (
    "matplotlib",
    "aiohttp.web",
    "dingtalk_stream",
    "alembic",
    "apscheduler",
    # not heavy alone, but every cold start pays for them (issue #14: ≤ 1.5× the import baseline)
    "sqlalchemy.dialects.postgresql",
    "bulletins.service",
    "chinese_calendar",
)


def test_head_revision_is_alembics_head() -> None:
    assert [head_revision()] == ScriptDirectory.from_config(alembic_config()).get_heads()


@pytest.mark.slow
@pytest.mark.sqlite_only("the default store's cold start; PostgreSQL loads its own dialect")
def test_saying_a_command_loads_no_heavy_library(tmp_path: Path, database_url: str) -> None:
    """What `saima say … /帮助` loads, on a database that is already at head."""
    url = database_url
    code = f"""
import sys
from bot.cli import main
main(["say", "--user", "mayor", "/帮助"])
print(sorted(m for m in {HEAVY!r} if m in sys.modules))
"""
    env = {"PATH": "/usr/bin:/bin", "SAIMA_DATABASE_URL": url, "HOME": str(tmp_path)}
    first = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert first.returncode == 0, first.stderr
    second = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip().splitlines()[-1] == "[]"
