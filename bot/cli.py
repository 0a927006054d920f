"""The `saima` command line: run, say, rank (other subcommands register here too).

Logging is configured here and nowhere else; Settings are built once, here, and passed down.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.app import (
    App,
    build_dingtalk,
    dingtalk_bulletins,
    leader_duties,
    serve,
)
from bot.config import Settings
from bot.dingtalk.redaction import known_secrets, redact_log_handlers
from bot.storage_log import shorten_storage_tracebacks
from bulletins.publication import phase_label
from bulletins.push_kinds import PUSH_KINDS
from bulletins.texts import result_label
from campaign import Campaign, CampaignError, Mode, Standings, calendar, load_campaign
from campaign.formatting import num
from campaign.period_words import PeriodWordError, check_moment
from campaign.pushes import PlannedPush, draft_key, latest_due, outbox_key
from campaign.report_import import DATE_ONLY_AT
from campaign.targets import TargetsError, parse_targets_csv
from chat.campaign_book import CampaignBook
from chat.messages import IncomingMessage
from handlers import texts
from storage import open_database
from storage.backup import (
    BackupError,
    back_up,
    check_saima_file,
    known_revisions,
    pg_dump_advice,
    restore_database,
    sqlite_file,
)
from storage.bulletins import PublishedVersion
from storage.db import MIGRATIONS
from storage.health import BUSY, FULL, READ_ONLY, describe, storage_problem
from storage.outbox import DEAD, INTERRUPTED, PENDING, OutboxEntry
from storage.run_lock import AlreadyRunning, run_lock
from storage.standings import published_version_at, standings_at
from storage.transfer import TransferError, copy_all_rows
from storage.trust import AuditRecord

if TYPE_CHECKING:  # the bulletin service is imported only by the commands that push
    from bot.dingtalk.outbox import OutboxRelay
    from bulletins.service import BulletinService

logger = logging.getLogger(__name__)

TRANSPORTS = ("sandbox", "stream", "http")
OUTCOMES = {
    "queued": "已发送",
    "drafted": "已生成草稿，待管理员 /发布",
    "already": "此前已发送过，本次不再发送",
    "nothing": "无需发送（所有单位均已报送）",
    "expired": "该周已结束，催报不再发送",
    "no-target": "未发送：该赛事还没有绑定群（在群里发 /绑定群，或设置 DINGTALK_OPEN_CONVERSATION_ID）",
    # A draft's sign-off deadlines that had passed by then ([bulletins] auto_publish_after,
    # remind_unpublished_after), caught up like the push itself.
    "pending": "草稿此前已生成，待管理员 /发布",
    "auto-published": "草稿逾期未发布，已自动发布到群",
    "reminded": "草稿尚未发布，已提醒管理员",
    # Its messages were queued by an earlier run and went out now.
    "sent-now": "此前已排队，本次已发送",
}
# What DingTalk did not take (the exit status is then 3): said instead of, or after, the outcome.
UNDELIVERED = {
    "queued": "已排队，稍后重试",
    "interrupted": "补发时再次中断，未再重发，请到群里核对",
    "failed": "发送失败（钉钉拒收，详见日志），未再重试",
}
# Outcomes that say a message went (or had gone) out: replaced by what did not.
SENDING_OUTCOMES = ("queued", "already", "auto-published", "sent-now")


# Exit status when the database cannot take a write at all (the same as a database lost under a
# running bot, bot/dingtalk/services.py: the service manager restarts it once the disk is fixed).
EXIT_DATABASE_UNUSABLE = 3
STORAGE_PROBLEMS = {
    BUSY: "数据库被其他进程锁住，无法写入",
    READ_ONLY: "数据库所在磁盘只读，无法写入",
    FULL: "数据库所在磁盘已满，无法写入",
}


def parse_moment(text: str, campaign: Campaign, *, message: bool = False) -> datetime:
    """A naive ISO time is read in the campaign's zone. A date alone (2021-08-08, 20210808) means
    that day there: as of it (rank, push), the whole day, up to the next midnight; a message sent
    on it (say), noon of that day, as `saima import reports` reads a date, so the post stays in
    that day's week."""
    tz = calendar.zone(campaign)
    text = text.strip()
    try:
        day: date | None = date.fromisoformat(text)
    except ValueError:
        day = None
    if day is not None:
        # Checked before any arithmetic: the end of 9999-12-31 is no datetime at all.
        if not calendar.is_plausible_day(day):
            raise SystemExit(_implausible(text))
        return datetime.combine(day, DATE_ONLY_AT, tz) if message else calendar.end_of_day(day, tz)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise SystemExit(
            f"--at: expected a date (2021-10-31) or an ISO-8601 time, got {text!r}"
        ) from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=tz)
    if not calendar.is_plausible(moment):
        raise SystemExit(_implausible(text))
    return moment


