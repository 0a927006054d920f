"""项目 / 清单: the project ledger in chat, plus the 红旗项目/蜗牛项目 sections bulletins include."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.chat.context import CommandContext
from bot.chat.router import Router
from bot.errors import UserFacingError
from bot.messages import Reply
from bulletins import texts as bulletin_texts
from campaign import Campaign, Role, Unit, calendar, format_amount
from campaign.amounts import FULL_WIDTH
from campaign.project_entry import (
    LedgerRefusal,
    choose_project,
    funds_entry,
    new_project,
    nomination,
    project_reference,
    read_money,
    reference_and_date,
    register_fields,
    with_funds,
)
from campaign.projects import (
    Project,
    Stage,
    StageError,
    advance,
    find_stage,
    first_talk_conflict,
    first_talk_hold,
    four_lists,
    propose_red_flags,
    settings_of,
)
from handlers import project_texts as texts
from handlers.texts import unknown_unit
from storage.projects import ProjectRepository, ledger_day

router = Router("projects")


@router.command(
    "项目",
    "project",
    help="项目台账：登记、签约/注册/开工/竣工/投产、到资、列表、详情",
    usage="/项目 登记|签约|注册|开工|竣工|投产|到资|列表|<编号> …",
)
async def manage_project(ctx: CommandContext) -> Reply:
    word, _, rest = ctx.args.strip().partition(" ")
    word, rest = word.strip(), rest.strip()
    if not word:
        return Reply.markdown("项目", texts.USAGE)
    if word == "登记":
        return await register_project(ctx, rest)
    if word == "到资":
        return await record_funds(ctx, rest)
    if word == "列表":
        return await list_projects(ctx, rest)
    stage = find_stage(word)
    if stage is not None and stage is not Stage.TALKING:
        return await advance_project(ctx, stage, rest)
    if word.lstrip("#＃").translate(FULL_WIDTH).isdigit() and not rest:
        return await show_project(ctx, word)
    raise UserFacingError(f"无法识别“{word}”。\n{texts.USAGE}")


@router.command(
    "清单",
    "lists",
    help="四张清单：在谈、签约、注册(备案)、开工的个数与总投资",
    usage="/清单 [单位]",
)
async def show_four_lists(ctx: CommandContext) -> Reply:
    repo = ProjectRepository(ctx.session, ctx.campaign.id)
    today = ledger_day(ctx.campaign, ctx.now)
    name = ctx.args.strip()
    unit = _find_unit(ctx.campaign, name, "/清单 南湖区") if name else None
    if unit is None and not name and ctx.actor.role is Role.HEAD and ctx.actor.unit:
        unit = ctx.campaign.unit(ctx.actor.unit)
    lists = four_lists(await repo.all(), today)
    settings = settings_of(ctx.campaign.extra)
    if unit is not None:
        return texts.four_lists_text(unit.name, lists, [unit.name], settings.unit, today)
    return texts.four_lists_text(
        "全市", lists, [u.name for u in ctx.campaign.units], settings.unit, today
    )


# ---- /项目 subcommands ----


async def register_project(ctx: CommandContext, args: str) -> Reply:
    settings = settings_of(ctx.campaign.extra)
    try:
        prefix, fields = register_fields(args)
    except LedgerRefusal as refusal:
        raise refused(ctx, refusal, texts.REGISTER_EXAMPLE) from None
    unit = acting_unit(ctx, prefix, texts.REGISTER_EXAMPLE)
    repo = ProjectRepository(ctx.session, ctx.campaign.id)
    same_name = await repo.named(fields.get("name", ""), unit.name)
    today = ledger_day(ctx.campaign, ctx.now)
    try:
        project = new_project(unit.name, fields, settings, today, same_name)
    except LedgerRefusal as refusal:
        raise refused(ctx, refusal, texts.REGISTER_EXAMPLE) from None
    company = project.company
    if company:
        same_company = await repo.with_company(company)
        conflict = first_talk_conflict(
            unit.name, company, project.registered_on, same_company, settings.first_talk
        )
        if conflict is not None:
            raise UserFacingError(texts.first_talk_refused(company, conflict))
    detail = f"总投资 {fields['total'].strip()}" + (f"，企业 {company}" if company else "")
    project = await repo.add(
        project,
        created_at=ctx.now,
        created_by=ctx.actor.staff_id,
        msg_id=ctx.message.msg_id,
        detail=detail,
    )
    hold = (
        first_talk_hold(company, await repo.with_company(company), settings.first_talk)
        if company
        else None
    )
    return texts.registered(project, settings.unit, hold)


async def advance_project(ctx: CommandContext, stage: Stage, args: str) -> Reply:
    try:
        reference, on = reference_and_date(args, ledger_day(ctx.campaign, ctx.now))
    except LedgerRefusal as refusal:
        raise refused(ctx, refusal, texts.STAGE_EXAMPLE) from None
    project = await find_project(ctx, reference, texts.STAGE_EXAMPLE)
    try:
        moved = advance(project, stage, on, ledger_day(ctx.campaign, ctx.now))
    except StageError as error:
        raise UserFacingError(str(error)) from None
    repo = ProjectRepository(ctx.session, ctx.campaign.id)
    await repo.save(moved)
    await repo.add_event(
        moved.id, stage.value, on, ctx.now, ctx.actor.staff_id, ctx.message.msg_id, ""
    )
    return texts.advanced(moved, stage, on)


async def record_funds(ctx: CommandContext, args: str) -> Reply:
    settings = settings_of(ctx.campaign.extra)
    try:
        reference, amount_text, on = funds_entry(args, ledger_day(ctx.campaign, ctx.now))
    except LedgerRefusal as refusal:
        raise refused(ctx, refusal, texts.FUNDS_EXAMPLE) from None
    project = await find_project(ctx, reference, texts.FUNDS_EXAMPLE)
    try:
        moved = with_funds(project, read_money(amount_text, "累计到资", settings), on)
    except LedgerRefusal as refusal:
        raise refused(ctx, refusal, texts.FUNDS_EXAMPLE) from None
    before = format_amount(project.funded, settings.unit)
    repo = ProjectRepository(ctx.session, ctx.campaign.id)
    await repo.save(moved)
    await repo.add_event(
        moved.id,
        "到资",
        on,
        ctx.now,
        ctx.actor.staff_id,
        ctx.message.msg_id,
        f"{before} → {format_amount(moved.funded, settings.unit)}",
    )
    return texts.funded(moved, before, settings.unit)


async def list_projects(ctx: CommandContext, args: str) -> Reply:
    unit: Unit | None = None
    stage: Stage | None = None
    for word in args.split():
        if (found := find_stage(word)) is not None:
            stage = found
        else:
            unit = _find_unit(ctx.campaign, word, "/项目 列表 南湖区 签约")
    if unit is None and ctx.actor.role is Role.HEAD and ctx.actor.unit:
        unit = ctx.campaign.unit(ctx.actor.unit)
    repo = ProjectRepository(ctx.session, ctx.campaign.id)
    projects = await repo.all(unit.name if unit else None)
    if stage is not None:
        projects = [p for p in projects if p.stage is stage]
    title = f"{unit.name if unit else '全市'}项目" + (f" · {stage}" if stage else "")
    return texts.project_list(title, projects, settings_of(ctx.campaign.extra).unit)


async def show_project(ctx: CommandContext, word: str) -> Reply:
    repo = ProjectRepository(ctx.session, ctx.campaign.id)
    project = await repo.get(int(word.lstrip("#＃").translate(FULL_WIDTH)))
    if project is None:
        raise UserFacingError(f"没有编号为{word.lstrip('#＃')}的项目。发送 /项目 列表 查看。")
    events = await repo.events(project.id)
    tz = calendar.zone(ctx.campaign)
    return texts.project_detail(project, events, settings_of(ctx.campaign.extra).unit, tz)


# ---- who acts for which unit, and which project a reference names ----


def acting_unit(ctx: CommandContext, named: str, example: str) -> Unit:
    """A head acts for its own unit; an admin must name the unit."""
    actor = ctx.actor
    if not actor.is_member:
        raise UserFacingError("您还不是本群赛马成员，不能登记项目。请管理员用 /绑定 绑定您的单位。")
    if named:
        unit = _find_unit(ctx.campaign, named, example)
        if actor.is_admin or unit.name == actor.unit:
            return unit
        raise UserFacingError(
            f"您只能登记本单位（{actor.unit or '未绑定'}）的项目，不能代{unit.name}登记。"
        )
    if actor.unit:
        return ctx.campaign.unit(actor.unit)
    raise UserFacingError(
        "管理员代登记请在“登记”后写明单位。\n例：/项目 登记 南湖区 名称=… 总投资=…"
    )


async def find_project(ctx: CommandContext, reference: str, example: str) -> Project:
    """A project by 编号 (#12 or 12) or by name; heads may only touch their own unit's projects."""
    try:
        wanted = project_reference(reference)
    except LedgerRefusal as refusal:
        raise refused(ctx, refusal, example) from None
    repo = ProjectRepository(ctx.session, ctx.campaign.id)
    own_unit = None if ctx.actor.is_admin else ctx.actor.unit
    if not ctx.actor.is_admin and not own_unit:
        raise UserFacingError("您未绑定单位，不能更新项目。请管理员用 /绑定 绑定。")
    if wanted.id is not None:
        by_id = await repo.get(wanted.id)
        found = [by_id] if by_id is not None else []
    else:
        found = await repo.named(wanted.text, own_unit)
    try:
        return choose_project(wanted, found, own_unit)
    except LedgerRefusal as refusal:
        raise refused(ctx, refusal, example) from None


def refused(ctx: CommandContext, refusal: LedgerRefusal, example: str) -> UserFacingError:
    unit = settings_of(ctx.campaign.extra).unit
    return UserFacingError(texts.ledger_refused(refusal, unit, example))


def _find_unit(campaign: Campaign, name: str, example: str) -> Unit:
    unit = campaign.find_unit(name)
    if unit is None:
        raise UserFacingError(unknown_unit(name, campaign, example))
    return unit


# ---- sections for bulletins (/月评, /红旗, /蜗牛) ----


async def red_flag_proposals(
    campaign: Campaign, session: AsyncSession, as_of: datetime
) -> list[tuple[Project, str]]:
    """Projects the rule proposes as 红旗项目 that an admin has not confirmed yet."""
    repo = ProjectRepository(session, campaign.id)
    confirmed = {r.project.id for r in await repo.red_flags()}
    rule = settings_of(campaign.extra).red_flag
    today = ledger_day(campaign, as_of)
    return propose_red_flags(await repo.all(), confirmed, campaign.window, today, rule)


async def red_flag_projects_reply_lines(ctx: CommandContext) -> list[str]:
    """/红旗's project part: confirmed ones for everyone, rule proposals for admins to confirm."""
    confirmed = await ProjectRepository(ctx.session, ctx.campaign.id).red_flags()
    proposals = (
        await red_flag_proposals(ctx.campaign, ctx.session, ctx.now) if ctx.actor.is_admin else []
    )
    return bulletin_texts.red_flag_lines(confirmed, proposals, show_proposals=ctx.actor.is_admin)


async def nominate_red_flag(ctx: CommandContext, args: str) -> Reply:
    """/红旗 提名 <项目> 理由=… (admin): confirm a proposed project, or add one, with a reason."""
    if not ctx.actor.is_admin:
        raise UserFacingError("仅管理员可提名红旗项目。")
    if not args.strip():  # the rule's proposals, for the admin to confirm
        lines = await red_flag_projects_reply_lines(ctx)
        return Reply.markdown("红旗项目", "\n".join(["### 红旗项目 · 提名", *lines]))
    try:
        reference, reason = nomination(args)
    except LedgerRefusal as refusal:
        raise refused(ctx, refusal, bulletin_texts.RED_FLAG_EXAMPLE) from None
    project = await find_project(ctx, reference, bulletin_texts.RED_FLAG_EXAMPLE)
    repo = ProjectRepository(ctx.session, ctx.campaign.id)
    await repo.confirm_red_flag(project.id, reason, ctx.actor.staff_id, ctx.now)
    await repo.add_event(
        project.id,
        "红旗",
        ledger_day(ctx.campaign, ctx.now),
        ctx.now,
        ctx.actor.staff_id,
        ctx.message.msg_id,
        reason,
    )
    return texts.red_flag_confirmed(project, reason)
