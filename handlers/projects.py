"""项目 / 清单: the project ledger in chat, plus the 红旗项目/蜗牛项目 sections bulletins include."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from bot.chat.context import CommandContext
from bot.chat.router import Router
from bot.errors import UserFacingError
from bot.messages import Reply
from bulletins import texts as bulletin_texts
from campaign import AmountError, Campaign, Role, Unit, calendar, format_amount
from campaign.amounts import FULL_WIDTH
from campaign.projects import (
    Project,
    ProjectSettings,
    Stage,
    StageError,
    advance,
    find_stage,
    first_talk_conflict,
    first_talk_hold,
    four_lists,
    parse_money,
    propose_red_flag,
    settings_of,
)
from handlers.texts import projects as texts
from handlers.texts import unknown_unit
from storage.projects import ProjectRepository, ledger_day

router = Router("projects")

REGISTER_KEYS = {
    "名称": "name",
    "项目": "name",
    "项目名称": "name",
    "总投资": "total",
    "投资": "total",
    "外资": "foreign",
    "外资项目": "foreign",
    "世界500强": "world500",
    "500强": "world500",
    "合同开工": "contract_start",
    "合同竣工": "contract_end",
    "公司": "company",
    "企业": "company",
    "日期": "on",
    "登记日期": "on",
}
YES = {"是", "y", "yes", "true", "1", "有"}
NO = {"否", "n", "no", "false", "0", "无", "不是"}
_KEY = re.compile(r"(?:^|(?<=\s))([^\s=＝:：]+)[ \t]*[=＝:：]")
_DATE = re.compile(r"^(\d{4})(?:[-/.年])(\d{1,2})(?:[-/.月])(\d{1,2})日?$")
MAX_NAME = 60


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
    repo = ProjectRepository(ctx.session, ctx.campaign.id)
    today = ledger_day(ctx.campaign, ctx.now)
    name = ctx.args.strip()
    unit = _find_unit(ctx.campaign, name, texts.LISTS_EXAMPLE) if name else None
    if unit is None and not name and ctx.actor.role is Role.HEAD and ctx.actor.unit:
        unit = ctx.campaign.unit(ctx.actor.unit)
    lists = four_lists(await repo.all(), today)
    settings = settings_of(ctx.campaign.extra)
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
)
async def register_project(ctx: CommandContext) -> Reply:
    settings = settings_of(ctx.campaign.extra)
    prefix, fields = _fields(ctx.args)
    unit = acting_unit(ctx, prefix, texts.REGISTER_EXAMPLE)
    name = fields.get("name", "")
    if not name:
        raise UserFacingError(texts.name_missing())
    if len(name) > MAX_NAME:
        raise UserFacingError(texts.name_too_long(MAX_NAME))
    if name.lstrip("#＃").translate(FULL_WIDTH).isdigit():
        raise UserFacingError(texts.name_is_a_number())
    if "total" not in fields:
        raise UserFacingError(texts.total_missing())
    total = _money(fields["total"], texts.TOTAL, settings, texts.REGISTER_EXAMPLE)
    if total <= 0:
        raise UserFacingError(texts.total_not_positive())
    today = ledger_day(ctx.campaign, ctx.now)
    on = _date(fields["on"], texts.DATE, texts.REGISTER_EXAMPLE) if "on" in fields else today
    if on > today:
        raise UserFacingError(texts.registered_after_today(on))
    contract_start = _optional_date(fields, "contract_start", texts.CONTRACT_START)
    contract_end = _optional_date(fields, "contract_end", texts.CONTRACT_END)
    if contract_start and contract_end and contract_end < contract_start:
        raise UserFacingError(texts.contract_end_before_start())

    repo = ProjectRepository(ctx.session, ctx.campaign.id)
    if await repo.named(name, unit.name):
        existing = (await repo.named(name, unit.name))[0]
        raise UserFacingError(texts.name_taken(unit.name, name, existing.id))
    company = fields.get("company", "")
    project = Project(
        id=0,
        unit=unit.name,
        name=name,
        total=total,
        registered_on=on,
        company=company,
        is_foreign=_yes_no(fields, "foreign", texts.FOREIGN),
        is_world500=_yes_no(fields, "world500", texts.WORLD500),
        contract_start_on=contract_start,
        contract_end_on=contract_end,
    )
    if company:
        same_company = await repo.with_company(company)
        conflict = first_talk_conflict(unit.name, company, on, same_company, settings.first_talk)
        if conflict is not None:
            raise UserFacingError(texts.first_talk_refused(company, conflict))
    detail = texts.registration_detail(fields["total"].strip(), company)
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


@router.command(
    "签约", "sign", parent="项目", help="项目签约", usage="/项目 签约 <名称或编号> [日期]"
)
async def sign_project(ctx: CommandContext) -> Reply:
    return await advance_project(ctx, Stage.SIGNED)


@router.command(
    "注册",
    "注册(备案)",
    "注册（备案）",
    "备案",
    "incorporate",
    parent="项目",
    help="项目注册(备案)",
    usage="/项目 注册 <名称或编号> [日期]",
)
async def incorporate_project(ctx: CommandContext) -> Reply:
    return await advance_project(ctx, Stage.REGISTERED)


@router.command(
    "开工", "start", parent="项目", help="项目开工", usage="/项目 开工 <名称或编号> [日期]"
)
async def start_project(ctx: CommandContext) -> Reply:
    return await advance_project(ctx, Stage.STARTED)


@router.command(
    "竣工", "finish", parent="项目", help="项目竣工", usage="/项目 竣工 <名称或编号> [日期]"
)
async def finish_project(ctx: CommandContext) -> Reply:
    return await advance_project(ctx, Stage.COMPLETED)


@router.command(
    "投产", "produce", parent="项目", help="项目投产", usage="/项目 投产 <名称或编号> [日期]"
)
async def produce_project(ctx: CommandContext) -> Reply:
    return await advance_project(ctx, Stage.PRODUCING)


async def advance_project(ctx: CommandContext, stage: Stage) -> Reply:
    reference, on = _reference_and_date(ctx, ctx.args, texts.STAGE_EXAMPLE)
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


@router.command(
    "到资",
    "funds",
    parent="项目",
    help="记录项目累计到资",
    usage="/项目 到资 <名称或编号> <累计到资> [日期]",
)
async def record_funds(ctx: CommandContext) -> Reply:
    settings = settings_of(ctx.campaign.extra)
    words = ctx.args.split()
    today = ledger_day(ctx.campaign, ctx.now)
    on = today
    if len(words) >= 3 and (parsed := _parse_date(words[-1])) is not None:
        on, words = parsed, words[:-1]
    if len(words) < 2:
        raise UserFacingError(texts.funds_missing())
    if on > today:
        raise UserFacingError(texts.funded_after_today(on))
    project = await find_project(ctx, " ".join(words[:-1]), texts.FUNDS_EXAMPLE)
    amount = _money(words[-1], texts.FUNDS, settings, texts.FUNDS_EXAMPLE)
    if amount < project.funded:
        raise UserFacingError(texts.funds_below_before(amount, project.funded, settings.unit))
    before = format_amount(project.funded, settings.unit)
    first_funded_on = project.first_funded_on or (on if amount > 0 else None)
    moved = replace(project, funded=amount, first_funded_on=first_funded_on)
    repo = ProjectRepository(ctx.session, ctx.campaign.id)
    await repo.save(moved)
    await repo.add_event(
        moved.id,
        "到资",
        on,
        ctx.now,
        ctx.actor.staff_id,
        ctx.message.msg_id,
        f"{before} → {format_amount(amount, settings.unit)}",
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
    repo = ProjectRepository(ctx.session, ctx.campaign.id)
    projects = await repo.all(unit.name if unit else None)
    if stage is not None:
        projects = [p for p in projects if p.stage is stage]
    title = texts.project_list_title(unit.name if unit else None, stage)
    return texts.project_list(title, projects, settings_of(ctx.campaign.extra).unit)


async def show_project(ctx: CommandContext, word: str) -> Reply:
    repo = ProjectRepository(ctx.session, ctx.campaign.id)
    project = await repo.get(int(word.lstrip("#＃").translate(FULL_WIDTH)))
    if project is None:
        raise UserFacingError(texts.no_project_numbered(word.lstrip("#＃")))
    events = await repo.events(project.id)
    tz = calendar.zone(ctx.campaign)
    return texts.project_detail(project, events, settings_of(ctx.campaign.extra).unit, tz)


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
    reference = reference.strip()
    if not reference:
        raise UserFacingError(texts.reference_missing(example))
    repo = ProjectRepository(ctx.session, ctx.campaign.id)
    digits = reference.lstrip("#＃").translate(FULL_WIDTH)
    own_unit = None if ctx.actor.is_admin else ctx.actor.unit
    if not ctx.actor.is_admin and not own_unit:
        raise UserFacingError(texts.unbound_cannot_update())
    if digits.isdigit():
        project = await repo.get(int(digits))
        if project is None:
            raise UserFacingError(texts.no_project_numbered(digits))
    else:
        found = await repo.named(reference, own_unit)
        if not found:
            raise UserFacingError(texts.no_project_named(reference))
        if len(found) > 1:
            raise UserFacingError(texts.several_projects_named(reference, found))
        project = found[0]
    if own_unit is not None and project.unit != own_unit:
        raise UserFacingError(texts.other_units_project(project, own_unit))
    return project


def _find_unit(campaign: Campaign, name: str, example: str) -> Unit:
    unit = campaign.find_unit(name)
    if unit is None:
        raise UserFacingError(unknown_unit(name, campaign, example))
    return unit


# ---- parsing ----


def _fields(args: str) -> tuple[str, dict[str, str]]:
    """'南湖区 名称=… 总投资=…' -> ('南湖区', {'name': …, 'total': …}); values run to the next key."""
    text = args.strip()
    keys = list(_KEY.finditer(text))
    prefix = text[: keys[0].start()].strip() if keys else text
    fields: dict[str, str] = {}
    for index, match in enumerate(keys):
        key = match.group(1)
        if key not in REGISTER_KEYS:
            known = dict.fromkeys(k for k in REGISTER_KEYS if len(k) > 1)
            raise UserFacingError(texts.unknown_field(key, known))
        end = keys[index + 1].start() if index + 1 < len(keys) else len(text)
        attr = REGISTER_KEYS[key]
        if attr in fields:
            raise UserFacingError(texts.field_twice(key))
        fields[attr] = text[match.end() : end].strip()
    return prefix, fields


def _money(text: str, label: str, settings: ProjectSettings, example: str) -> Decimal:
    if not text.strip():
        raise UserFacingError(texts.money_missing(label, example))
    try:
        return parse_money(text, settings)
    except AmountError as error:
        raise UserFacingError(texts.bad_money(label, error, settings.unit, example)) from None


def _parse_date(text: str) -> date | None:
    match = _DATE.match(text.strip().translate(FULL_WIDTH))
    if not match:
        return None
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def _date(text: str, label: str, example: str) -> date:
    parsed = _parse_date(text)
    if parsed is None:
        raise UserFacingError(texts.not_a_date(label, text, example))
    return parsed


def _optional_date(fields: dict[str, str], attr: str, label: str) -> date | None:
    text = fields.get(attr, "")
    return _date(text, label, texts.REGISTER_EXAMPLE) if text else None


def _yes_no(fields: dict[str, str], attr: str, label: str) -> bool:
    text = fields.get(attr, "").strip().casefold()
    if not text or text in NO:
        return False
    if text in YES:
        return True
    raise UserFacingError(texts.yes_or_no(label, fields[attr]))


def _reference_and_date(ctx: CommandContext, args: str, example: str) -> tuple[str, date]:
    """'新能源电池 2024-03-15' -> ('新能源电池', date); the date defaults to the message's day."""
    words = args.split()
    if len(words) >= 2 and (parsed := _parse_date(words[-1])) is not None:
        return " ".join(words[:-1]), parsed
    if words and _DATE.match(words[-1].translate(FULL_WIDTH)):
        raise UserFacingError(texts.invalid_date(words[-1], example))
    return " ".join(words), ledger_day(ctx.campaign, ctx.now)