def _implausible(text: str) -> str:
    first, end = calendar.EARLIEST_MOMENT.year, calendar.LATEST_MOMENT.year
    return f"--at: {text!r} is no time Saima works with (the years {first}–{end - 1})"


def standings_json(
    standings: Standings,
    published: bool = False,
    record: PublishedVersion | None = None,
    label: str = "",
) -> dict[str, Any]:
    def number(value: Decimal) -> float:
        return float(value)

    return {
        "as_of": standings.as_of.isoformat(),
        "mode": standings.mode.value,
        # scored from a published bulletin's latest version (/发布, then each confirmed 更正)
        "published": published,
        "label": label,  # as the chat labels it: 最终结果（…发布，更正n次）, 初步结果（待发布）, 序时进度 …
        "bulletin": None
        if record is None
        else {
            "key": record.key,
            "version": record.version,
            "published_at": record.published_at.isoformat(),
            "content_hash": record.content_hash,
        },
        "reported": standings.reported,
        "standings": [
            {
                "rank": row.rank,
                "entity": row.entity,
                "total": number(row.total),
                "total_display": num(row.total),  # rounded as the bulletins print it
                "items": {rule_id: number(score) for rule_id, score in row.items.items()},
                "points": None if row.points is None else number(row.points),
            }
            for row in standings.rows
            if standings.mode is not Mode.NOT_STARTED  # nothing is scored before the window
        ],
    }


def unknown_campaign(app: App, campaign_id: str | None) -> bool:
    """Say so, in one line naming the known ids, when `campaign_id` is not a loaded campaign."""
    known = app.book.by_id if app.book is not None else {app.campaign.id: app.campaign}
    if campaign_id is None or campaign_id in known:
        return False
    print(
        f"没有赛事 {campaign_id!r}；已加载的赛事：{'、'.join(known)} / unknown campaign",
        file=sys.stderr,
    )
    return True


async def run_rank(
    settings: Settings, at: str | None, as_json: bool, campaign_id: str | None = None
) -> int:
    app = App.build(settings)
    if unknown_campaign(app, campaign_id):
        return 2
    async with app:
        campaign = app.campaign  # the default, with its imported targets
        async with app.database.read(campaign_id or campaign.id) as repos:
            if app.book is not None and campaign_id not in (None, campaign.id):
                campaign = await app.book.with_targets(repos.targets, app.book.by_id[campaign_id])
            as_of = parse_moment(at, campaign) if at else app.clock.now()
            if at:
                try:
                    check_moment(as_of, campaign)  # as /排名: not before the campaign scores
                except PeriodWordError as error:
                    print(error, file=sys.stderr)
                    return 2
            standings = await standings_at(campaign, repos, as_of)
            record = await published_version_at(campaign, repos, as_of)
            phase = await phase_label(campaign, repos, as_of)
    if phase is None:
        phase = (
            result_label(published=False)
            if standings.mode is Mode.FINAL
            else texts.interim_phase(standings, live=not at)
        )
    if as_json:
        body = standings_json(standings, record is not None, record, phase)
        print(json.dumps(body, ensure_ascii=False, indent=2))
    else:
        print(texts.standings_text(campaign, standings, calendar.zone(campaign), phase, whole=True))
    return 0


