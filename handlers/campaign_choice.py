"""赛事: which campaign this group runs. Built around the bot's CampaignBook, so it is added at start."""

from __future__ import annotations

from bot.chat.campaign_book import CampaignBook
from bot.chat.context import CommandContext
from bot.chat.router import Router
from bot.errors import UserFacingError
from bot.messages import Reply
from handlers import project_texts


def campaign_router(book: CampaignBook) -> Router:
    router = Router("campaigns")

    @router.command(
        "赛事",
        "campaign",
        help="查看本群当前赛事；管理员写赛事编号可切换",
        usage="/赛事 [编号]",
    )
    async def choose_campaign(ctx: CommandContext) -> Reply:
        wanted = ctx.args.strip()
        campaigns = list(book.by_id.values())
        if not wanted:
            return project_texts.campaign_list(campaigns, ctx.campaign.id, book.default_id)
        if not ctx.actor.is_admin:
            raise UserFacingError("仅管理员可切换赛事。发送 /赛事 查看当前赛事。")
        chosen = book.get(wanted) or next((c for c in campaigns if c.name == wanted), None)
        if chosen is None:
            raise UserFacingError(
                f"未知赛事“{wanted}”。可选：{'、'.join(book.by_id)}。\n例：/赛事 {book.default_id}"
            )
        await book.choose(ctx.repos.state, ctx.message.conversation_id, chosen.id)
        return project_texts.campaign_chosen(chosen)

    return router