# ---- sections for bulletins (/月评, /红旗, /蜗牛) ----


async def red_flag_proposals(
    campaign: Campaign, session: AsyncSession, as_of: datetime
) -> list[tuple[Project, str]]:
    """Projects the rule proposes as 红旗项目 that an admin has not confirmed yet."""
    repo = ProjectRepository(session, campaign.id)
    confirmed = {r.project.id for r in await repo.red_flags()}
    rule = settings_of(campaign.extra).red_flag
    today = ledger_day(campaign, as_of)
    return [
        (project, reason)
        for project in await repo.all()
        if project.id not in confirmed
        and (reason := propose_red_flag(project, campaign.window, today, rule)) is not None
    ]


async def red_flag_projects_reply_lines(ctx: CommandContext) -> list[str]:
    """/红旗's project part: confirmed ones for everyone, rule proposals for admins to confirm."""
    confirmed = await ProjectRepository(ctx.session, ctx.campaign.id).red_flags()
    proposals = (
        await red_flag_proposals(ctx.campaign, ctx.session, ctx.now) if ctx.actor.is_admin else []
    )
    return bulletin_texts.red_flag_lines(confirmed, proposals, show_proposals=ctx.actor.is_admin)


@router.command(
    "提名",
    "nominate",
    parent="红旗",
    help="确认红旗项目；不写项目则列出规则提名",
    usage="/红旗 提名 <项目> 理由=…",
    admin_only=True,
    refusal="仅管理员可提名红旗项目。",
)
async def nominate_red_flag(ctx: CommandContext) -> Reply:
    """Confirm a proposed project, or add one, with a reason."""
    args = ctx.args
    if not args.strip():  # the rule's proposals, for the admin to confirm
        lines = await red_flag_projects_reply_lines(ctx)
        return texts.red_flag_nominations(lines)
    match = re.search(r"(?:理由|原因)\s*[=＝:：]", args)
    reference = args[: match.start()] if match else args
    reason = args[match.end() :].strip() if match else ""
    if not reason:
        raise UserFacingError(texts.red_flag_reason_missing())
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