async def run_say(
    settings: Settings, user: str, nick: str | None, at: str | None, text: str
) -> int:
    app = App.build(settings)
    async with app:
        created_at = parse_moment(at, app.campaign, message=True) if at else app.clock.now()
        message = IncomingMessage(
            msg_id=f"cli-{uuid.uuid4().hex}",
            conversation_id="cli",
            sender_staff_id=user,
            sender_nick=nick or "",
            text=text,
            created_at=created_at,
            is_group=False,
            is_local=True,
        )
        reply = await app.pipeline.handle(message)
    if reply is None:
        return 1
    print(reply.text)
    return 0


def sandbox_log_path(database_url: str) -> Path:
    """The console sandbox's log: beside its database (data/sandbox.log by default)."""
    database = sqlite_file(database_url)
    return database.with_suffix(".log") if database is not None else Path("data/sandbox.log")


@contextmanager
def logging_to(path: Path) -> Iterator[None]:
    """Point the log handlers that write to the terminal at `path` (appended) for the block;
    their format and secret-masking filter stay as main() set them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handlers = [
        handler
        for handler in logging.getLogger().handlers
        if isinstance(handler, logging.StreamHandler)
        and getattr(handler, "stream", None) in (sys.stderr, sys.stdout)
    ]
    with path.open("a", encoding="utf-8") as log_file:
        previous = [handler.setStream(log_file) for handler in handlers]
        try:
            yield
        finally:
            for handler, stream in zip(handlers, previous, strict=True):
                handler.setStream(stream)


NO_CONSOLE_WARNING = (
    "未设置 DINGTALK_CLIENT_ID / DINGTALK_CLIENT_SECRET，且没有终端：运行的是本地沙盒，不连接钉钉。"
    " | No DingTalk credentials (DINGTALK_CLIENT_ID/DINGTALK_CLIENT_SECRET) and no terminal: "
    "running the SANDBOX, NOT connected to DingTalk; serving the web server only. "
    "Set the credentials in the environment file to run the bot."
)


async def run_bot(settings: Settings, transport: str | None, host: str, port: int) -> int:
    transport = transport or ("stream" if settings.has_app_credentials else "sandbox")
    sandbox = transport == "sandbox"
    lock = run_lock(settings.sandbox_database_url if sandbox else settings.database_url)
    if lock is not None:
        try:
            lock.acquire()
        except AlreadyRunning as error:
            print(error, file=sys.stderr)
            return 2
    try:
        return await _run_bot(settings, transport, host, port)
    finally:
        if lock is not None:
            lock.release()


async def _run_bot(settings: Settings, transport: str, host: str, port: int) -> int:
    if transport == "sandbox":
        from bot.sandbox.serve import has_console_input, serve_sandbox

        if not has_console_input(sys.stdin):
            logger.warning(NO_CONSOLE_WARNING)  # serve_sandbox then serves the web side only
            async with App.build(settings, database_url=settings.sandbox_database_url) as app:
                return await serve_sandbox(app, host, port)
        # The terminal is the group chat: log records go to a file, never between its messages.
        path = sandbox_log_path(settings.sandbox_database_url)
        with logging_to(path):
            if not logging.getLogger().isEnabledFor(logging.DEBUG):
                logging.getLogger().setLevel(logging.WARNING)  # -v: everything, else what matters
            print(f"日志：{path}", flush=True)
            async with App.build(settings, database_url=settings.sandbox_database_url) as app:
                return await serve_sandbox(app, host, port)
    if not settings.has_app_credentials:
        print(
            "需要设置 DINGTALK_CLIENT_ID 和 DINGTALK_CLIENT_SECRET / set DINGTALK_CLIENT_ID and DINGTALK_CLIENT_SECRET",
            file=sys.stderr,
        )
        return 2
    app = App.build(settings)
    async with app:
        dingtalk = build_dingtalk(app)  # one sender and one outbox relay for replies and pushes
        async with leader_duties(app, dingtalk) as leadership:
            return await serve(app, dingtalk, transport, host, port, leadership)


async def run_push(
    settings: Settings,
    kind: str,
    at: str | None,
    dry_run: bool,
    campaign_id: str | None = None,
) -> int:
    """Render the `kind` push due at `at` (default now) of every campaign that has one (or of the
    one named); without dry_run, send each through the outbox to its campaign's groups."""
    app = App.build(settings)
    if unknown_campaign(app, campaign_id):
        return 2
    async with app:
        dingtalk = build_dingtalk(app)
        bulletins = await dingtalk_bulletins(app, dingtalk)
        services = [bulletins.of(campaign_id)] if campaign_id else list(bulletins.services)
        named = services[0].campaign
        moment = parse_moment(at, named) if at else app.clock.now()
        due = [
            (service, push)
            for service in services
            if (push := latest_due(service.plan, kind, moment)) is not None
        ]
        if not due:
            tz = calendar.zone(named)
            which = f"{named.id} " if campaign_id else ""
            print(
                f"{moment.astimezone(tz):%Y-%m-%d %H:%M} 之前没有到期的 {which}{kind} 推送",
                file=sys.stderr,
            )
            return 1
        if dry_run:
            for service, push in due:
                campaign = service.campaign
                tz = calendar.zone(campaign)
                # Without --at, "now" may be years after the push: show it as it read when due.
                rendered = await service.preview(push, moment if at else push.due_at)
                print(f"## {campaign.id} · {campaign.name}")
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
        fired = {
            (service.campaign.id, push.key): await fire_due(service, push, moment)
            for service, push in due
        }
        return await send_and_say(app, dingtalk.outbox, fired)


