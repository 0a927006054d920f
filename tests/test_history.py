"""History tells the truth (issue #21, 5): /历史 lists every version at the time it was made (a
/更正 on 12-12 on 12-12, though it carries the corrected post's time and week, so it applies where
that post did), who made it, 报送/更正/导入, old → new and the reason, newest first, 10 lines.

Through the real pipeline on a real SQLite file; the rule "a correction replaces the version just
before it in the order versions count" is checked as a property over any run of posts and
corrections.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.app import App
from bot.report_import import import_reports
from storage import ReportVersion
from storage.report_version import newest_made, replaced_versions
from storage.standings import standings_at
from tests.conftest import Say

TZ = ZoneInfo("Asia/Shanghai")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def listed(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("- ")]


async def test_a_correction_is_listed_when_it_was_made_and_applies_where_its_post_did(
    app: App, say: Say
) -> None:
    for fdi, day in ((40000, "19"), (41000, "26")):
        posted = await say(
            "head-haining", f"/周报 实际利用外资={fdi}", at=f"2021-11-{day}T16:00:00+08:00"
        )
        assert posted is not None and "已收到报送" in posted.text
    # The closing figure on 12-05: a jump, held, stored by /确认 twenty minutes later.
    held = await say("head-haining", "/周报 实际利用外资=62000", at="2021-12-05T10:00:00+08:00")
    assert held is not None and "增幅异常，待确认" in held.text
    await say("head-haining", "/确认", at="2021-12-05T10:20:00+08:00")
    fixed = await say(
        "commerce",
        "/更正 海宁市 实际利用外资=47000 原因=外汇登记口径",
        at="2021-12-12T09:00:00+08:00",
    )
    assert fixed is not None and "62,000 → 47,000万美元" in fixed.text
    again = await say(
        "head-haining", "/更正 实际利用外资=47500 原因=补录一笔", at="2021-12-12T10:30:00+08:00"
    )
    assert again is not None and "47,000 → 47,500万美元" in again.text

    history = await say("mayor", "/历史 海宁市", at="2021-12-13T09:00:00+08:00")
    assert history is not None
    assert history.text == "\n".join(
        [
            "### 历史 · 海宁市",
            "- 12-12 10:30 更正 实际利用外资 47,000 → 47,500万美元（原因：补录一笔） · 海宁市负责人",
            "- 12-12 09:00 更正 实际利用外资 62,000 → 47,000万美元（原因：外汇登记口径） · 市商务局",
            "- 12-05 10:20 报送 实际利用外资 62,000万美元 · 海宁市负责人",
            "- 11-26 16:00 报送 实际利用外资 41,000万美元 · 海宁市负责人",
            "- 11-19 16:00 报送 实际利用外资 40,000万美元 · 海宁市负责人",
        ]
    )
    async with app.database.read(app.campaign.id) as repos:
        versions = await repos.reports.unit_versions("海宁市")
        at_close = await standings_at(app.campaign, repos, at("2021-12-11T00:00:00"))
    made = [(v.kind, v.week, v.reported_at, v.made_at) for v in versions]
    assert made[1:] == [
        ("post", "2021-W47", at("2021-11-26T16:00:00"), at("2021-11-26T16:00:00")),
        ("post", "2021-W48", at("2021-12-05T10:00:00"), at("2021-12-05T10:20:00")),
        ("correction", "2021-W48", at("2021-12-05T10:00:00"), at("2021-12-12T09:00:00")),
        ("correction", "2021-W48", at("2021-12-05T10:00:00"), at("2021-12-12T10:30:00")),
    ]
    # Made after close, the corrections still amend the closing figure the final result counts.
    assert at_close.row("海宁市").figures.values["fdi"] == 47500


async def test_imported_history_is_listed_at_the_import_with_its_own_dates(
    app: App, say: Say, tmp_path: Path
) -> None:
    fridays = [at("2021-08-06T00:00:00") + timedelta(weeks=n) for n in range(12)]  # … 10-22
    rows = [f"平湖市,{day:%Y-%m-%d},{32000 + 1000 * n}" for n, day in enumerate(fridays)]
    path = tmp_path / "平湖.csv"
    path.write_text("单位,报送时间,实际利用外资\n" + "\n".join(rows) + "\n", encoding="utf-8")
    imported = await import_reports(
        app.database, app.campaign, path, "clerk", at("2021-10-25T09:00:00")
    )
    assert imported == (12, [])
    await say("head-pinghu", "/周报 实际利用外资=44000", at="2021-10-29T10:00:00+08:00")
    history = await say("mayor", "/历史 平湖", at="2021-10-29T11:00:00+08:00")
    assert history is not None
    lines = listed(history.text)
    assert lines[:3] == [
        "- 10-29 10:00 报送 实际利用外资 44,000万美元 · 平湖市负责人",
        "- 10-25 09:00 导入（10-22报送）实际利用外资 43,000万美元 · clerk",
        "- 10-25 09:00 导入（10-15报送）实际利用外资 42,000万美元 · clerk",
    ]
    assert len(lines) == 10 and history.text.endswith("\n（仅列最近10条）")  # 13 in all


# ---- the rule, over any run of posts and corrections -------------------------------------------

START = datetime(2021, 8, 2, 9, tzinfo=TZ)


@st.composite
def runs(draw: st.DrawFn) -> list[ReportVersion]:
    """One unit's versions as the bot stores them: a post at its time, a correction at the time of
    the version it corrects (the unit's newest), each made a few minutes to days after the last."""
    versions: list[ReportVersion] = []
    moment, value = START, Decimal(20000)
    for index in range(draw(st.integers(1, 25))):
        moment += timedelta(minutes=draw(st.integers(1, 60 * 24 * 9)))
        is_correction = bool(versions) and draw(st.booleans())
        value += draw(st.integers(-3000, 3000))
        current = max(versions, key=lambda v: (v.reported_at, v.id)) if versions else None
        reported_at = current.reported_at if is_correction and current else moment
        versions.append(
            ReportVersion(
                id=index + 1,
                unit="南湖区",
                week="",
                reported_at=reported_at,
                staff_id="head-nanhu",
                kind="correction" if is_correction else "post",
                values={"fdi": value},
                posted={"fdi": value},
                highlights="",
                problems="",
                reason="r" if is_correction else "",
                made_at=moment,
            )
        )
    return versions


@settings(deadline=None)  # no test depends on time taken
@given(runs())
def test_each_correction_replaces_the_version_current_when_it_was_made(
    made: list[ReportVersion],
) -> None:
    counted = sorted(made, key=lambda v: (v.reported_at, v.id))  # ReportRepository.unit_versions
    replaced = replaced_versions(counted)
    for index, version in enumerate(made):
        if version.kind == "correction":
            before = max(made[:index], key=lambda v: (v.reported_at, v.id))
            assert replaced[version.id] == before
    assert set(replaced) == {v.id for v in made if v.kind == "correction"}
    assert newest_made(counted) == made[::-1]  # newest made first, whatever time it carries
