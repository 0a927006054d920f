"""历史: one unit's posts, corrections and binding changes, with who and when, newest first."""

from __future__ import annotations

from campaign import calendar
from campaign.membership import identify
from chat.context import CommandContext
from chat.messages import Reply
from chat.router import Router
from handlers.standings import resolve_unit
from handlers.texts import history as texts
from storage.report_version import newest_made, replaced_versions

router = Router[CommandContext]("history")

SHOWN = 10  # entries in one message: about a phone's screen


@router.command(
    "历史", "history", help="单位的报送、更正和绑定记录（谁、何时）", usage="/历史 [单位]"
)
async def show_history(ctx: CommandContext) -> Reply:
    unit = resolve_unit(ctx, ctx.args, texts.HISTORY_EXAMPLE)
    versions = await ctx.repos.reports.unit_versions(unit.name)
    replaced = replaced_versions(versions)
    changes = await ctx.repos.audit.for_unit(unit.name, ("binding",), limit=SHOWN + 1)
    bindings = {b.staff_id: b for b in await ctx.repos.bindings.all()}

    def name_of(staff_id: str) -> str:  # as bound (or as the campaign file names them)
        return identify(staff_id, "", ctx.campaign.members, bindings.get(staff_id), ()).name

    shown = newest_made(versions)[: SHOWN + 1]
    corrections = [v.id for v in shown if v.kind == "correction"]
    made = await ctx.repos.bulletins.versions_made_by(corrections)
    entries = [
        texts.report_entry(
            ctx.campaign,
            v,
            name_of(v.staff_id),
            replaced.get(v.id),
            texts.versions_made(made.get(v.id, [])),
        )
        for v in shown
    ]
    entries += [texts.binding_entry(change) for change in changes]
    entries.sort(key=lambda entry: entry.at, reverse=True)  # stable: versions keep their order
    more = len(entries) > SHOWN
    return texts.history_reply(unit.name, entries[:SHOWN], more, calendar.zone(ctx.campaign))
