"""Settings from the environment (and an optional .env file). Built once, in the CLI, and passed down."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/saima.db"
DEFAULT_SANDBOX_DATABASE_URL = "sqlite+aiosqlite:///data/sandbox.db"
DEFAULT_OPENAPI_ENDPOINT = "https://api.dingtalk.com"
DEFAULT_OAPI_ENDPOINT = "https://oapi.dingtalk.com"  # the legacy host: media upload
DEFAULT_WEB_HOST = "127.0.0.1"  # behind a reverse proxy; set 0.0.0.0 to expose it yourself
DEFAULT_WEB_PORT = 8080
SHIPPED_CAMPAIGN = Path(__file__).resolve().parent.parent / "campaigns" / "fdi-2021.toml"
# The other shipped campaign, offered by /赛事 unless SAIMA_CAMPAIGNS says otherwise.
SHIPPED_OTHERS = (SHIPPED_CAMPAIGN.parent / "zhaoda-2024.toml",)

DEFAULT_RECOVERY_SETTLE_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    campaign_path: Path = SHIPPED_CAMPAIGN
    campaign_paths: tuple[Path, ...] = SHIPPED_OTHERS  # more campaigns for /赛事
    admins: tuple[str, ...] = ()
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    robot_code: str = ""
    open_conversation_id: str = ""
    # The company whose members may change data (DINGTALK_CORP_ID); blank: the company of the
    # group first bound with /绑定群, until then the bot's own as each message names it.
    corp_id: str = ""
    webhook_url: str = field(default="", repr=False)
    webhook_secret: str = field(default="", repr=False)
    openapi_endpoint: str = DEFAULT_OPENAPI_ENDPOINT
    oapi_endpoint: str = DEFAULT_OAPI_ENDPOINT
    sandbox_database_url: str = DEFAULT_SANDBOX_DATABASE_URL
    web_host: str = DEFAULT_WEB_HOST
    web_port: int = DEFAULT_WEB_PORT
    web_token: str = field(default="", repr=False)  # the dashboard's login token (SAIMA_WEB_TOKEN)
    web_url: str = ""  # the desk's address as users reach it (SAIMA_WEB_URL); default host:port
    # PostgreSQL, several processes: how old a message left unanswered must be before the leader
    # answers it for a stopped process (SAIMA_RECOVERY_SETTLE_SECONDS)
    recovery_settle_seconds: float = DEFAULT_RECOVERY_SETTLE_SECONDS

    @property
    def has_app_credentials(self) -> bool:
        return bool(self.client_id and self.client_secret)

    @property
    def effective_robot_code(self) -> str:
        return self.robot_code or self.client_id

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, env_file: str | None = ".env"
    ) -> Settings:
        """Environment wins over the .env file, which wins over the defaults."""
        values: dict[str, str] = {}
        if env_file and Path(env_file).is_file():
            values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        values.update(os.environ if env is None else env)
        get = values.get
        admins = tuple(a.strip() for a in get("SAIMA_ADMINS", "").split(",") if a.strip())
        return cls(
            database_url=get("SAIMA_DATABASE_URL") or DEFAULT_DATABASE_URL,
            campaign_path=Path(get("SAIMA_CAMPAIGN") or SHIPPED_CAMPAIGN),
            campaign_paths=_paths(get("SAIMA_CAMPAIGNS")),
            admins=admins,
            client_id=get("DINGTALK_CLIENT_ID", ""),
            client_secret=get("DINGTALK_CLIENT_SECRET", ""),
            robot_code=get("DINGTALK_ROBOT_CODE", ""),
            open_conversation_id=get("DINGTALK_OPEN_CONVERSATION_ID", ""),
            corp_id=get("DINGTALK_CORP_ID", "").strip(),
            webhook_url=get("DINGTALK_WEBHOOK_URL", ""),
            webhook_secret=get("DINGTALK_WEBHOOK_SECRET", ""),
            openapi_endpoint=(get("DINGTALK_OPENAPI_ENDPOINT") or DEFAULT_OPENAPI_ENDPOINT).rstrip(
                "/"
            ),
            oapi_endpoint=(get("DINGTALK_OAPI_ENDPOINT") or DEFAULT_OAPI_ENDPOINT).rstrip("/"),
            sandbox_database_url=get("SAIMA_SANDBOX_DATABASE_URL") or DEFAULT_SANDBOX_DATABASE_URL,
            web_host=get("SAIMA_WEB_HOST") or DEFAULT_WEB_HOST,
            web_port=int(get("SAIMA_WEB_PORT") or DEFAULT_WEB_PORT),
            web_token=get("SAIMA_WEB_TOKEN", ""),
            web_url=(get("SAIMA_WEB_URL") or "").rstrip("/"),
            recovery_settle_seconds=float(
                get("SAIMA_RECOVERY_SETTLE_SECONDS") or DEFAULT_RECOVERY_SETTLE_SECONDS
            ),
        )


def _paths(listed: str | None) -> tuple[Path, ...]:
    """SAIMA_CAMPAIGNS: comma-separated files; unset means the shipped ones, empty means none."""
    if listed is None:
        return SHIPPED_OTHERS
    return tuple(Path(part.strip()) for part in listed.split(",") if part.strip())
