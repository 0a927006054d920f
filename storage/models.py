"""ORM tables only (no behaviour). Amounts are stored as decimal strings inside JSON, never floats."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes stored as naive UTC: SQLite keeps no offset, so we never let one matter."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UtcDateTime column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(AsyncAttrs, DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime}


class InboxMessage(Base):
    """Every inbound message, written before the ACK; msg_id makes a redelivery a no-op."""

    __tablename__ = "inbox"

    msg_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(128))
    sender_staff_id: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column()
    received_at: Mapped[datetime] = mapped_column()
    message_json: Mapped[str] = mapped_column(
        Text
    )  # the whole IncomingMessage, to replay after a crash
    processed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    command: Mapped[str | None] = mapped_column(String(32), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    reply_title: Mapped[str | None] = mapped_column(String(128), nullable=True)
    reply_text: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index("ix_inbox_unprocessed", "processed_at", "received_at"),)


class Binding(Base):
    """A member bound in chat (/绑定); overrides the campaign file's member of the same staffId."""

    __tablename__ = "bindings"

    campaign_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    unit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    bound_by: Mapped[str] = mapped_column(String(128))
    bound_at: Mapped[datetime] = mapped_column()
    expires_on: Mapped[date | None] = mapped_column(nullable=True)  # a deputy's (代报) last day


class Report(Base):
    """One version of a unit's cumulative figures; the newest by reported_at is current.

    Rows are never updated: a later post in the same week or a /更正 adds a version, so the
    history (who, when, old → new) is the sequence of rows.
    """

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[str] = mapped_column(String(64))
    unit: Mapped[str] = mapped_column(String(64))
    week: Mapped[str] = mapped_column(String(10))  # ISO week of reported_at, e.g. 2021-W35
    reported_at: Mapped[datetime] = mapped_column()
    staff_id: Mapped[str] = mapped_column(String(128))
    msg_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    kind: Mapped[str] = mapped_column(String(16))  # post | correction
    values_json: Mapped[str] = mapped_column(Text)  # all metrics after this version
    posted_json: Mapped[str] = mapped_column(Text)  # the metrics this version set
    highlights: Mapped[str] = mapped_column(Text, default="")
    problems: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    # Where the version came from: "" for a chat message, "import:<who>:<file>" for saima import.
    source: Mapped[str] = mapped_column(String(255), default="", server_default="")
    # When this version was made: its message's time (a /更正's own, not the corrected post's, whose
    # reported_at and week it carries), or the import's. Nullable so that a row a process on the
    # previous revision writes during an upgrade stays valid; read as reported_at then.
    made_at: Mapped[datetime | None] = mapped_column(nullable=True)

    __table_args__ = (
        Index("ix_reports_unit_time", "campaign_id", "unit", "reported_at"),
        Index("ix_reports_week", "campaign_id", "week"),
    )


class AppState(Base):
    """Small key-values that must survive restarts (the group's conversationId, the sandbox clock)."""

    __tablename__ = "app_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Outbox(Base):
    """Every outgoing message, written before it is sent; `key` makes each send happen at most once."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # "fdi-2021/weekly:2021-W40@cid…" (campaign/pushes.py outbox_key), "reply:<msgId>"
    key: Mapped[str] = mapped_column(String(255))
    channel: Mapped[str] = mapped_column(String(16))  # "reply" | "app" | "robot" | "image"
    conversation_id: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    at_staff_ids: Mapped[str] = mapped_column(Text, default="")  # comma-separated staff ids
    session_webhook: Mapped[str | None] = mapped_column(Text, nullable=True)  # cleared once sent
    session_webhook_expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    state: Mapped[str] = mapped_column(String(8), default="pending")  # "pending" | "sent" | "dead"
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)
    result: Mapped[str | None] = mapped_column(
        String(128), nullable=True
    )  # processQueryKey or errcode
    last_error: Mapped[str | None] = mapped_column(
        String(64), nullable=True
    )  # DingTalk's code only
    media: Mapped[bytes | None] = mapped_column(
        LargeBinary, nullable=True
    )  # an "image" row's PNG, uploaded at each send attempt; cleared once sent

    __table_args__ = (
        UniqueConstraint("key", name="uq_outbox_key"),
        Index("ix_outbox_due", "state", "next_attempt_at"),
    )


class OutboxSend(Base):
    """A push's send in flight: committed before the request goes out, gone with DingTalk's answer.
    One left in flight means the process sending it died mid-send, so DingTalk may have the message
    or not: the row is sent once more, marked 补发 (`resent`), and never a third time."""

    __tablename__ = "outbox_sends"

    # No foreign key to outbox.id: on PostgreSQL the relay holds the outbox row FOR UPDATE for the
    # whole send, and this row is written on another connection meanwhile; a foreign key's check
    # (FOR KEY SHARE) would wait for that lock.
    outbox_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    in_flight_since: Mapped[datetime | None] = mapped_column(nullable=True)
    resent: Mapped[bool] = mapped_column(default=False, server_default=false())


class Project(Base):
    """One project in a unit's ledger (issue #5); its stage dates are the current state, and
    ProjectEvent rows keep the full history. Amounts are decimal strings in the campaign's unit."""

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[str] = mapped_column(String(64))
    unit: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))
    company: Mapped[str] = mapped_column(String(128), default="")
    company_key: Mapped[str] = mapped_column(String(128), default="")  # normalised, for 首报首谈
    total: Mapped[str] = mapped_column(String(40))  # 总投资
    funded: Mapped[str] = mapped_column(String(40), default="0")  # cumulative 到资
    first_funded_on: Mapped[date | None] = mapped_column(nullable=True)
    is_foreign: Mapped[bool] = mapped_column(default=False)
    is_world500: Mapped[bool] = mapped_column(default=False)
    contract_start_on: Mapped[date | None] = mapped_column(nullable=True)
    contract_end_on: Mapped[date | None] = mapped_column(nullable=True)
    stage: Mapped[str] = mapped_column(String(8))
    registered_on: Mapped[date] = mapped_column()
    signed_on: Mapped[date | None] = mapped_column(nullable=True)
    incorporated_on: Mapped[date | None] = mapped_column(nullable=True)  # 注册(备案)
    started_on: Mapped[date | None] = mapped_column(nullable=True)
    completed_on: Mapped[date | None] = mapped_column(nullable=True)
    producing_on: Mapped[date | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(128))
    # 首谈地 of a project transferred (流转) to `unit`: it counts for both (seed 001 二(一)3).
    first_talk_unit: Mapped[str | None] = mapped_column(String(64), nullable=True)

    __table_args__ = (
        UniqueConstraint("campaign_id", "unit", "name", name="uq_projects_unit_name"),
        Index("ix_projects_company", "campaign_id", "company_key"),
    )


