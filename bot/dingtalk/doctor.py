"""`saima doctor`: check the DingTalk configuration for real and say, in Chinese and English, what to fix."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from yarl import URL

from bot.dingtalk.sender import APP, ROBOT, Sender
from chat.errors import DingTalkApiError

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.dingtalk.services import DingTalk
    from storage import Database

OPEN_TIMEOUT_SECONDS = 15.0


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _explain(error: DingTalkApiError) -> str:
    known = {
        "invalidClientIdOrSecret": "AppKey/AppSecret 不正确 / wrong DINGTALK_CLIENT_ID or DINGTALK_CLIENT_SECRET",
        "invalidParameter.robotCode.auth": "robotCode 与应用不匹配 / DINGTALK_ROBOT_CODE does not belong to this app",
        "invalidParameter.robotCode.notExsit": "机器人不在该群 / add the app robot to the group",
        "invalidParameter.msgParam.tooLong": "消息过长 / a message over DingTalk's size limit",
        "460101": "消息过长 / a webhook message over 20,000 bytes",
        "invalid.openConversationId": "群会话 ID 无效 / DINGTALK_OPEN_CONVERSATION_ID is wrong",
        "bot.stopped": "机器人已停用 / the robot is disabled in the developer console",
        "310000": "加签或关键词校验失败 / DINGTALK_WEBHOOK_SECRET does not match the robot's 加签 secret",
        "300001": "webhook 的 access_token 无效 / DINGTALK_WEBHOOK_URL is wrong",
        "130101": "发送太快被限流 / throttled: wait 10 minutes",
        "timeout": "连接超时 / no answer in time: check the network or DINGTALK_OPENAPI_ENDPOINT",
        "network": "无法连接 / cannot connect: check the network or DINGTALK_OPENAPI_ENDPOINT",
    }
    return known.get(
        error.code, f"钉钉返回错误 / DingTalk answered status={error.status} code={error.code}"
    )


async def _stream_registration(settings: Any) -> Check:
    from bot.dingtalk.stream import probe_stream_registration

    try:
        ok = await asyncio.wait_for(probe_stream_registration(settings), OPEN_TIMEOUT_SECONDS + 1)
    except TimeoutError:
        ok = False
    if ok:
        return Check(
            "Stream 模式注册 / stream registration", True, "gateway accepted the credentials"
        )
    return Check(
        "Stream 模式注册 / stream registration",
        False,
        "connections/open 失败 / the gateway refused or did not answer",
        "在开发者后台把机器人消息接收模式设为 Stream / set the robot's message mode to Stream in the console",
    )


async def run_checks(
    settings: Settings, database: Database, dingtalk: DingTalk, *, send_test: bool = False
) -> list[Check]:
    """`dingtalk` is built with max_attempts=1, so a failure is reported rather than retried."""
    checks: list[Check] = []
    client, sender = dingtalk.client, dingtalk.sender
    app_ok = False
    if not settings.has_app_credentials:
        checks.append(
            Check(
                "应用凭证 / app credentials",
                False,
                "未设置 / not set",
                "设置 DINGTALK_CLIENT_ID 和 DINGTALK_CLIENT_SECRET（开发者后台 → 应用凭证）",
            )
        )
    else:
        try:
            await client.access_token()
            app_ok = True
            checks.append(Check("获取 access token / access token", True, "ok"))
        except DingTalkApiError as error:
            checks.append(
                Check(
                    "获取 access token / access token",
                    False,
                    _explain(error),
                    "核对 DINGTALK_CLIENT_ID / DINGTALK_CLIENT_SECRET",
                )
            )
    if app_ok:
        checks.append(await _stream_registration(settings))
    target = settings.open_conversation_id
    if not target:
        async with database.read("") as repos:  # a group an admin bound with /绑定群
            target = next(iter(await repos.groups.all()), "")
    if not target:
        checks.append(
            Check(
                "推送目标群 / push target",
                False,
                "未知 / unknown",
                "管理员在赛马群里发送 /绑定群，或设置 DINGTALK_OPEN_CONVERSATION_ID",
            )
        )
    else:
        checks.append(Check("推送目标群 / push target", True, target))
    if app_ok and target and send_test:
        checks.append(await _try_send(sender, APP, target))
    if not settings.webhook_url:
        checks.append(
            Check(
                "自定义机器人 / custom robot",
                False,
                "未设置（只有它能在推送里 @ 人） / not set (only it can @-mention)",
                "可选：设置 DINGTALK_WEBHOOK_URL 和 DINGTALK_WEBHOOK_SECRET",
            )
        )
    else:
        checks.append(_robot_config(settings))
        if send_test:
            checks.append(await _try_send(sender, ROBOT, target or "robot"))
    return checks


def _robot_config(settings: Any) -> Check:
    url = URL(settings.webhook_url)
    if not url.query.get("access_token"):
        return Check(
            "自定义机器人 / custom robot",
            False,
            "URL 缺少 access_token / the URL has no access_token",
            "从群设置 → 机器人 → 复制完整的 Webhook 地址",
        )
    if not settings.webhook_secret:
        return Check(
            "自定义机器人 / custom robot",
            False,
            "未设置加签密钥 / DINGTALK_WEBHOOK_SECRET not set",
            "在机器人安全设置中开启加签，把 SEC 开头的密钥填入 DINGTALK_WEBHOOK_SECRET",
        )
    return Check("自定义机器人 / custom robot", True, f"configured for host {url.host}")


async def _try_send(sender: Sender, channel: str, target: str) -> Check:
    name = f"测试发送 / test send ({'应用机器人 app robot' if channel == APP else '自定义机器人 custom robot'})"
    try:
        await sender.push(target, "赛马自检", "赛马机器人自检消息，请忽略。", channel=channel)
    except DingTalkApiError as error:
        return Check(name, False, _explain(error), "按上面的提示修正后重试 `saima doctor --send`")
    return Check(name, True, "sent")


def render(checks: list[Check], write: Callable[[str], None] = print) -> int:
    """Print the report; 0 when the required checks pass (the custom robot is optional)."""
    failed_required = False
    for check in checks:
        mark = "✔" if check.ok else "✘"
        write(f"{mark} {check.name}: {check.detail}")
        if not check.ok:
            write(f"    修复 / fix: {check.fix}")
            failed_required |= not check.name.startswith("自定义机器人")
    working = [
        c.name for c in checks if c.ok and c.name.startswith(("获取", "测试发送", "自定义机器人"))
    ]
    write("可用通道 / working channels: " + (", ".join(working) if working else "无 / none"))
    return 1 if failed_required else 0


async def run_doctor(
    settings: Settings, database: Database, dingtalk: DingTalk, *, send_test: bool = False
) -> int:
    return render(await run_checks(settings, database, dingtalk, send_test=send_test))
