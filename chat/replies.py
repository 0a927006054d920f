"""The framework's own replies: a refusal's frame, the apology, admin-only, an unknown command."""

from __future__ import annotations

from campaign.text_input import clip
from chat.messages import Reply


def refusal(text: str) -> Reply:
    return Reply.markdown("提示", f"⚠️ {text}")


def apology() -> Reply:
    return Reply.markdown(
        "出错了", "⚠️ 抱歉，系统处理出错，本条消息未生效。请稍后重试，或联系管理员。"
    )


def admin_only(word: str) -> Reply:
    return Reply.markdown("提示", f"⚠️ /{word} 仅限管理员使用。")


def unknown_command(word: str, example: str = "") -> Reply:
    if not word:  # no text at all: a picture, a file, a voice message DingTalk could not read
        return Reply.markdown("提示", NO_TEXT)
    said = f"未识别的指令“{clip(word)}”。"  # quoted short and inert
    example_line = f"\n例：{example}" if example else ""
    return Reply.markdown("提示", f"{said}发送 /帮助 查看可用指令。{example_line}")


NO_TEXT = "请发送文字指令，例如 /帮助"