async def send_and_say(
    app: App, relay: OutboxRelay, fired: dict[tuple[str, str], list[str]]
) -> int:
    """Send the pushes fired (campaign id, push key -> outcomes) and say what became of each: 0 all
    sent, 2 a campaign without a group, 3 something DingTalk did not take (queued or given up)."""
    # This process exits next: send now, not at a relay's next check; what an earlier run of
    # these pushes left queued goes now too, its retry due or not.
    waiting = [r.id for key in fired for r in await push_rows(app, *key) if r.state == PENDING]
    await relay.deliver(waiting)
    await relay.flush()
    undelivered = False
    for (campaign_id, key), outcomes in fired.items():
        rows = await push_rows(app, campaign_id, key)
        for line in outcome_lines(outcomes, rows, set(waiting)):
            print(f"{campaign_id} · {key}: {line}")
        undelivered = undelivered or undelivered_of(rows) is not None
    if any("no-target" in outcomes for outcomes in fired.values()):
        return 2
    return 3 if undelivered else 0


async def push_rows(app: App, campaign_id: str, push_key: str) -> list[OutboxEntry]:
    """The outbox rows of a push in every group: its parts, its chart, its draft's notices."""
    stems = [
        outbox_key(campaign_id, k, "").removesuffix("@") for k in (push_key, draft_key(push_key))
    ]
    prefixes = [stem + after for stem in stems for after in ("@", "#")]  # key@group, key#chart@…
    async with app.database.outbox() as outbox:
        return await outbox.under(prefixes)


def undelivered_of(rows: list[OutboxEntry]) -> str | None:
    """What DingTalk has not taken of a push's messages (an UNDELIVERED key); None: all sent."""
    if any(r.state == DEAD and r.last_error == INTERRUPTED for r in rows):
        return "interrupted"
    if any(r.state == DEAD for r in rows):
        return "failed"
    if any(r.state == PENDING for r in rows):
        return "queued"
    return None


def outcome_lines(outcomes: list[str], rows: list[OutboxEntry], waiting: set[int]) -> list[str]:
    """What `saima push` says of one push: 已发送 only for what DingTalk took."""
    missing = undelivered_of(rows)
    if missing is None:
        # Queued before (a failed or killed run) and taken now: not "sent before".
        sent_now = any(r.id in waiting for r in rows)
        return [OUTCOMES["sent-now" if o == "already" and sent_now else o] for o in outcomes]
    said = UNDELIVERED[missing]
    return [said if o in SENDING_OUTCOMES else f"{OUTCOMES.get(o, o)}；{said}" for o in outcomes]


