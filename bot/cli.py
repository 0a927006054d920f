"""The `saima` command line: run, say, rank (other subcommands register here too).

Logging is configured here and nowhere else; Settings are built once, here, and passed down.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.app import App, build_dingtalk, dingtalk_bulletins, scheduled_bulletins, serve
from bot.chat.campaign_book import CampaignBook
from bot.config import Settings
from bot.messages import IncomingMessage
from campaign import Campaign, CampaignError, Standings, calendar
from campaign.pushes import PushKind, latest_due
from campaign.targets import TargetsError, parse_targets_csv
from handlers import texts
from storage.standings import load_standings

logger = logging.getLogger(__name__)

TRANSPORTS = ("sandbox", "stream", "http")
OUTCOMES = {
    "queued": "已发送",
    "drafted": "已生成草稿，待管理员 /发布",
    "already": "此前已发送过，本次不再发送",
    "nothing": "无需发送（所有单位均已报送）",
    "expired": "该周已结束，催报不再发送",
    "no-target": "未发送：还不知道推送到哪个群（请设置 DINGTALK_OPEN_CONVERSATION_ID）",
}


def parse_moment(text: str, campaign: Campaign) -> datetime:
    """A date means the end of that day; a naive ISO time is read in the campaign's zone."""
    tz = calendar.zone(campaign)
    try:
        if len(text) == 10:
            return calendar.end_of_day(date.fromisoformat(text), tz)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise SystemExit(
            f"--at: expected a date (2021-10-31) or an ISO-8601 time, got {text!r}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def standings_json(standings: Standings) -> dict[str, Any]:
    def number(value: Decimal) -> float:
        return float(value)

    return {
        "as_of": standings.as_of.isoformat(),
        "mode": standings.mode.value,
        "reported": standings.reported,
        "standings": [
            {
                "rank": row.rank,
                "entity": row.entity,
                "total": number(row.total),
                "items": {rule_id: number(score) for rule_id, score in row.items.items()},
                "points": None if row.points is None else number(row.points),
            }
            for row in standings.rows
        ],
    }


async def run_rank(settings: Settings, at: str | None, as_json: bool) -> int:
    app = App.build(settings)
    async with app:
        as_of = parse_moment(at, app.campaign) if at else app.clock.now()
        async with app.database.read(app.campaign.id) as repos:
            standings = await load_standings(app.campaign, repos, as_of)
    if as_json:
        print(json.dumps(standings_json(standings), ensure_ascii=False, indent=2))
    else:
        print(
            texts.standings_text(app.campaign, standings, calendar.zone(app.campaign), whole=True)
        )
    return 0


async def run_say(
    settings: Settings, user: str, nick: str | None, at: str | None, text: str
) -> int:
    app = App.build(settings)
    async with app:
        created_at = parse_moment(at, app.campaign) if at else app.clock.now()
        message = IncomingMessage(
            msg_id=f"cli-{uuid.uuid4().hex}",
            conversation_id="cli",
            sender_staff_id=user,
            sender_nick=nick or "",
            text=text,
            created_at=created_at,
            is_group=False,
        )
        reply = await app.pipeline.handle(message)
    if reply is None:
        return 1
    print(reply.text)
    return 0


async def run_bot(settings: Settings, transport: str | None, host: str, port: int) -> int:
    transport = transport or ("stream" if settings.has_app_credentials else "sandbox")
    if transport == "sandbox":
        # Before the import: matplotlib logs its font-cache build at import time.
        if not logging.getLogger().isEnabledFor(logging.DEBUG):
            logging.getLogger().setLevel(logging.WARNING)  # keep the console chat readable
        from bot.sandbox.console import run_sandbox

        app = App.build(settings, database_url=settings.sandbox_database_url)
        async with app:
            await run_sandbox(app)
        return 0
    if not settings.has_app_credentials:
        print(
            "需要设置 DINGTALK_CLIENT_ID 和 DINGTALK_CLIENT_SECRET / set DINGTALK_CLIENT_ID and DINGTALK_CLIENT_SECRET",
            file=sys.stderr,
        )
        return 2
    app = App.build(settings)
    async with app:
        dingtalk = build_dingtalk(app)  # one sender and one outbox relay for replies and pushes
        async with scheduled_bulletins(app, dingtalk):
            return await serve(app, dingtalk, transport, host, port)


async def run_push(settings: Settings, kind: str, at: str | None, dry_run: bool) -> int:
    """Render the `kind` push due at `at` (default now); without dry_run, send it through the outbox."""
    app = App.build(settings)
    async with app:
        dingtalk = build_dingtalk(app)
        service = dingtalk_bulletins(app, dingtalk)
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


async def reset_sandbox(settings: Settings) -> int:
    """`saima sandbox reset`: wipe the console sandbox's database and seed the demo again."""
    from bot.sandbox.console import reset

    app = App.build(settings, database_url=settings.sandbox_database_url)
    async with app:
        start = await reset(app)
    local = start.astimezone(calendar.zone(app.campaign))
    print(f"沙盒已重置：时间回到 {local:%Y-%m-%d %H:%M}，示范数据已重新写入。")
    return 0


async def import_targets(app: App, id_or_path: str, csv_path: str) -> int:
    """`saima campaign import-targets`: validate the whole CSV, then replace the stored targets."""
    book = app.book or CampaignBook([app.campaign], app.campaign.id)
    campaign = book.find(id_or_path)
    try:
        text = await asyncio.to_thread(Path(csv_path).read_text, encoding="utf-8")
        targets = parse_targets_csv(text, campaign)
    except (OSError, UnicodeDecodeError, TargetsError) as error:
        print(f"{csv_path}: {error}", file=sys.stderr)
        return 2
    async with app.database.write(campaign.id) as repos:
        count = await repos.targets.replace(
            campaign.id, targets, app.clock.now(), Path(csv_path).name
        )
    print(f"{campaign.id}: imported {count} targets for {len(targets)} units from {csv_path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="saima", description="赛马: DingTalk group competition bot"
    )
    parser.add_argument("--env-file", default=".env", help="optional .env file (default: .env)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run", help="run the bot (stream with credentials, else the console sandbox)"
    )
    run.add_argument("--transport", choices=TRANSPORTS)
    run.add_argument(
        "--web-host",
        "--host",
        dest="web_host",
        help="web server (/healthz; HTTP callback mode's callback) bind address "
        "(default: SAIMA_WEB_HOST or 127.0.0.1)",
    )
    run.add_argument(
        "--web-port",
        "--port",
        dest="web_port",
        type=int,
        help="web server port (default: SAIMA_WEB_PORT or 8080)",
    )

    say = sub.add_parser("say", help="run one message through the pipeline and print the reply")
    say.add_argument("--user", required=True, help="sender staffId")
    say.add_argument("--nick", help="sender nickname")
    say.add_argument("--at", help="message time (ISO-8601; default now)")
    say.add_argument("text", nargs="+", help="the message text")

    rank = sub.add_parser("rank", help="standings as of a time")
    rank.add_argument("--at", help="a date (end of that day) or an ISO-8601 time; default now")
    rank.add_argument("--json", action="store_true", help="machine-readable output")

    push = sub.add_parser(
        "push", help="render (and send through the outbox) the push due at a time"
    )
    push.add_argument("kind", choices=("weekly", "monthly", "final", "reminder"))
    push.add_argument("--at", help="a date (end of that day) or an ISO-8601 time; default now")
    push.add_argument("--dry-run", action="store_true", help="print it; store and send nothing")

    doctor = sub.add_parser(
        "doctor", help="check the DingTalk configuration for real, say what to fix"
    )
    doctor.add_argument(
        "--send", action="store_true", help="also send a test message on each channel"
    )

    sandbox = sub.add_parser("sandbox", help="the console sandbox")
    sandbox_sub = sandbox.add_subparsers(dest="sandbox_command", required=True)
    sandbox_sub.add_parser(
        "reset", help="start the sandbox over: its posts, pushes and clock go, the demo comes back"
    )

    campaign = sub.add_parser("campaign", help="campaign administration")
    campaign_sub = campaign.add_subparsers(dest="campaign_command", required=True)
    targets = campaign_sub.add_parser(
        "import-targets",
        help="store per-unit targets from a CSV (单位,<metric>,…); they override the file's",
    )
    targets.add_argument("campaign", help="a campaign id (e.g. zhaoda-2024) or a campaign file")
    targets.add_argument("csv", help="UTF-8 CSV with a 单位 column and one column per metric")
    return parser


async def dispatch(args: argparse.Namespace, settings: Settings) -> int:
    match args.command:
        case "run":
            host = args.web_host or settings.web_host
            port = settings.web_port if args.web_port is None else args.web_port
            return await run_bot(settings, args.transport, host, port)
        case "say":
            return await run_say(settings, args.user, args.nick, args.at, " ".join(args.text))
        case "rank":
            return await run_rank(settings, args.at, args.json)
        case "push":
            return await run_push(settings, args.kind, args.at, args.dry_run)
        case "sandbox":
            return await reset_sandbox(settings)
        case "campaign":
            async with App.build(settings) as app:
                return await import_targets(app, args.campaign, args.csv)
        case "doctor":
            from bot.dingtalk.doctor import run_doctor

            async with App.build(settings) as app:
                dingtalk = build_dingtalk(app, max_attempts=1)
                return await run_doctor(app.settings, app.database, dingtalk, send_test=args.send)
    raise SystemExit(f"unknown command {args.command}")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG
        if args.verbose
        else logging.WARNING
        if args.command != "run"
        else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    settings = Settings.from_env(env_file=args.env_file)
    try:
        return asyncio.run(dispatch(args, settings))
    except CampaignError as error:
        print(f"campaign file error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
