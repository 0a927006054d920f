"""项目 / 清单: the project ledger in chat, plus the 红旗项目/蜗牛项目 sections bulletins include."""

from __future__ import annotations

from datetime import datetime

from bulletins import texts as bulletin_texts
from campaign import Campaign, Role, Unit, calendar, format_amount
from campaign.access import Action
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
    transfer_entry,
    with_funds,
)
from campaign.projects import (
    Project,
    Stage,
    StageError,
    TransferError,
    advance,
    find_stage,
    first_talk_conflict,
    first_talk_hold,
    four_lists,
    propose_red_flags,
    transfer,
)
from chat.context import CommandContext
from chat.errors import UserFacingError
from chat.messages import Reply
from chat.router import Router
from handlers.texts import projects as texts
from handlers.texts import unknown_unit
from storage.projects import ProjectRepository, ledger_day

router = Router[CommandContext]("projects")


@router.command(
    "项目",
    "project",
    help="项目详情；不写编号查看台账用法",
    usage="/项目 [编号]",
)
async def manage_project(ctx: CommandContext) -> Reply:
    word, _, rest = ctx.args.strip().partition(" ")
    word, rest = word.strip(), rest.strip()
    if not word:
        return texts.usage_reply()
    if word.lstrip("#＃").translate(FULL_WIDTH).isdigit() and not rest:
        return await show_project(ctx, word)
    raise UserFacingError(texts.unrecognized(word))


@router.command(
    "清单",
    "lists",
    help="四张清单：在谈、签约、注册(备案)、开工的个数与总投资",
    usage="/清单 [单位]",
)
async def show_four_lists(ctx: CommandContext) -> Reply:
    repo = ctx.repos.projects
    today = ledger_day(ctx.campaign, ctx.now)
    name = ctx.args.strip()
    unit = _find_unit(ctx.campaign, name, texts.LISTS_EXAMPLE) if name else None
    if unit is None and not name and ctx.actor.role is Role.HEAD and ctx.actor.unit:
        unit = ctx.campaign.unit(ctx.actor.unit)
    lists = four_lists(await repo.all(), today)
    settings = ctx.campaign.projects
    if unit is not None:
        return texts.four_lists_text(unit.name, lists, [unit.name], settings.unit, today)
    return texts.four_lists_text(
        texts.CITY, lists, [u.name for u in ctx.campaign.units], settings.unit, today
    )


# ---- /项目 sub-commands ----


@router.command(
    "登记",
    "register",
    parent="项目",
    help="登记在谈项目（管理员代登记先写单位）",
    usage="/项目 登记 名称=… 总投资=… [外资=是] [公司=…]",
    action=Action.PROJECT,
)
async def register_project(ctx: CommandContext) -> Reply:
    settings = ctx.campaign.projects
    try:
        prefix, fields = register_fields(ctx.args)
    except LedgerRefusal as refusal:
        raise refused(ctx, refusal, texts.REGISTER_EXAMPLE) from None
    unit = acting_unit(ctx, prefix, texts.REGISTER_EXAMPLE)
    repo = ctx.repos.projects
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
    detail = texts.registration_detail(format_amount(project.total, settings.unit), company)
    project = await repo.add(
        project,
        created_at=ctx.now,
        created_by=ctx.actor.staff_id,
        msg_id=ctx.message.msg_id,
        detail=detail,
    )
    await ctx.record("project", "register", f"#{project.id}", unit=unit.name, new=project.name)
    hold = (
        first_talk_hold(company, await repo.with_company(company), settings.first_talk)
        if company
        else None
    )
    return texts.registered(project, settings.unit, hold)


# The stages a project moves through after 在谈, each a /项目 sub-command: its words (Chinese first)
# and its help. One table, so a stage's command cannot drift from the others.
STAGE_COMMANDS = (
    (Stage.SIGNED, ("签约", "sign"), "项目签约"),
    (
        Stage.REGISTERED,
        ("注册", "注册(备案)", "注册（备案）", "备案", "incorporate"),
        "项目注册(备案)",
    ),
    (Stage.STARTED, ("开工", "start"), "项目开工"),
    (Stage.COMPLETED, ("竣工", "finish"), "项目竣工"),
    (Stage.PRODUCING, ("投产", "produce"), "项目投产"),
)


def _stage_command(stage: Stage, words: tuple[str, ...], help: str) -> None:
    async def move_to_stage(ctx: CommandContext) -> Reply:
        return await advance_project(ctx, stage)

    router.command(
        *words,
        parent="项目",
        help=help,
        usage=f"/项目 {words[0]} <名称或编号> [日期]",
        action=Action.PROJECT,
    )(move_to_stage)