async def fire_due(service: BulletinService, push: PlannedPush, moment: datetime) -> list[str]:
    """Fire `push` as of `moment`, then its draft's sign-off deadlines passed by then (reminder,
    auto-publication): caught up like the push itself, once. What happened, as OUTCOMES keys."""
    outcome = await service.fire(push.key, moment)
    followed = [what.split(":")[0] for what in await service.follow_up(moment, only=(push.key,))]
    if followed:
        return followed
    if outcome == "already" and await service.is_pending(push.key):
        return ["pending"]  # drafted before and waiting for /发布, not sent
    return [outcome]


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
        old = await repos.targets.get(campaign.id)
        now = app.clock.now()
        count = await repos.targets.replace(campaign.id, targets, now, Path(csv_path).name)
        for unit, values in targets.items():
            await repos.audit.add(
                AuditRecord(
                    subject="target",
                    action="import",
                    key=unit,
                    at=now,
                    staff_id="cli",
                    actor_name="saima campaign import-targets",
                    unit=unit,
                    old=_targets_text(old.get(unit, {})),
                    new=_targets_text(values),
                    reason=Path(csv_path).name,
                )
            )
    print(f"{campaign.id}: imported {count} targets for {len(targets)} units from {csv_path}")
    return 0


async def run_export(settings: Settings, what: str, key: str | None, out: str) -> int:
    """`saima export bulletin|reports --out FILE`: the dashboard's downloads, for scripts."""
    from web import workbook

    app = App.build(settings)
    async with app, app.database.read(app.campaign.id) as repos:
        if what == "reports":
            body = await workbook.reports_export(app.campaign, repos)
        else:
            published = await repos.bulletins.published()
            chosen = [b for b in published if key in (None, b.key)]
            if not chosen:
                names = ", ".join(b.key for b in published) or "none"
                print(f"no published bulletin {key or ''} (published: {names})", file=sys.stderr)
                return 1
            table = await workbook.bulletin_table(app.campaign, repos, chosen[-1])
            body = workbook.bulletin_xlsx(app.campaign, table)
    await asyncio.to_thread(Path(out).write_bytes, body)
    print(f"{out}: {len(body)} bytes")
    return 0


async def run_backup(settings: Settings, target: str) -> int:
    """`saima backup PATH`: an online copy of the database (the bot may run), checked once written."""
    database = sqlite_file(settings.database_url)
    if database is None:
        print(pg_dump_advice(settings.database_url), file=sys.stderr)
        return 2
    try:
        path = await asyncio.to_thread(back_up, database, Path(target))
        found = await asyncio.to_thread(check_saima_file, path, MIGRATIONS)
    except (BackupError, OSError) as error:
        print(f"backup failed: {error}", file=sys.stderr)
        return 2
    print(
        f"{path}: backup of {database} (schema {found.revision}, "
        f"{found.inbox_rows} messages, {found.report_rows} reports)"
    )
    return 0


async def run_restore(settings: Settings, source: str) -> int:
    """`saima restore PATH`: replace the database with a backup, only with no Saima process on it."""
    database = sqlite_file(settings.database_url)
    if database is None:
        print("saima restore replaces SQLite database files only", file=sys.stderr)
        return 2
    try:
        kept, found = await asyncio.to_thread(restore_database, Path(source), database, MIGRATIONS)
    except (BackupError, OSError) as error:
        print(f"restore refused: {error}", file=sys.stderr)
        return 2
    print(
        f"{database}: restored from {source} (schema {found.revision}, "
        f"{found.inbox_rows} messages, {found.report_rows} reports)"
    )
    if kept is not None:
        print(f"the database it replaced is kept as {kept}")
    if found.revision != known_revisions(MIGRATIONS)[-1]:
        print("its schema is older: the next start migrates it, after a backup of its own")
    return 0


