"""Typos caught in chat (issue #22, point 6), through the real pipeline: a figure above its declared
ceiling is refused naming it; one that reads as an extra zero is held until typed again."""

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


# ---- an extra zero: /确认 must type the figure again ----


async def test_an_extra_zero_is_held_until_the_head_types_the_figure_again(
    app: App, say: Say
) -> None:
    await say(NANHU, "/周报 实际利用外资=25000", at="2021-08-13T10:00:00+08:00")
    held = await say(NANHU, "/周报 实际利用外资=250000", at="2021-08-13T10:01:00+08:00")
    assert held is not None
    assert held.text == (
        "### ⚠️ 增幅异常，待确认 · 南湖区\n"
        "- 实际利用外资 250,000万美元，是上次报送 25,000万美元 的10倍，疑似多写了0\n"
        "\n"
        "数字无误请再次输入数字确认（30分钟内有效）：\n"
        "/确认 250000\n"
        "有误请重新报送。尚未记录。"
    )
    bare = await say(NANHU, "/确认", at="2021-08-13T10:02:00+08:00")
    assert bare is not None and bare.text == (
        "⚠️ 实际利用外资 250,000万美元 疑似多写了0，须再次输入数字确认：/确认 250000\n"
        "有误请重新报送。仍待确认，尚未记录。"
    )
    wrong = await say(NANHU, "/确认 25000", at="2021-08-13T10:03:00+08:00")
    assert wrong is not None and wrong.text == (
        "⚠️ 输入的实际利用外资 25,000万美元 与待确认的 250,000万美元 不一致。"
        "仍待确认，尚未记录。如应为 25,000万美元，请重新报送。"
    )
    assert fdi_history(await history(app, "南湖区")) == [25000]
    # The hold survived both refusals: the figure typed again stores it.
    confirmed = await say(NANHU, "/确认 250,000", at="2021-08-13T10:04:00+08:00")
    assert confirmed is not None and "已更新本周报送 · 南湖区" in confirmed.text
    assert fdi_history(await history(app, "南湖区")) == [250000, 25000]
    again = await say(NANHU, "/确认 250000", at="2021-08-13T10:05:00+08:00")
    assert again is not None and again.text.endswith("没有待确认的周报或更正。")


async def test_an_admin_posting_for_a_unit_types_the_figure_again(app: App, say: Say) -> None:
    await say(ADMIN, "/周报 南湖区 实际利用外资=25000", at="2021-08-13T10:00:00+08:00")
    held = await say(ADMIN, "/周报 南湖区 实际利用外资=250000", at="2021-08-13T10:01:00+08:00")
    assert held is not None and "/确认 250000" in held.text
    assert held.text.startswith("### ⚠️ 增幅异常，待确认 · 南湖区\n")  # the unit it holds
    bare = await say(ADMIN, "/确认", at="2021-08-13T10:02:00+08:00")
    assert bare is not None and "须再次输入数字确认：/确认 250000" in bare.text
    # The hold is the admin's: the unit's head has nothing to confirm.
    head = await say(NANHU, "/确认 250000", at="2021-08-13T10:02:30+08:00")
    assert head is not None and head.text.endswith("没有待确认的周报或更正。")
    confirmed = await say(ADMIN, "/确认 25亿", at="2021-08-13T10:03:00+08:00")
    assert confirmed is not None and "已更新本周报送 · 南湖区" in confirmed.text
    [latest, _] = await history(app, "南湖区")
    assert (latest.values["fdi"], latest.staff_id) == (250000, ADMIN)


async def test_a_deputy_types_again_a_figure_above_three_times_the_target(
    app: App, say: Say
) -> None:
    # 秀洲区: target 37,000, so 120,000 is above 3× it (though under 5× its baseline 32,818).
    await say(ADMIN, "/绑定 li 秀洲区 代报 至2021-12-31 李四", at="2021-08-13T09:00:00+08:00")
    held = await say("li", "/周报 实际利用外资=120000", at="2021-08-13T10:00:00+08:00")
    assert held is not None and held.text == (
        "### ⚠️ 增幅异常，待确认 · 秀洲区\n"
        "- 实际利用外资 120,000万美元，超过目标 37,000万美元 的3倍，疑似多写了0\n"
        "\n"
        "数字无误请再次输入数字确认（30分钟内有效）：\n"
        "/确认 120000\n"
        "有误请重新报送。尚未记录。"
    )
    bare = await say("li", "/确认", at="2021-08-13T10:01:00+08:00")
    assert bare is not None and "仍待确认" in bare.text
    confirmed = await say("li", "/确认 12亿", at="2021-08-13T10:02:00+08:00")
    assert confirmed is not None and "已收到报送 · 秀洲区" in confirmed.text
    [version] = await history(app, "秀洲区")
    assert (version.values["fdi"], version.staff_id) == (120000, "li")


