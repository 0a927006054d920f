"""历史: one unit's posts, corrections and binding changes, with who and when, newest first."""

from __future__ import annotations

from campaign import calendar
from campaign.membership import identify
from chat.context import CommandContext
from chat.messages import Reply
from chat.router import Router
from handlers.standings import resolve_unit
from handlers.texts import history as texts

router = Router[CommandContext]("history")

SHOWN = 15  # entries in one message; the rest are counted


@router.command(
    "历史", "history", help="单位的报送、更正和绑定记录（谁、何时）", usage="/历史 [单位]"
)
async def show_history(ctx: CommandContext) -> Reply:
    unit = resolve_unit(ctx, ctx.args, texts.HISTORY_EXAMPLE)
    versions = await ctx.repos.reports.history(unit.name, limit=SHOWN + 1)
    changes = await ctx.repos.audit.for_unit(unit.name, ("binding",), limit=SHOWN + 1)
    bindings = {b.staff_id: b for b in await ctx.repos.bindings.all()}

    def name_of(staff_id: str) -> str:  # as bound (or as the campaign file names them)
        return identify(staff_id, "", ctx.campaign.members, bindings.get(staff_id), ()).name

    entries = [texts.report_entry(ctx.campaign, v, name_of(v.staff_id)) for v in versions]
    entries += [texts.binding_entry(change) for change in changes]
    entries.sort(key=lambda entry: entry.at, reverse=True)
    more = len(entries) > SHOWN
    return texts.history_reply(unit.name, entries[:SHOWN], more, calendar.zone(ctx.campaign))