async def run_database_copy(source_url: str, target_url: str) -> int:
    """`saima database copy SOURCE TARGET`: every row into a new, empty database (SQLite → PostgreSQL)."""
    path = sqlite_file(source_url)
    if path is not None and not path.exists():  # never create an empty "source"
        print(f"copy refused: no database at {path}", file=sys.stderr)
        return 2
    source, target = open_database(source_url), open_database(target_url)
    try:
        copied = await copy_all_rows(source, target)
    except TransferError as error:
        print(f"copy refused: {error}", file=sys.stderr)
        return 2
    finally:
        await source.close()
        await target.close()
    for table in copied:
        print(f"{table.name}: {table.rows} rows")
    print(f"copied {sum(t.rows for t in copied)} rows; every table's count matches")
    return 0


def _targets_text(values: Mapping[str, Decimal]) -> str:
    return "、".join(f"{metric} {value}" for metric, value in sorted(values.items()))


def check_campaign(path: str) -> int:
    """`saima campaign check FILE`: load one file strictly and print what Saima makes of it."""
    from bot.campaign_check import check_summary

    print(check_summary(load_campaign(path), path))
    return 0


def write_campaign_docs() -> int:
    """`saima campaign docs`: regenerate docs/campaign-file.md from the loader's schema."""
    from bot.campaign_check import DOCS, reference_text

    DOCS.write_text(reference_text(), encoding="utf-8")
    print(f"wrote {DOCS}")
    return 0


