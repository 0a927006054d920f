"""The `saima` command line as other tools use it: real processes, a real database."""

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.cli import parse_moment
from campaign import Campaign
from storage import open_database
from storage.backup import sqlite_file
from tests.conftest import run_aside

ROOT = Path(__file__).resolve().parents[1]


def messages_stored(url: str) -> int:
    """Inbox rows in the database at `url` (0 for a SQLite file never created)."""
    path = sqlite_file(url)
    if path is not None and not path.exists():
        return 0

    async def count() -> int:
        database = open_database(url)
        try:
            async with database.engine.connect() as connection:
                if not await connection.run_sync(lambda c: sa.inspect(c).has_table("inbox")):
                    return 0
                return int(await connection.scalar(sa.text("SELECT count(*) FROM inbox")) or 0)
        finally:
            await database.close()

    return run_aside(count())


pytestmark = pytest.mark.slow  # every test here runs `python -m bot` as a subprocess


def saima(
    *args: str, env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "--env-file", "", *args],
        cwd=env["HOME"],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def env(tmp_path: Path, database_url: str, second_database_url: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "SAIMA_"))}
    return {
        **clean,
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "SAIMA_DATABASE_URL": database_url,
        "SAIMA_SANDBOX_DATABASE_URL": second_database_url,
        "SAIMA_ADMINS": "boss",
        "SAIMA_WEB_PORT": "0",  # the web sandbox beside the console: any free port
    }


def test_say_prints_the_reply_and_rank_json_reflects_it(env: dict[str, str]) -> None:
    posted = saima(
        "say",
        "--user",
        "head-nanhu",
        "--at",
        "2021-10-15T10:00:00+08:00",
        "/周报 实际利用外资=41200 高技术=20000",
        env=env,
    )
    assert posted.returncode == 0, posted.stderr
    assert "已收到报送 · 南湖区" in posted.stdout

    ranked = saima("rank", "--at", "2021-10-16", "--json", env=env)
    assert ranked.returncode == 0, ranked.stderr
    data = json.loads(ranked.stdout)
    assert data["as_of"] == "2021-10-17T00:00:00+08:00"
    assert data["mode"] == "interim" and data["reported"] == 1
    first = data["standings"][0]
    assert set(first) == {"rank", "entity", "total", "total_display", "items", "points"}
    assert first["entity"] == "南湖区" and first["rank"] == 1 and first["points"] is None
    assert set(first["items"]) == {"completion", "excess", "hightech", "bigproject"}
    assert isinstance(first["total"], float)
    assert abs(first["total"] - sum(first["items"].values())) < 1e-9
    # Full precision in "total"; "total_display" is the figure /排名 and the bulletins print.
    assert first["total_display"] == f"{first['total']:.2f}"
    text = saima("rank", "--at", "2021-10-16", env=env).stdout
    assert f"**南湖区** {first['total_display']}分" in text

    final = json.loads(saima("rank", "--at", "2021-11-30", "--json", env=env).stdout)
    assert final["mode"] == "final"
    assert next(row["points"] for row in final["standings"]) == 0.5


def test_a_date_alone_is_that_day_for_a_message_and_as_of_it(env: dict[str, str]) -> None:
    """2021-08-08 is a Sunday: a post said on it belongs to its week (W31), not Monday's."""
    posted = saima(
        "say", "--user", "head-nanhu", "--at", "2021-08-08", "/周报 实际利用外资=22000", env=env
    )
    assert posted.returncode == 0 and "已收到报送 · 南湖区" in posted.stdout, posted.stdout
    history = saima("say", "--user", "mayor", "--at", "2021-08-20", "/历史 南湖区", env=env)
    assert "08-08 12:00" in history.stdout, history.stdout
    ranked = json.loads(saima("rank", "--at", "2021-08-08", "--json", env=env).stdout)
    assert ranked["as_of"] == "2021-08-09T00:00:00+08:00" and ranked["reported"] == 1
    week = saima("say", "--user", "mayor", "--at", "2021-08-09T10:00", "/周比", env=env)
    assert "8月1日–8月8日（第31周）" in week.stdout and "本周报送 1/9" in week.stdout
    assert "本周 +144 · 累计 22,000" in week.stdout


@pytest.mark.parametrize("written", ["2021-08-08", "20210808", " 2021-08-08 ", "2021-W31-7"])
def test_every_way_of_writing_a_date_alone_is_that_day(written: str, campaign: Campaign) -> None:
    """As of a date (rank, push): the whole day, up to the next midnight; said on it (say): noon."""
    assert parse_moment(written, campaign) == datetime.fromisoformat("2021-08-09T00:00+08:00")
    noon = parse_moment(written, campaign, message=True)
    assert noon == datetime.fromisoformat("2021-08-08T12:00+08:00")


