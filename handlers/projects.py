"""项目 / 清单: the project ledger in chat, plus the 红旗项目/蜗牛项目 sections bulletins include."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

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
from handlers import project_texts as texts
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
    repo = ctx.repos.projects
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
    prefix, fields = _fields(args)
    unit = acting_unit(ctx, prefix, texts.REGISTER_EXAMPLE)
    name = fields.get("name", "")
    if not name:
        raise UserFacingError(f"请写明项目名称。\n例：{texts.REGISTER_EXAMPLE}")
    if len(name) > MAX_NAME:
        raise UserFacingError(f"项目名称过长（最多{MAX_NAME}字）。")
    if name.lstrip("#＃").translate(FULL_WIDTH).isdigit():
        raise UserFacingError(
            f"项目名称不能是纯数字（会与编号混淆）。\n例：{texts.REGISTER_EXAMPLE}"
        )
    if "total" not in fields:
        raise UserFacingError(f"请写明总投资。\n例：{texts.REGISTER_EXAMPLE}")
    total = _money(fields["total"], "总投资", settings, texts.REGISTER_EXAMPLE)
    if total <= 0:
        raise UserFacingError(f"总投资须大于0。\n例：{texts.REGISTER_EXAMPLE}")
    today = ledger_day(ctx.campaign, ctx.now)
    on = _date(fields["on"], "日期", texts.REGISTER_EXAMPLE) if "on" in fields else today
    if on > today:
        raise UserFacingError(f"登记日期 {on.isoformat()} 晚于今天，请填写实际日期。")
    contract_start = _optional_date(fields, "contract_start", "合同开工")
    contract_end = _optional_date(fields, "contract_end", "合同竣工")
    if contract_start and contract_end and contract_end < contract_start:
        raise UserFacingError(
            f"合同竣工日期早于合同开工日期，请核对。\n例：{texts.REGISTER_EXAMPLE}"
        )

    repo = ctx.repos.projects
    if await repo.named(name, unit.name):
        existing = (await repo.named(name, unit.name))[0]
        raise UserFacingError(
            f"{unit.name}已有项目“{name}”（#{existing.id}）。请换个名称，或用编号更新它。"
        )
    company = fields.get("company", "")
    project = Project(
        id=0,
        unit=unit.name,
        name=name,
        total=total,
        registered_on=on,
        company=company,
        is_foreign=_yes_no(fields, "foreign", "外资"),
        is_world500=_yes_no(fields, "world500", "世界500强"),
        contract_start_on=contract_start,
        contract_end_on=contract_end,
    )
    if company:
        same_company = await repo.with_company(company)
        conflict = first_talk_conflict(unit.name, company, on, same_company, settings.first_talk)
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
    reference, on = _reference_and_date(ctx, args, texts.STAGE_EXAMPLE)
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
    return texts.advanced(moved, stage, on)


async def record_funds(ctx: CommandContext, args: str) -> Reply:
    settings = settings_of(ctx.campaign.extra)
    words = args.split()
    today = ledger_day(ctx.campaign, ctx.now)
    on = today
    if len(words) >= 3 and (parsed := _parse_date(words[-1])) is not None:
        on, words = parsed, words[:-1]
    if len(words) < 2:
        raise UserFacingError(f"请写明项目和累计到资。\n例：{texts.FUNDS_EXAMPLE}")
    if on > today:
        raise UserFacingError(f"到资日期 {on.isoformat()} 晚于今天，请填写实际日期。")
    project = await find_project(ctx, " ".join(words[:-1]), texts.FUNDS_EXAMPLE)
    amount = _money(words[-1], "累计到资", settings, texts.FUNDS_EXAMPLE)
    if amount < project.funded:
        raise UserFacingError(
            f"累计到资 {format_amount(amount, settings.unit)} 低于上次的"
            f" {format_amount(project.funded, settings.unit)}。到资填写累计数。\n例：{texts.FUNDS_EXAMPLE}"
        )
    before = format_amount(project.funded, settings.unit)
    first_funded_on = project.first_funded_on or (on if amount > 0 else None)
    moved = replace(project, funded=amount, first_funded_on=first_funded_on)
    repo = ctx.repos.projects
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
    repo = ctx.repos.projects
    projects = await repo.all(unit.name if unit else None)
    if stage is not None:
        projects = [p for p in projects if p.stage is stage]
    title = f"{unit.name if unit else '全市'}项目" + (f" · {stage}" if stage else "")
    return texts.project_list(title, projects, settings_of(ctx.campaign.extra).unit)


async def show_project(ctx: CommandContext, word: str) -> Reply:
    repo = ctx.repos.projects
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
    reference = reference.strip()
    if not reference:
        raise UserFacingError(f"请写明项目名称或编号。\n例：{example}")
    repo = ctx.repos.projects
    digits = reference.lstrip("#＃").translate(FULL_WIDTH)
    own_unit = None if ctx.actor.is_admin else ctx.actor.unit
    if not ctx.actor.is_admin and not own_unit:
        raise UserFacingError("您未绑定单位，不能更新项目。请管理员用 /绑定 绑定。")
    if digits.isdigit():
        project = await repo.get(int(digits))
        if project is None:
            raise UserFacingError(f"没有编号为{digits}的项目。发送 /项目 列表 查看。")
    else:
        found = await repo.named(reference, own_unit)
        if not found:
            raise UserFacingError(f"没有找到项目“{reference}”。发送 /项目 列表 查看名称和编号。")
        if len(found) > 1:
            ids = "、".join(f"#{p.id}（{p.unit}）" for p in found)
            raise UserFacingError(f"有多个项目叫“{reference}”：{ids}。请用编号。")
        project = found[0]
    if own_unit is not None and project.unit != own_unit:
        raise UserFacingError(
            f"项目#{project.id}属于{project.unit}，您只能更新本单位（{own_unit}）的项目。"
        )
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
            known = "、".join(dict.fromkeys(k for k in REGISTER_KEYS if len(k) > 1))
            raise UserFacingError(f"未知字段“{key}”。可用：{known}。\n例：{texts.REGISTER_EXAMPLE}")
        end = keys[index + 1].start() if index + 1 < len(keys) else len(text)
        attr = REGISTER_KEYS[key]
        if attr in fields:
            raise UserFacingError(
                f"“{key}”填写了两次，请只保留一个。\n例：{texts.REGISTER_EXAMPLE}"
            )
        fields[attr] = text[match.end() : end].strip()
    return prefix, fields


def _money(text: str, label: str, settings: ProjectSettings, example: str) -> Decimal:
    if not text.strip():
        raise UserFacingError(f"“{label}”缺少数字。\n例：{example}")
    try:
        return parse_money(text, settings)
    except AmountError as error:
        raise UserFacingError(
            f"{label}：{error}，应为{settings.unit}数字（可写亿美元、亿元等）。\n例：{example}"
        ) from None


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
        raise UserFacingError(f"{label}“{text}”不是日期，应写成 2024-03-01。\n例：{example}")
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
    raise UserFacingError(
        f"{label}请填“是”或“否”，不是“{fields[attr]}”。\n例：{texts.REGISTER_EXAMPLE}"
    )


def _reference_and_date(ctx: CommandContext, args: str, example: str) -> tuple[str, date]:
    """'新能源电池 2024-03-15' -> ('新能源电池', date); the date defaults to the message's day."""
    words = args.split()
    if len(words) >= 2 and (parsed := _parse_date(words[-1])) is not None:
        return " ".join(words[:-1]), parsed
    if words and _DATE.match(words[-1].translate(FULL_WIDTH)):
        raise UserFacingError(f"日期“{words[-1]}”无效。\n例：{example}")
    return " ".join(words), ledger_day(ctx.campaign, ctx.now)