class ProjectEvent(Base):
    """Every change to a project (登记, a stage, 到资, 红旗 nomination): who, when, what."""

    __tablename__ = "project_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    kind: Mapped[str] = mapped_column(String(16))  # 登记 | a stage | 到资 | 红旗 | 流转
    on: Mapped[date] = mapped_column()  # the date the user gave (or the message's date)
    at: Mapped[datetime] = mapped_column()  # the message time
    staff_id: Mapped[str] = mapped_column(String(128))
    msg_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")  # e.g. "800 → 1200", a reason

    __table_args__ = (Index("ix_project_events_project", "project_id", "at"),)


class RedFlagProject(Base):
    """A 红旗项目 an admin confirmed (with a reason); only these are published."""

    __tablename__ = "red_flag_projects"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    confirmed_by: Mapped[str] = mapped_column(String(128))
    confirmed_at: Mapped[datetime] = mapped_column()


class CampaignTarget(Base):
    """A unit's target imported from CSV (saima campaign import-targets); overrides the file's."""

    __tablename__ = "campaign_targets"

    campaign_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    unit: Mapped[str] = mapped_column(String(64), primary_key=True)
    metric: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(40))
    imported_at: Mapped[datetime] = mapped_column()
    source: Mapped[str] = mapped_column(Text, default="")  # the CSV file name


class Bulletin(Base):
    """A monthly or final bulletin held for sign-off (issue #4); once published its period is locked."""

    __tablename__ = "bulletins"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # the push, e.g. monthly:2021-10
    campaign_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # each has its own
    kind: Mapped[str] = mapped_column(String(16))
    period: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    as_of: Mapped[datetime] = mapped_column()  # figures up to here are what the bulletin states
    drafted_at: Mapped[datetime] = mapped_column()
    published_at: Mapped[datetime | None] = mapped_column(nullable=True)
    published_by: Mapped[str | None] = mapped_column(String(128), nullable=True)


class LockedCorrection(Base):
    """A correction to figures a published bulletin stated; the next bulletin discloses it."""

    __tablename__ = "locked_corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[str] = mapped_column(String(64))
    bulletin_key: Mapped[str] = mapped_column(String(64))  # the published bulletin it revises
    unit: Mapped[str] = mapped_column(String(64))
    staff_id: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    changes_json: Mapped[str] = mapped_column(Text)  # {metric: [old, new]} as decimal strings
    corrected_at: Mapped[datetime] = mapped_column()
    disclosed_in: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The 更正通报 the group receives ("" for corrections disclosed by the next bulletin, before
    # issue #21) and the correction's own version in `reports`.
    notice: Mapped[str] = mapped_column(Text, default="", server_default="")
    report_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class BulletinVersion(Base):
    """One published version of a bulletin (issue #21): version 1 is what /发布 sent, each later
    one follows a confirmed correction. The snapshot is the figures every view of the bulletin's
    moments scores; the hash covers the text and the snapshot."""

    __tablename__ = "bulletin_versions"

    campaign_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    bulletin_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    snapshot_json: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime] = mapped_column()
    published_by: Mapped[str] = mapped_column(String(128))
    auto: Mapped[bool] = mapped_column(default=False, server_default=false())
    correction_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class GroupBinding(Base):
    """A DingTalk group bound to a campaign (/绑定群, or /赛事 switching it); one campaign a group."""

    __tablename__ = "group_bindings"

    conversation_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(64))
    bound_by: Mapped[str] = mapped_column(String(128))
    bound_at: Mapped[datetime] = mapped_column()


class AuditEntry(Base):
    """One change (or refused attempt), append-only: the migration makes SQLite refuse any UPDATE
    or DELETE of these rows, and no repository method writes anything but a new row."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column()
    staff_id: Mapped[str] = mapped_column(String(128))
    actor_name: Mapped[str] = mapped_column(String(64))  # as bound at the time
    conversation_id: Mapped[str] = mapped_column(String(128))
    msg_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    subject: Mapped[str] = mapped_column(String(16))  # report | binding | group | target | …
    action: Mapped[str] = mapped_column(String(32))  # post | correction | bind | a refusal verdict
    unit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    key: Mapped[str] = mapped_column(String(160))  # what changed: a staffId, a project id, …
    old: Mapped[str] = mapped_column(Text, default="")
    new: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_audit_unit", "campaign_id", "unit", "at"),)


class SeenCallback(Base):
    """An HTTP-mode callback's signature (hash of timestamp and sign) and the request it came
    with (hash of timestamp, sign and message): the signature carries no other request."""

    __tablename__ = "seen_callbacks"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex
    seen_at_ms: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_seen_callbacks_time", "seen_at_ms"),)
