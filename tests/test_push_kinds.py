"""A push kind is one class registered in one table (bulletins/push_kinds/): registering a kind defined
here is all it takes for the plan, the scheduler, the bulletin service and `saima push` to know it."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta

import pytest

from bot.app import App
from bot.cli import build_parser, run_push
from bot.config import Settings
from bot.dingtalk.outbox import OutboxRelay
from bot.sandbox.outbound import ConsoleSender
from bulletins.campaigns import CampaignBulletins
from bulletins.compose import Rendered
from bulletins.push_kinds import PUSH_KINDS, PushKind, PushRequest, plan_pushes
from bulletins.service import BulletinService
from campaign import Campaign, calendar
from campaign.pushes import PlannedPush, WorkCalendar
from campaign.sections import ScheduleConfig
from chat.clock import FixedClock
from scheduler.build import build_scheduler
from storage import open_database
from tests.fakes.dingtalk import FakeDingTalk

TZ = calendar.ZoneInfo("Asia/Shanghai")


class NoonPush(PushKind):
    """午报: once, at noon on the window's last day, how many units the campaign has."""

    kind = "noon"

    def plan(
        self, campaign: Campaign, schedule: ScheduleConfig, work: WorkCalendar
    ) -> list[PlannedPush]:
        last_day = campaign.window.end
        due = datetime.combine(last_day, time(12), tzinfo=calendar.zone(campaign))
        return [PlannedPush(self.kind, f"noon:{last_day}", str(last_day), due)]

    async def render(self, request: PushRequest) -> Rendered | None:
        text = f"午报：{request.campaign.name}，{len(request.campaign.units)} 个单位"
        return Rendered(self.kind, request.push.key, "午报", text, request.now)


@pytest.fixture
def noon_kind(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """NoonPush registered for one test; the table is as shipped again afterwards."""
    with monkeypatch.context() as patch:
        patch.setitem(PUSH_KINDS, NoonPush.kind, NoonPush())  # the registration line
        yield
    assert NoonPush.kind not in PUSH_KINDS


def push_help() -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        build_parser().parse_args(["push", "--help"])
    return out.getvalue()


def test_a_registered_kind_is_planned_in_the_table_order(
    noon_kind: None, campaign: Campaign
) -> None:
    plan = plan_pushes(campaign, campaign.schedule)
    noon = next(p for p in plan if p.kind == "noon")
    assert (noon.key, noon.due_at) == ("noon:2021-11-30", datetime(2021, 11, 30, 12, tzinfo=TZ))
    assert [p.key for p in plan if p.due_at == noon.due_at] == ["noon:2021-11-30"]
    assert plan == sorted(plan, key=lambda p: p.due_at)


async def test_the_scheduler_has_a_job_for_a_registered_kind(noon_kind: None, app: App) -> None:
    pinned = datetime(2021, 11, 26, 12, 0, tzinfo=TZ)
    relay = OutboxRelay(app.database.sessionmaker, ConsoleSender(lambda _text: None))  # type: ignore[arg-type]
    service = BulletinService(app.database, app.campaign, FixedClock(pinned), relay)
    scheduler = build_scheduler(CampaignBulletins([service]))
    scheduler.start()
    try:
        job = scheduler.get_job("push:fdi-2021/noon:2021-11-30")
        assert job is not None and job.args == (service, "noon:2021-11-30")
        delay = job.next_run_time - datetime.now(UTC)  # four days after the pinned now
        assert timedelta(days=3, hours=23, minutes=59) < delay <= timedelta(days=4)
    finally:
        scheduler.shutdown(wait=False)


def test_saima_push_lists_a_kind_only_while_it_is_registered() -> None:
    assert "{weekly,monthly,final,reminder}" in push_help()
    with pytest.raises(SystemExit), contextlib.redirect_stderr(io.StringIO()):
        build_parser().parse_args(["push", "noon"])
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(PUSH_KINDS, NoonPush.kind, NoonPush())
        assert "{weekly,monthly,final,reminder,noon}" in push_help()
        assert build_parser().parse_args(["push", "noon"]).kind == "noon"


async def test_saima_push_previews_and_sends_a_registered_kind(
    noon_kind: None,
    database_url: str,
    fake_dingtalk: FakeDingTalk,
    capsys: pytest.CaptureFixture[str],
) -> None:
    database = open_database(database_url)
    await database.upgrade()
    await database.close()
    settings = Settings(
        database_url=database_url,
        client_id=fake_dingtalk.client_id,
        client_secret=fake_dingtalk.client_secret,
        openapi_endpoint=fake_dingtalk.url,
        open_conversation_id="cid-1",
    )
    assert await run_push(settings, "noon", "2021-12-01", dry_run=True) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "# noon:2021-11-30 · 应于 2021-11-30 12:00 推送（预览，未发送）"
    assert out[2] == "午报：2021年利用外资百日攻坚，9 个单位"
    assert fake_dingtalk.group_sends == []

    assert await run_push(settings, "noon", "2021-12-01", dry_run=False) == 0
    assert "fdi-2021 · noon:2021-11-30: 已发送" in capsys.readouterr().out
    assert [(s.title, s.conversation_id) for s in fake_dingtalk.group_sends] == [("午报", "cid-1")]


def test_every_shipped_kind_is_in_the_table_under_its_own_name() -> None:
    assert list(PUSH_KINDS) == ["weekly", "monthly", "final", "reminder"]
    assert all(kind.kind == name for name, kind in PUSH_KINDS.items())
