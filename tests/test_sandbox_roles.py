"""Every role the chat knows (campaign.model.Role) walked through both sandboxes (issue #23, 9).

An admin binds a deputy (代报, until a date) and an observer in chat; then each of head, deputy,
leader, admin and observer becomes the sender (/as in the console, the member picker in the web
page), reads and tries to post, and is answered in the role's own terms. The deputy's authority
lapses after /快进 passes its date. Before #23 the console crashed with KeyError: Role.DEPUTY at
the first /as after such a binding, and stayed broken until /重置.
"""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest

from bot.app import App
from bot.config import Settings
from bot.sandbox import identity
from bot.sandbox.console import prepare, run_sandbox
from bot.sandbox.web_page import SandboxPage, SandboxRoom
from campaign import Role
from storage.health import DatabaseFileGuard
from web.health import Health, fixed_transport
from web.server import WebServer

DEPUTY, OBSERVER = "deputy-li", "watcher"
BINDINGS = (
    ("commerce", f"/绑定 {DEPUTY} 南湖区 代报 至2021-09-05 李四"),
    ("commerce", f"/绑定 {OBSERVER} 观察员 王五"),
)
# (who, what they type, what the bot answers them): one walk, in order, through every role.
WALK = [
    ("head-nanhu", "/周报 实际利用外资=26500", "已收到报送 · 南湖区"),
    (DEPUTY, "/进度", "### 南湖区 · 进度"),
    (DEPUTY, "/周报 实际利用外资=26600", "已更新本周报送 · 南湖区"),
    ("mayor", "/排名", "### 2021年利用外资百日攻坚 · 排名"),
    ("mayor", "/周报 实际利用外资=26700", "领导无需报送"),
    ("commerce", "/周报 南湖区 实际利用外资=26700", "已更新本周报送 · 南湖区"),
    (OBSERVER, "/排名", "### 2021年利用外资百日攻坚 · 排名"),
    (OBSERVER, "/周报 实际利用外资=26800", "观察员只能查询，不能修改数据。"),
]
# After /快进 下周一 (2021-09-06): the deputy's last day was 09-05.
LAPSED = (DEPUTY, "/周报 实际利用外资=26900", "您的代报授权已于2021-09-05到期，现只能查询。")
ROLES = {
    "head-nanhu": Role.HEAD,
    DEPUTY: Role.DEPUTY,
    "mayor": Role.LEADER,
    "commerce": Role.ADMIN,
    OBSERVER: Role.OBSERVER,
}


def test_the_walk_covers_every_role_the_chat_knows() -> None:
    assert set(ROLES.values()) == set(Role)
    assert {who for who, _, _ in WALK} == set(ROLES)
    assert set(identity.ROLE_LABELS) == set(Role)


def sandbox_app(url: str) -> App:
    return App.build(Settings(database_url=url, sandbox_database_url=url))


def replies(transcript: str) -> list[str]:
    """The bot's replies in a console transcript, each up to the next prompt."""
    prompt = re.compile(r"^\S.* · \d\d-\d\d \d\d:\d\d> ", re.MULTILINE)
    return [prompt.split(part, maxsplit=1)[0] for part in transcript.split("\n🤖 赛马 ")[1:]]


async def test_every_role_works_in_the_console_sandbox(database_url: str) -> None:
    lines = [f"/as {who}\n{text}\n" for who, text in BINDINGS]
    lines += ["/as\n", "/as 代报人\n", "/身份\n", "/as 观察员\n"]
    lines += [f"/as {who}\n{text}\n" for who, text, _ in WALK]
    lines += ["/快进 下周一\n", f"/as {LAPSED[0]}\n{LAPSED[1]}\n"]
    out = io.StringIO()
    async with sandbox_app(database_url) as app:
        await run_sandbox(app, stdin=io.StringIO("".join(lines)), out=out)
    text = out.getvalue()
    assert "Traceback" not in text and "KeyError" not in text
    assert "代报人：deputy-li（李四）" in text and "观察员：watcher（王五）" in text
    assert "你现在是 李四（南湖区 代报人，deputy-li）" in text
    assert "当前身份：李四（南湖区 代报人，deputy-li）" in text
    assert "你现在是 王五（观察员，watcher）" in text
    answers = replies(text)
    bound, walked, lapsed = answers[:2], answers[2:-1], answers[-1]
    assert all("✅ 已绑定" in answer for answer in bound), bound
    assert len(walked) == len(WALK)
    for (who, typed, expected), answer in zip(WALK, walked, strict=True):
        assert expected in answer, (who, typed, answer)
    assert LAPSED[2] in lapsed, lapsed
    assert text.rstrip().endswith("再见。")


@dataclass
class WebSandbox:
    room: SandboxRoom
    base: str
    http: aiohttp.ClientSession

    async def say(self, staff_id: str, text: str) -> str:
        """Post as the member picked in the page; the bot's reply (or the notice) it caused."""
        seen = len(self.room.events)
        async with self.http.post(
            f"{self.base}/sandbox/say", json={"as": staff_id, "text": text}
        ) as response:
            assert response.status == 200, await response.text()
        async with self.http.get(f"{self.base}/sandbox/events?after={seen}&wait=0") as response:
            assert response.status == 200
            events = (await response.json())["events"]
        answers = [e["text"] for e in events if e["kind"] in ("bot", "notice")]
        assert answers, (staff_id, text, events)
        return str(answers[-1])

    async def picker(self) -> list[str]:
        async with self.http.get(self.base + "/") as response:
            assert response.status == 200
            return re.findall(r'<option value="([^"]+)"', await response.text())


@pytest.fixture
async def web_sandbox(database_url: str) -> AsyncIterator[WebSandbox]:
    """The web sandbox as `saima run` serves it (bot/sandbox/serve.py), on a loopback port."""
    app = sandbox_app(database_url)
    async with app:
        clock = await prepare(app)
        app.clock = app.pipeline.clock = clock
        room = SandboxRoom(app, clock)
        server = WebServer(
            Health(
                app.database, DatabaseFileGuard(app.database), fixed_transport("sandbox", "ready")
            )
        )
        SandboxPage(room, "").mount(server.web_app)
        await room.start()
        port = await server.start("127.0.0.1", 0)
        try:
            async with aiohttp.ClientSession() as http:
                yield WebSandbox(room, f"http://127.0.0.1:{port}", http)
        finally:
            await room.stop()
            await server.stop()


async def test_every_role_works_in_the_web_sandbox(web_sandbox: WebSandbox) -> None:
    for who, text in BINDINGS:
        assert "✅ 已绑定" in await web_sandbox.say(who, text)
    assert {DEPUTY, OBSERVER} <= set(await web_sandbox.picker())
    # /as and /身份 typed in the page: the notices name the role
    assert "李四（南湖区 代报人，deputy-li）" in await web_sandbox.say("mayor", f"/as {DEPUTY}")
    assert "王五（观察员，watcher）" in await web_sandbox.say(OBSERVER, "/身份")
    for who, text, expected in WALK:
        assert expected in await web_sandbox.say(who, text), (who, text)
    assert "已快进到 2021-09-06" in await web_sandbox.say("mayor", "/快进 下周一")
    who, text, expected = LAPSED
    assert expected in await web_sandbox.say(who, text)
