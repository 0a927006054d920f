"""Bulletins in the bot process: `saima push`, and the scheduler beside the DingTalk transports."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.app import App
from bot.config import Settings
from bot.dingtalk.services import DingTalk, build_dingtalk
from campaign import calendar
from campaign.pushes import PushKind, latest_due
from scheduler.chart import ranking_chart
from scheduler.runtime import RunningBulletins, start_bulletins
from scheduler.service import BulletinService, ChartSink
from scheduler.workdays import CHINA

logger = logging.getLogger(__name__)

OUTCOMES = {
    "queued": "已发送",
    "drafted": "已生成草稿，待管理员 /发布",
    "already": "此前已发送过，本次不再发送",
    "nothing": "无需发送（所有单位均已报送）",
    "expired": "该周已结束，催报不再发送",
    "no-target": "未发送：还不知道推送到哪个群（请设置 DINGTALK_OPEN_CONVERSATION_ID）",
}


CHART_KEY_SUFFIX = "#chart"  # the chart of `monthly:2021-10` is pushed as `monthly:2021-10#chart`


def chart_sink(dingtalk: DingTalk) -> ChartSink:
    """Queue a bulletin's ranking chart in the outbox, right behind the bulletin and to its group."""

    async def queue_chart(key: str, title: str, png: bytes) -> None:
        if await dingtalk.outbox.push_image(key + CHART_KEY_SUFFIX, title, png, after=key):
            logger.info("chart for %s queued", key)

    return queue_chart


def bulletin_service(app: App, dingtalk: DingTalk) -> BulletinService:
    images = dingtalk.sender.has_app_channel  # only the app robot can send images
    service = BulletinService(
        app.database,
        app.campaign,
        app.clock,
        dingtalk.outbox,
        conversation_id=app.settings.open_conversation_id,
        admins=app.settings.admins,
        can_mention=dingtalk.sender.has_robot_channel,
        work=CHINA,
        chart_sink=chart_sink(dingtalk) if images else None,
        chart_renderer=ranking_chart if images else None,
    )
    if not images and dingtalk.sender.has_robot_channel and service.settings.bulletins.chart:
        logger.info(
            "bulletins go without the ranking chart: the custom robot cannot send images "
            "(set DINGTALK_CLIENT_ID/DINGTALK_CLIENT_SECRET for the app robot)"
        )
    return service


@asynccontextmanager
async def scheduled_bulletins(app: App, dingtalk: DingTalk) -> AsyncIterator[RunningBulletins]:
    """The scheduler for the stream and HTTP transports, around the transport's run.

    It queues into the transport's own outbox relay, which wakes at once to send (and, before the
    transport has started it, sends the queued catch-up pushes when it starts).
    """
    running = await start_bulletins(bulletin_service(app, dingtalk))
    try:
        yield running
    finally:
        await running.stop()


async def run_push(settings: Settings, kind: str, at: str | None, dry_run: bool) -> int:
    """Render the `kind` push due at `at` (default now); without dry_run, send it through the outbox."""
    from bot.cli import parse_moment

    app = App.build(settings)
    async with app:
        dingtalk = build_dingtalk(app)
        service = bulletin_service(app, dingtalk)
        moment = parse_moment(at, app.campaign) if at else app.clock.now()
        push = latest_due(service.plan, PushKind(kind), moment)
        tz = calendar.zone(app.campaign)
        if push is None:
            print(
                f"{moment.astimezone(tz):%Y-%m-%d %H:%M} 之前没有到期的 {kind} 推送",
                file=sys.stderr,
            )
            return 1
        if dry_run:
            rendered = await service.preview(push, moment)
            print(
                f"# {push.key} · 应于 {push.due_at.astimezone(tz):%Y-%m-%d %H:%M} 推送（预览，未发送）"
            )
            print(rendered.text if rendered else OUTCOMES["nothing"])
            return 0
        if not (dingtalk.sender.has_app_channel or dingtalk.sender.has_robot_channel):
            print(
                "需要钉钉应用凭据或自定义机器人 Webhook / configure DingTalk credentials or a robot webhook",
                file=sys.stderr,
            )
            return 2
        outcome = await service.fire(push.key, moment)
        await (
            dingtalk.outbox.flush()
        )  # this process exits next: send now, not at a relay's next check
        print(f"{push.key}: {OUTCOMES.get(outcome, outcome)}")
        return 0 if outcome != "no-target" else 2
