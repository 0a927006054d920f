"""Async DingTalk HTTP client on one shared aiohttp session: access token, group send, media upload,
webhooks.

Raises DingTalkApiError on any failure; never logs secrets, tokens or full webhook URLs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp
from yarl import URL

from bot.dingtalk import wire
from bot.dingtalk.signing import robot_sign_params
from bot.dingtalk.timing import SystemTimer, Timer, wall_ms
from chat.errors import DingTalkApiError

logger = logging.getLogger(__name__)

TOKEN_PATH = "/v1.0/oauth2/accessToken"
GROUP_SEND_PATH = "/v1.0/robot/groupMessages/send"
ONE_TO_ONE_SEND_PATH = "/v1.0/robot/oToMessages/batchSend"
MEDIA_UPLOAD_PATH = "/media/upload"  # on the legacy host (oapi), which takes ?access_token=
DEFAULT_OAPI_ENDPOINT = "https://oapi.dingtalk.com"
TOKEN_REFRESH_MARGIN_SECONDS = 300.0  # the doc says tokens last 7200 s; renew well before
THROTTLED_ERRCODE = "130101"  # "send too fast, exceed 20 times per minute"
# The new OpenAPI throttles with HTTP 403 and Forbidden.AccessDenied.QpsLimitForApi (and kin).
THROTTLED_CODE_PREFIXES = ("Forbidden.AccessDenied.QpsLimit", "Forbidden.AccessDenied.AccessLimit")
AUTH_ERROR_CODES = frozenset({"InvalidAuthentication", "InvalidAccessToken", "40014", "42001"})


def is_throttled(error: DingTalkApiError) -> bool:
    return (
        error.code == THROTTLED_ERRCODE
        or error.status == 429
        or (error.status == 403 and error.code.startswith(THROTTLED_CODE_PREFIXES))
    )


def is_auth_error(error: DingTalkApiError) -> bool:
    return error.status == 401 or error.code in AUTH_ERROR_CODES


NO_RECIPIENT = "no_recipient"  # a one-to-one reply to someone without a staffId: cannot be sent


def is_retryable(error: DingTalkApiError) -> bool:
    """Timeouts, network errors (status 0), 5xx and throttling; anything else will fail again."""
    if error.code == NO_RECIPIENT:
        return False
    return error.status == 0 or error.status >= 500 or is_throttled(error)


def create_http_session(
    total_timeout: float = 10.0, connect_timeout: float = 5.0
) -> aiohttp.ClientSession:
    """The one outbound session of the process; proxies from the environment are not used."""
    timeout = aiohttp.ClientTimeout(total=total_timeout, connect=connect_timeout)
    return aiohttp.ClientSession(timeout=timeout, trust_env=False)


async def _post(
    session: aiohttp.ClientSession,
    url: str | URL,
    *,
    json: Mapping[str, Any] | None = None,
    form: aiohttp.FormData | None = None,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
) -> tuple[int, Any]:
    """POST a JSON body or a multipart form. Errors never carry the URL: queries hold tokens."""
    try:
        async with session.post(
            url, json=json, data=form, headers=headers, params=params
        ) as response:
            try:
                payload = await response.json(content_type=None)
            except ValueError:
                payload = None
            return response.status, payload
    except TimeoutError as error:
        raise DingTalkApiError(0, "timeout", "no answer in time") from error
    except aiohttp.ClientError as error:
        raise DingTalkApiError(0, "network", type(error).__name__) from error


class OpenApiClient:
    """The app robot's OpenAPI (token + group send) and the webhook posts, on a shared session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        endpoint: str,
        client_id: str = "",
        client_secret: str = "",
        robot_code: str = "",
        oapi_endpoint: str = DEFAULT_OAPI_ENDPOINT,
        timer: Timer | None = None,
    ) -> None:
        self._session = session
        self._endpoint = endpoint.rstrip("/")
        self._oapi_endpoint = oapi_endpoint.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._robot_code = robot_code or client_id
        self._timer = timer or SystemTimer()
        self._token: str | None = None
        self._token_expires_at = 0.0
        self._token_lock = asyncio.Lock()

    @property
    def has_app_credentials(self) -> bool:
        return bool(self._client_id and self._client_secret)

    async def access_token(self, *, force_refresh: bool = False) -> str:
        """A cached access token, renewed TOKEN_REFRESH_MARGIN_SECONDS before it expires."""
        async with self._token_lock:
            now = self._timer.monotonic()
            if self._token and not force_refresh and now < self._token_expires_at:
                return self._token
            if not self.has_app_credentials:
                raise DingTalkApiError(0, "no_credentials", "client id/secret not configured")
            status, body = await _post(
                self._session,
                self._endpoint + TOKEN_PATH,
                json=wire.token_request(self._client_id, self._client_secret),
            )
            if status != 200:
                code, message = wire.error_fields(body)
                logger.warning("access token request failed: status=%s code=%s", status, code)
                raise DingTalkApiError(status, code or "token_failed", message)
            try:
                token, expires_in = wire.token_from_response(body)
            except (KeyError, TypeError, ValueError) as error:
                raise DingTalkApiError(status, "token_malformed", "") from error
            self._token = token
            self._token_expires_at = now + max(0.0, expires_in - TOKEN_REFRESH_MARGIN_SECONDS)
            return token

    def invalidate_token(self) -> None:
        self._token = None

    async def send_group_markdown(self, conversation_id: str, title: str, text: str) -> str:
        """Proactive app-robot send to a group; returns DingTalk's processQueryKey. Cannot @-mention."""
        return await self._send_group(
            wire.group_markdown(self._robot_code, conversation_id, title, text)
        )

    async def send_group_image(self, conversation_id: str, photo: str) -> str:
        """App-robot image send (`photo`: a media_id from upload_image, or a URL); processQueryKey."""
        return await self._send_group(wire.group_image(self._robot_code, conversation_id, photo))

    async def send_one_to_one_markdown(self, staff_id: str, title: str, text: str) -> str:
        """App-robot message to one person's one-to-one chat with the robot; processQueryKey."""
        body = wire.one_to_one_markdown(self._robot_code, [staff_id], title, text)
        return await self._send_group(body, ONE_TO_ONE_SEND_PATH)

    async def _send_group(self, body: Mapping[str, Any], path: str = GROUP_SEND_PATH) -> str:
        for attempt in (1, 2):
            token = await self.access_token(force_refresh=attempt == 2)
            status, answer = await _post(
                self._session,
                self._endpoint + path,
                json=body,
                headers={"x-acs-dingtalk-access-token": token},
            )
            if status == 200:
                return wire.process_query_key(answer)
            code, message = wire.error_fields(answer)
            error = DingTalkApiError(status, code, message)
            if is_auth_error(error) and attempt == 1:
                # A token revoked or rotated early: fetch a fresh one and try once more.
                logger.info("group send got an auth error (code=%s); refreshing the token", code)
                self.invalidate_token()
                continue
            raise error
        raise AssertionError("unreachable")

    async def upload_image(self, png: bytes, filename: str = "chart.png") -> str:
        """Upload a PNG as DingTalk media (legacy `/media/upload`, type image); returns its media_id."""
        for attempt in (1, 2):
            token = await self.access_token(force_refresh=attempt == 2)
            form = aiohttp.FormData()
            form.add_field("media", png, filename=filename, content_type="image/png")
            status, answer = await _post(
                self._session,
                self._oapi_endpoint + MEDIA_UPLOAD_PATH,
                form=form,
                params={"access_token": token, "type": "image"},
            )
            errcode = wire.legacy_errcode(answer)
            if status == 200 and errcode == 0:
                media_id = wire.media_id(answer)
                if not media_id:
                    raise DingTalkApiError(status, "media_malformed", "no media_id in the answer")
                return media_id
            code, message = wire.error_fields(answer)
            error = DingTalkApiError(status, code or str(errcode), message)
            if is_auth_error(error) and attempt == 1:
                logger.info("media upload got an auth error (code=%s); refreshing the token", code)
                self.invalidate_token()
                continue
            raise error
        raise AssertionError("unreachable")

    async def post_session_webhook(self, webhook_url: str, body: Mapping[str, Any]) -> None:
        """Reply through a message's sessionWebhook; raises unless DingTalk answers errcode 0."""
        status, answer = await _post(self._session, webhook_url, json=body)
        _raise_for_webhook(status, answer)

    async def post_custom_robot(
        self, webhook_url: str, secret: str, body: Mapping[str, Any], *, now_ms: int | None = None
    ) -> None:
        """Send through the custom group robot (webhook + 加签 secret)."""
        url = URL(webhook_url)
        params = dict(url.query)
        if secret:
            params.update(robot_sign_params(secret, wall_ms() if now_ms is None else now_ms))
        status, answer = await _post(self._session, url.with_query(None), json=body, params=params)
        _raise_for_webhook(status, answer)


def _raise_for_webhook(status: int, answer: Any) -> None:
    errcode = wire.legacy_errcode(answer)
    if status == 200 and errcode == 0:
        return
    code, message = wire.error_fields(answer)
    raise DingTalkApiError(status, code or str(errcode), message)