# ---- sections for bulletins (/月评, /红旗, /蜗牛) ----


async def red_flag_proposals(
    campaign: Campaign, projects: ProjectRepository, as_of: datetime
) -> list[tuple[Project, str]]:
    """Projects the rule proposes as 红旗项目 that an admin has not confirmed yet."""
    confirmed = {r.project.id for r in await projects.red_flags()}
    rule = settings_of(campaign.extra).red_flag
    today = ledger_day(campaign, as_of)
    return [
        (project, reason)
        for project in await projects.all()
        if project.id not in confirmed
        and (reason := propose_red_flag(project, campaign.window, today, rule)) is not None
    ]


async def red_flag_projects_reply_lines(ctx: CommandContext) -> list[str]:
    """/红旗's project part: confirmed ones for everyone, rule proposals for admins to confirm."""
    confirmed = await ctx.repos.projects.red_flags()
    proposals = (
        await red_flag_proposals(ctx.campaign, ctx.repos.projects, ctx.now)
        if ctx.actor.is_admin
        else []
    )
    return bulletin_texts.red_flag_lines(confirmed, proposals, show_proposals=ctx.actor.is_admin)


async def nominate_red_flag(ctx: CommandContext, args: str) -> Reply:
    """/红旗 提名 <项目> 理由=… (admin): confirm a proposed project, or add one, with a reason."""
    if not ctx.actor.is_admin:
        raise UserFacingError("仅管理员可提名红旗项目。")
    if not args.strip():  # the rule's proposals, for the admin to confirm
        lines = await red_flag_projects_reply_lines(ctx)
        return Reply.markdown("红旗项目", "\n".join(["### 红旗项目 · 提名", *lines]))
    match = re.search(r"(?:理由|原因)\s*[=＝:：]", args)
    reference = args[: match.start()] if match else args
    reason = args[match.end() :].strip() if match else ""
    if not reason:
        raise UserFacingError(f"请写明理由。\n例：{bulletin_texts.RED_FLAG_EXAMPLE}")
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
    return texts.red_flag_confirmed(project, reason)