for _stage, _words, _help in STAGE_COMMANDS:
    _stage_command(_stage, _words, _help)


async def advance_project(ctx: CommandContext, stage: Stage) -> Reply:
    try:
        reference, on = reference_and_date(ctx.args, ledger_day(ctx.campaign, ctx.now))
    except LedgerRefusal as refusal:
        raise refused(ctx, refusal, texts.STAGE_EXAMPLE) from None
    project = await find_project(ctx, reference, texts.STAGE_EXAMPLE)
    try:
        moved = advance(project, stage, on, ledger_day(ctx.campaign, ctx.now))
    except StageError as error:
        raise UserFacingError(str(error)) from None
    repo = ctx.repos.projects
    await repo.save(moved)
    await repo.add_event(
        moved.id, stage.value, on, ctx.now, ctx.actor.staff_id, ctx.message.msg_id, ""
    )
    await ctx.record(
        "project",
        "stage",
        f"#{moved.id}",
        unit=moved.unit,
        old=project.stage.value,
        new=f"{stage.value} {on:%Y-%m-%d}",
    )
    return texts.advanced(moved, stage, on)


@router.command(
    "到资",
    "funds",
    parent="项目",
    help="记录项目累计到资",
    usage="/项目 到资 <名称或编号> <累计到资> [日期]",
    action=Action.PROJECT,
)
async def record_funds(ctx: CommandContext) -> Reply:
    settings = ctx.campaign.projects
    try:
        reference, amount_text, on = funds_entry(ctx.args, ledger_day(ctx.campaign, ctx.now))
    except LedgerRefusal as refusal:
        raise refused(ctx, refusal, texts.FUNDS_EXAMPLE) from None
    project = await find_project(ctx, reference, texts.FUNDS_EXAMPLE)
    try:
        moved = with_funds(project, read_money(amount_text, "累计到资", settings), on)
    except LedgerRefusal as refusal:
        raise refused(ctx, refusal, texts.FUNDS_EXAMPLE) from None
    before = format_amount(project.funded, settings.unit)
    repo = ctx.repos.projects
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
    await ctx.record(
        "project",
        "funds",
        f"#{moved.id}",
        unit=moved.unit,
        old=before,
        new=format_amount(moved.funded, settings.unit),
    )
    return texts.funded(moved, before, settings.unit)


@router.command(
    "列表",
    "list",
    parent="项目",
    help="项目列表，可按单位、阶段筛选",
    usage="/项目 列表 [单位] [阶段]",
)
async def list_projects(ctx: CommandContext) -> Reply:
    unit: Unit | None = None
    stage: Stage | None = None
    for word in ctx.args.split():
        if (found := find_stage(word)) is not None:
            stage = found
        else:
            unit = _find_unit(ctx.campaign, word, texts.LIST_EXAMPLE)
    if unit is None and ctx.actor.role is Role.HEAD and ctx.actor.unit:
        unit = ctx.campaign.unit(ctx.actor.unit)
    repo = ctx.repos.projects
    projects = await (repo.credited_to(unit.name) if unit else repo.all())
    if stage is not None:
        projects = [p for p in projects if p.stage is stage]
    title = texts.project_list_title(unit.name if unit else None, stage)
    return texts.project_list(title, projects, ctx.campaign.projects.unit)


@router.command(
    "流转",
    "transfer",
    parent="项目",
    help="项目流转至其他单位（首谈地和承接地同等计分）",
    usage="/项目 流转 <项目名称或编号> <承接单位>",
    admin_only=True,
    refusal=texts.TRANSFER_REFUSAL,
)
async def transfer_project(ctx: CommandContext) -> Reply:
    """Seed 001 二(一)3: a project the 市投促中心 moves to another unit for talks counts fully for
    its 首谈地 and its 承接地; an admin (the commerce bureau) records it, heads cannot."""
    campaign = ctx.campaign
    try:
        reference, named = transfer_entry(
            ctx.args, lambda word: campaign.find_unit(word) is not None
        )
    except LedgerRefusal as refusal:
        raise refused(ctx, refusal, texts.TRANSFER_EXAMPLE) from None
    receiver = _find_unit(campaign, named, texts.TRANSFER_EXAMPLE)
    project = await find_project(ctx, reference, texts.TRANSFER_EXAMPLE)
    try:
        moved = transfer(project, receiver.name)
    except TransferError as error:
        raise UserFacingError(str(error)) from None
    repo = ctx.repos.projects
    if same_name := await repo.named(moved.name, moved.unit):
        raise UserFacingError(texts.transfer_name_taken(moved.unit, moved.name, same_name[0].id))
    await repo.save(moved)
    detail = texts.transfer_detail(project.unit, moved.unit)
    today = ledger_day(campaign, ctx.now)
    await repo.add_event(
        moved.id, "流转", today, ctx.now, ctx.actor.staff_id, ctx.message.msg_id, detail
    )
    await ctx.record(
        "project", "transfer", f"#{moved.id}", unit=moved.unit, old=project.unit, new=moved.unit
    )
    return texts.transferred(moved, project.unit)