async def run_import_reports(settings: Settings, file: str, by: str | None) -> int:
    """`saima import reports FILE`: all rows or none; each bad row named by its line."""
    from bot.report_import import import_reports

    who = by or getpass.getuser()
    async with App.build(settings) as app:
        count, errors = await import_reports(
            app.database, app.campaign, Path(file), who, app.clock.now()
        )
    if errors:
        print(f"{file}: 未导入（有 {len(errors)} 处错误，全部改正后再导入）", file=sys.stderr)
        for line in errors:
            print(line, file=sys.stderr)
        return 2
    print(f"{file}: 已导入 {count} 行（{app.campaign.id}，导入人 {who}）")
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
    say.add_argument(
        "--at", help="message time: ISO-8601, or a date (noon of that day); default now"
    )
    say.add_argument("text", nargs="+", help="the message text")

    rank = sub.add_parser("rank", help="one campaign's standings as of a time")
    rank.add_argument(
        "--campaign", metavar="ID", help="a loaded campaign's id (default: SAIMA_CAMPAIGN's)"
    )
    rank.add_argument("--at", help="a date (end of that day) or an ISO-8601 time; default now")
    rank.add_argument("--json", action="store_true", help="machine-readable output")

    push = sub.add_parser(
        "push",
        help="render (and send through the outbox) each campaign's push due at a time, "
        "to that campaign's groups",
    )
    push.add_argument("kind", choices=list(PUSH_KINDS))
    push.add_argument(
        "--campaign", metavar="ID", help="only this campaign (default: every one with one due)"
    )
    push.add_argument("--at", help="a date (end of that day) or an ISO-8601 time; default now")
    push.add_argument(
        "--dry-run", action="store_true", help="print each campaign's; store and send nothing"
    )

    doctor = sub.add_parser(
        "doctor", help="check the DingTalk configuration for real, say what to fix"
    )
    doctor.add_argument(
        "--send", action="store_true", help="also send a test message on each channel"
    )

    backup = sub.add_parser(
        "backup", help="copy the SQLite database while the bot runs (online backup API)"
    )
    backup.add_argument("path", help="the new backup file, or a directory to name one in")
    restore = sub.add_parser(
        "restore", help="replace the database with a backup (stop the bot first)"
    )
    restore.add_argument("path", help="a file written by saima backup")

    database = sub.add_parser("database", help="move a deployment's data to another database")
    database_sub = database.add_subparsers(dest="database_command", required=True)
    copy = database_sub.add_parser(
        "copy",
        help="copy every row into a new, empty database, e.g. SQLite → PostgreSQL (stop the bot first)",
    )
    copy.add_argument(
        "source", help="the database URL to copy, e.g. sqlite+aiosqlite:///data/saima.db"
    )
    copy.add_argument("target", help="an empty database's URL, e.g. postgresql+asyncpg://…")

    sandbox = sub.add_parser("sandbox", help="the console sandbox")
    sandbox_sub = sandbox.add_subparsers(dest="sandbox_command", required=True)
    sandbox_sub.add_parser(
        "reset", help="start the sandbox over: its posts, pushes and clock go, the demo comes back"
    )

    export = sub.add_parser("export", help="a published bulletin (.xlsx) or every raw post (.csv)")
    export.add_argument("what", choices=("bulletin", "reports"))
    export.add_argument(
        "--key", help="bulletin key, e.g. monthly:2021-09 or final (default: latest)"
    )
    export.add_argument("--out", required=True, help="the file to write")

    campaign = sub.add_parser("campaign", help="campaign administration")
    campaign_sub = campaign.add_subparsers(dest="campaign_command", required=True)
    targets = campaign_sub.add_parser(
        "import-targets",
        help="store per-unit targets from a CSV (单位,<metric>,…); they override the file's",
    )
    targets.add_argument("campaign", help="a campaign id (e.g. zhaoda-2024) or a campaign file")
    targets.add_argument("csv", help="UTF-8 CSV with a 单位 column and one column per metric")
    check = campaign_sub.add_parser(
        "check", help="validate one campaign file and print what Saima would make of it"
    )
    check.add_argument("file", help="a campaign TOML file")
    campaign_sub.add_parser(
        "docs", help="regenerate docs/campaign-file.md from the loader's schema"
    )

    imports = sub.add_parser("import", help="bring history in")
    imports_sub = imports.add_subparsers(dest="import_command", required=True)
    reports = imports_sub.add_parser(
        "reports",
        help="weekly figures from .csv/.xlsx (unit,reported_at,<metric>…[,亮点,问题]); all or none",
    )
    reports.add_argument("file", help="a .csv (UTF-8) or .xlsx file")
    reports.add_argument("--by", help="who is importing (default: the OS user)")
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
            return await run_rank(settings, args.at, args.json, args.campaign)
        case "push":
            return await run_push(settings, args.kind, args.at, args.dry_run, args.campaign)
        case "sandbox":
            return await reset_sandbox(settings)
        case "export":
            return await run_export(settings, args.what, args.key, args.out)
        case "backup":
            return await run_backup(settings, args.path)
        case "restore":
            return await run_restore(settings, args.path)
        case "database":
            return await run_database_copy(args.source, args.target)
        case "campaign" if args.campaign_command == "check":
            return check_campaign(args.file)
        case "campaign" if args.campaign_command == "docs":
            return write_campaign_docs()
        case "campaign":
            async with App.build(settings) as app:
                return await import_targets(app, args.campaign, args.csv)
        case "import":
            return await run_import_reports(settings, args.file, args.by)
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
    secrets = (settings.client_secret, settings.webhook_secret, settings.web_token)
    redact_log_handlers(known_secrets(*secrets, webhook_url=settings.webhook_url))
    shorten_storage_tracebacks()
    # aiosqlite's DEBUG lines carry every statement's parameters: the stored messages, with their
    # session webhooks. Nothing in them is ours to debug.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    try:
        return asyncio.run(dispatch(args, settings))
    except CampaignError as error:
        print(f"campaign file error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        problem = storage_problem(error)
        if not problem:
            raise
        # A disk gone read-only or full before anything could be stored: say which, in one line.
        print(
            f"{STORAGE_PROBLEMS[problem]} / database {problem}: {describe(error)}", file=sys.stderr
        )
        return EXIT_DATABASE_UNUSABLE


if __name__ == "__main__":
    sys.exit(main())
