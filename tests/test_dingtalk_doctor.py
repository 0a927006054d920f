"""`saima doctor` against FakeDingTalk: real token fetch, stream registration and test sends."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.app import App, build_dingtalk
from bot.config import Settings
from bot.dingtalk.doctor import render, run_checks
from tests.fakes.dingtalk import FakeDingTalk


@pytest.fixture
async def fake() -> AsyncIterator[FakeDingTalk]:
    fake = FakeDingTalk()
    await fake.start()
    yield fake
    await fake.stop()


async def checks_for(settings: Settings, *, send_test: bool = False) -> tuple[int, list[str], list]:
    lines: list[str] = []
    async with App.build(settings) as app:
        checks = await run_checks(
            app.settings, app.database, build_dingtalk(app, max_attempts=1), send_test=send_test
        )
    return render(checks, lines.append), lines, checks


async def test_doctor_with_a_full_configuration_reports_every_channel_working(
    fake: FakeDingTalk, database_url: str
) -> None:
    settings = Settings(
        database_url=database_url,
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        open_conversation_id="cid-group-1",
        webhook_url=fake.robot_webhook_url,
        webhook_secret=fake.robot_secret,
        openapi_endpoint=fake.url,
    )
    status, lines, checks = await checks_for(settings, send_test=True)
    assert status == 0, lines
    assert all(check.ok for check in checks)
    assert len(fake.token_requests) == 1 and len(fake.connection_requests) == 1
    assert len(fake.group_sends) == 1 and len(fake.robot_sends) == 1
    assert fake.robot_secret not in "\n".join(lines) and fake.client_secret not in "\n".join(lines)


async def test_doctor_explains_a_wrong_secret_and_a_missing_push_target(
    fake: FakeDingTalk, database_url: str
) -> None:
    settings = Settings(
        database_url=database_url,
        client_id=fake.client_id,
        client_secret="wrong-secret",
        openapi_endpoint=fake.url,
    )
    status, lines, _ = await checks_for(settings)
    report = "\n".join(lines)
    assert status == 1
    assert "AppKey/AppSecret 不正确" in report
    assert "DINGTALK_OPEN_CONVERSATION_ID" in report
    assert "DINGTALK_WEBHOOK_URL" in report
    assert "wrong-secret" not in report


async def test_doctor_flags_a_robot_webhook_without_its_signing_secret(
    fake: FakeDingTalk, database_url: str
) -> None:
    settings = Settings(
        database_url=database_url,
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        open_conversation_id="cid-group-1",
        webhook_url=fake.robot_webhook_url,
        openapi_endpoint=fake.url,
    )
    status, _lines, checks = await checks_for(settings)
    robot = next(check for check in checks if check.name.startswith("自定义机器人"))
    assert not robot.ok and "DINGTALK_WEBHOOK_SECRET" in robot.fix
    assert status == 0  # the custom robot is optional; the app robot works