async def test_two_figures_that_read_as_an_extra_zero_are_both_typed_again(
    app: App, say: Say
) -> None:
    # 嘉善县: baselines 38,174 and 18,743; both figures are more than 5× them.
    post = "/周报 实际利用外资=400000 高技术=190000"
    held = await say("head-jiashan", post, at="2021-08-13T10:00:00+08:00")
    assert held is not None
    assert (
        "- 实际利用外资 400,000万美元，是1-7月基数 38,174万美元 的10.4倍，疑似多写了0" in held.text
    )
    assert "- 高技术产业实到外资 190,000万美元，是1-7月基数 18,743万美元 的10.1倍" in held.text
    command = "/确认 实际利用外资=400000 高技术产业实到外资=190000"
    assert f"\n{command}\n" in held.text
    one = await say("head-jiashan", "/确认 400000", at="2021-08-13T10:01:00+08:00")
    assert one is not None and one.text == (
        f"⚠️ 无法识别“400000”，此处应为字段名（如实际利用外资）。\n例：{command}"
    )
    half = await say("head-jiashan", "/确认 实际利用外资=400000", at="2021-08-13T10:02:00+08:00")
    assert half is not None and "高技术产业实到外资 190,000万美元 疑似多写了0" in half.text
    assert await history(app, "嘉善县") == []
    both = await say(
        "head-jiashan", "/确认 外资=400000 高技术=190000", at="2021-08-13T10:03:00+08:00"
    )
    assert both is not None and "已收到报送 · 嘉善县" in both.text


async def test_a_hold_typed_again_too_late_has_expired(app: App, say: Say) -> None:
    await say(NANHU, "/周报 实际利用外资=25000", at="2021-08-13T10:00:00+08:00")
    await say(NANHU, "/周报 实际利用外资=250000", at="2021-08-13T10:01:00+08:00")
    late = await say(NANHU, "/确认 250000", at="2021-08-13T10:32:00+08:00")
    assert late is not None and "已过期，未记录" in late.text
    assert fdi_history(await history(app, "南湖区")) == [25000]


async def test_other_jumps_are_still_confirmed_with_a_bare_confirm(app: App, say: Say) -> None:
    # 经开区's 高技术 830 → 4,000 is far above its last weekly increment, but under 5× 830.
    jingkai = "head-jingkai"
    await say(jingkai, "/周报 实际利用外资=31600 高技术=830", at="2021-08-06T10:00:00+08:00")
    held = await say(
        jingkai, "/周报 实际利用外资=33000 高技术=4000", at="2021-08-13T10:00:00+08:00"
    )
    assert held is not None and held.text.endswith(
        "数字无误请发送 /确认（30分钟内有效）；有误请重新报送。尚未记录。"
    )
    assert "疑似多写了0" not in held.text
    # A figure typed anyway must still match the held one.
    typed = await say(jingkai, "/确认 高技术=4001", at="2021-08-13T10:00:30+08:00")
    assert typed is not None and "与待确认的 4,000万美元 不一致。仍待确认" in typed.text
    confirmed = await say(jingkai, "/确认", at="2021-08-13T10:01:00+08:00")
    assert confirmed is not None and "已收到报送" in confirmed.text


async def test_an_ordinary_post_is_stored_at_once(app: App, say: Say) -> None:
    await say(NANHU, "/周报 实际利用外资=22000 大项目到资=40000", at="2021-08-06T10:00:00+08:00")
    reply = await say(NANHU, "/周报 实际利用外资=23000", at="2021-08-13T10:00:00+08:00")
    assert reply is not None and "已收到报送 · 南湖区" in reply.text
    assert fdi_history(await history(app, "南湖区")) == [23000, 22000]
