"""Typos caught in chat (issue #22, point 6), through the real pipeline: a figure above its declared
ceiling is refused naming it."""

from decimal import Decimal

from bot.app import App
from storage import ReportVersion
from tests.conftest import ADMIN, Say

NANHU = "head-nanhu"
CEILING_REFUSAL = (
    "⚠️ 超亿美元项目到资不能超过本单位超亿美元项目总投资 303,820万美元（本次填写 {}万美元）。"
)


async def history(app: App, unit: str) -> list[ReportVersion]:
    async with app.database.read(app.campaign.id) as repos:
        return await repos.reports.history(unit)


def fdi_history(versions: list[ReportVersion]) -> list[Decimal]:
    return [v.values["fdi"] for v in versions]


# ---- a declared ceiling: 超亿美元项目到资 within the unit's 超亿美元项目总投资 ----


async def test_big_project_funds_above_their_total_investment_are_refused_everywhere(
    app: App, say: Say
) -> None:
    at = "2021-08-13T10:00:00+08:00"
    head = await say(NANHU, "/周报 大项目到资=400000", at=at)
    assert head is not None and head.text == CEILING_REFUSAL.format("400,000")
    admin = await say(ADMIN, "/周报 南湖区 超亿美元项目到资=303820.01", at=at)
    assert admin is not None and admin.text == CEILING_REFUSAL.format("303,820.01")
    await say(ADMIN, "/绑定 li 南湖区 代报 至2021-12-31 李四", at=at)
    deputy = await say("li", "/周报 实际利用外资=25000 大项目到资=31亿", at=at)
    assert deputy is not None and deputy.text == CEILING_REFUSAL.format("310,000")
    assert await history(app, "南湖区") == []

    # Corrections too, by the head and by an admin.
    await say(NANHU, "/周报 实际利用外资=25000 大项目到资=40000", at=at)
    for user, text in (
        (NANHU, "/更正 大项目到资=303821 原因=核对"),
        (ADMIN, "/更正 南湖区 大项目到资=303821 原因=核对"),
    ):
        refused = await say(user, text, at="2021-08-13T11:00:00+08:00")
        assert refused is not None and refused.text == CEILING_REFUSAL.format("303,821")
    assert [v.values["bigproject"] for v in await history(app, "南湖区")] == [40000]


async def test_a_figure_at_the_ceiling_is_stored(app: App, say: Say) -> None:
    # 秀洲区: 超亿美元项目总投资 101,723万美元 (baseline 46,635, so no extra zero either).
    at = "2021-08-13T10:00:00+08:00"
    over = await say("head-xiuzhou", "/周报 大项目到资=101724", at=at)
    assert over is not None and "超亿美元项目总投资 101,723万美元" in over.text
    stored = await say("head-xiuzhou", "/周报 大项目到资=101723", at=at)
    assert stored is not None and "已收到报送 · 秀洲区" in stored.text