async def show_project(ctx: CommandContext, word: str) -> Reply:
    repo = ctx.repos.projects
    project = await repo.get(int(word.lstrip("#＃").translate(FULL_WIDTH)))
    if project is None:
        raise UserFacingError(texts.no_project_numbered(word.lstrip("#＃")))
    events = await repo.events(project.id)
    tz = calendar.zone(ctx.campaign)
    return texts.project_detail(project, events, ctx.campaign.projects.unit, tz)


# ---- who acts for which unit, and which project a reference names ----


def acting_unit(ctx: CommandContext, named: str, example: str) -> Unit:
    """A head acts for its own unit; an admin must name the unit."""
    actor = ctx.actor
    if not actor.is_member:
        raise UserFacingError(texts.not_a_member())
    if named:
        unit = _find_unit(ctx.campaign, named, example)
        if actor.is_admin or unit.name == actor.unit:
            return unit
        raise UserFacingError(texts.not_your_unit(actor.unit, unit.name))
    if actor.unit:
        return ctx.campaign.unit(actor.unit)
    raise UserFacingError(texts.admin_names_unit())


async def find_project(ctx: CommandContext, reference: str, example: str) -> Project:
    """A project by 编号 (#12 or 12) or by name; heads may only touch their own unit's projects."""
    try:
        wanted = project_reference(reference)
    except LedgerRefusal as refusal:
        raise refused(ctx, refusal, example) from None
    repo = ctx.repos.projects
    own_unit = None if ctx.actor.is_admin else ctx.actor.unit
    if not ctx.actor.is_admin and not own_unit:
        raise UserFacingError(texts.unbound_cannot_update())
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
    unit = ctx.campaign.projects.unit
    return UserFacingError(texts.ledger_refused(refusal, unit, example))


def _find_unit(campaign: Campaign, name: str, example: str) -> Unit:
    unit = campaign.find_unit(name)
    if unit is None:
        raise UserFacingError(unknown_unit(name, campaign, example))
    return unit


# ---- sections for bulletins (/月评, /红旗, /蜗牛) ----


async def red_flag_proposals(
    campaign: Campaign, projects: ProjectRepository, as_of: datetime
) -> list[tuple[Project, str]]:
    """Projects the rule proposes as 红旗项目 that an admin has not confirmed yet."""
    confirmed = {r.project.id for r in await projects.red_flags()}
    rule = campaign.projects.red_flag
    today = ledger_day(campaign, as_of)
    return propose_red_flags(await projects.all(), confirmed, campaign.window, today, rule)


async def red_flag_projects_reply_lines(ctx: CommandContext) -> list[str]:
    """/红旗's project part: confirmed ones for everyone, rule proposals for admins to confirm."""
    confirmed = await ctx.repos.projects.red_flags()
    proposals = (
        await red_flag_proposals(ctx.campaign, ctx.repos.projects, ctx.now)
        if ctx.actor.is_admin
        else []
    )
    return bulletin_texts.red_flag_lines(confirmed, proposals, show_proposals=ctx.actor.is_admin)


@router.command(
    "提名",
    "nominate",
    parent="红旗",
    help="确认红旗项目；不写项目则列出规则提名",
    usage="/红旗 提名 <项目> 理由=…",
    action=Action.NOMINATE,
    refusal="仅管理员和领导可提名红旗项目。",
)
async def nominate_red_flag(ctx: CommandContext) -> Reply:
    """Confirm a proposed project, or add one, with a reason."""
    args = ctx.args
    if not args.strip():  # the rule's proposals, for the admin to confirm
        lines = await red_flag_projects_reply_lines(ctx)
        return texts.red_flag_nominations(lines)
    try:
        reference, reason = nomination(args)
    except LedgerRefusal as refusal:
        raise refused(ctx, refusal, bulletin_texts.RED_FLAG_EXAMPLE) from None
    project = await find_project(ctx, reference, bulletin_texts.RED_FLAG_EXAMPLE)
    repo = ctx.repos.projects
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
    await ctx.record("project", "nominate", f"#{project.id}", unit=project.unit, reason=reason)
    return texts.red_flag_confirmed(project, reason)
