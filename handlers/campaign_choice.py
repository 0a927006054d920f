"""赛事: which campaign this group runs; the campaigns come from the context's CampaignBook."""

from __future__ import annotations

from campaign.access import Action
from chat.context import CommandContext
from chat.errors import UserFacingError
from chat.messages import Reply
from chat.router import Router
from handlers.texts import campaigns as texts

router = Router[CommandContext]("campaigns")


@router.command(
    "赛事",
    "campaign",
    help="查看本群当前赛事；管理员写赛事编号可切换",
    usage="/赛事 [编号]",
    args_action=Action.SWITCH,
    refusal=texts.switch_admin_only(),
)
async def choose_campaign(ctx: CommandContext) -> Reply:
    book = ctx.campaigns
    wanted = ctx.args.strip()
    campaigns = list(book.by_id.values())
    if not wanted:
        return texts.campaign_list(campaigns, ctx.campaign.id, book.default_id)
    if not ctx.actor.is_admin:
        raise UserFacingError(texts.switch_admin_only())
    chosen = book.get(wanted) or next((c for c in campaigns if c.name == wanted), None)
    if chosen is None:
        raise UserFacingError(texts.unknown_campaign(wanted, book.by_id, book.default_id))
    old = await book.bound_campaign_id(ctx.repos.groups, ctx.message.conversation_id)
    await book.choose(
        ctx.repos.groups, ctx.message.conversation_id, chosen.id, ctx.actor.staff_id, ctx.now
    )
    await ctx.record("group", "switch", ctx.message.conversation_id, old=old or "", new=chosen.id)
    return texts.campaign_chosen(chosen)