def test_a_time_without_a_zone_is_the_campaigns_and_nonsense_is_refused(
    campaign: Campaign,
) -> None:
    for written in ("2021-08-08T23:59:59", "2021-08-08 23:59:59"):
        moment = parse_moment(written, campaign, message=True)
        assert moment == datetime.fromisoformat("2021-08-08T23:59:59+08:00")
    assert parse_moment("2021-08-08T16:00Z", campaign) == datetime.fromisoformat(
        "2021-08-09T00:00+08:00"
    )
    with pytest.raises(SystemExit, match="expected a date"):
        parse_moment("8月8日", campaign)


def test_say_refusal_still_exits_zero_and_admins_come_from_env(env: dict[str, str]) -> None:
    refused = saima("say", "--user", "nobody", "/周报 实际利用外资=1", env=env)
    assert refused.returncode == 0 and "不是本群赛马成员" in refused.stdout
    on_behalf = saima(
        "say",
        "--user",
        "boss",
        "--nick",
        "局长",
        "--at",
        "2021-10-15T10:00:00+08:00",
        "/周报 南湖区 实际利用外资=41200",
        env=env,
    )
    assert on_behalf.returncode == 0 and "南湖区" in on_behalf.stdout


def test_broken_campaign_file_fails_with_the_key(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[campaign]\nid = 'x'\n", encoding="utf-8")
    result = saima("rank", env={**env, "SAIMA_CAMPAIGN": str(bad)})
    assert result.returncode == 2
    assert (
        "bad.toml" in result.stderr
        and "campaign.start" in result.stderr
        and "a date" in result.stderr
    )


def test_console_sandbox_runs_a_conversation_from_stdin(env: dict[str, str]) -> None:
    script = (
        "/排名\n/as 南湖区\n/周报 实际利用外资=99999 高技术=40000\n/确认\n/进度\n/as mayor\n/未报\n"
        "/退出\n"
    )
    result = saima("run", env=env, stdin=script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "本地沙盒" in out
    assert "有数据 9/9" in out  # the demo season is there on first start
    assert "你现在是 南湖区负责人" in out
    # A jump far above the unit's pace is held, then stored on /确认.
    assert "增幅异常，待确认" in out
    assert "已收到报送 · 南湖区" in out and "99,999万美元" in out
    assert "南湖区 · 进度" in out
    assert "本周未报" in out  # the sandbox clock is Monday 2021-08-30: the week has just begun
    assert messages_stored(env["SAIMA_SANDBOX_DATABASE_URL"]) > 0
    assert messages_stored(env["SAIMA_DATABASE_URL"]) == 0  # the sandbox keeps to its own

    again = saima("run", env=env, stdin="/进度 南湖区\n")
    assert "99,999万美元" in again.stdout  # same sandbox database; the demo is not re-seeded


def test_campaign_check_exits_0_on_a_valid_file_and_names_the_line_of_a_typo(
    env: dict[str, str], tmp_path: Path
) -> None:
    good = saima("campaign", "check", str(ROOT / "campaigns" / "fdi-2021.toml"), env=env)
    assert good.returncode == 0, good.stderr
    assert "有效 · fdi-2021" in good.stdout and "评分规则 4，共 100 分：" in good.stdout
    typo = tmp_path / "draft.toml"
    text = (ROOT / "docs" / "examples" / "minimal.toml").read_text(encoding="utf-8")
    typo.write_text(text.replace("pro_rata_from = 0", "prorata_from = 0"), encoding="utf-8")
    bad = saima("campaign", "check", str(typo), env=env)
    assert bad.returncode == 2
    assert f"{typo}, line 33: rules[1].prorata_from:" in bad.stderr
    assert "did you mean pro_rata_from?" in bad.stderr


def test_campaign_check_refuses_two_units_written_alike(
    env: dict[str, str], tmp_path: Path
) -> None:
    draft = tmp_path / "draft.toml"
    text = (ROOT / "campaigns" / "fdi-2021.toml").read_text(encoding="utf-8")
    draft.write_text(text.replace('["秀洲"]', '["秀洲", "嘉兴经济技术开发区"]'), encoding="utf-8")
    bad = saima("campaign", "check", str(draft), env=env)
    assert bad.returncode == 2
    assert "'嘉兴经济技术开发区' names both" in bad.stderr


def test_import_reports_exits_non_zero_on_a_bad_row_and_stores_all_rows_otherwise(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "history.csv"
    path.write_text("unit,reported_at,fdi\n南湖区,2021-08-06,23000\n南胡区,2021-08-06,1\n")
    refused = saima("import", "reports", str(path), "--by", "clerk", env=env)
    assert refused.returncode == 2
    assert "第3行：未知单位“南胡区”" in refused.stderr
    path.write_text("unit,reported_at,fdi\n南湖区,2021-08-06,23000\n")
    done = saima("import", "reports", str(path), "--by", "clerk", env=env)
    assert done.returncode == 0, done.stderr
    assert "已导入 1 行（fdi-2021，导入人 clerk）" in done.stdout
