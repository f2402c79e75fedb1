"""Settings: environment variables with the prefix SIPAS_, and a .env file (README, "Configuration"). Built once."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from handlers.quiet_hours import QuietHours

WILDCARD_HOSTS = ("", "0.0.0.0", "::")  # noqa: S104 - names, to read the public address as this machine's
# the printed apology slip's lines a deployment may set; not set, each is the slip catalog's (handlers.context.Policy)
SLIP_LINES = ("apology_title", "apology_authority", "apology_signer", "apology_signer_position", "apology_error_title")


class SettingsError(Exception):
    """Configuration that cannot be used; the message names the variable."""


class Settings(BaseSettings):
    """Everything configurable; nothing is required to start (SQLite and the console channel)."""

    model_config = SettingsConfigDict(env_prefix="SIPAS_", env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///sipasbot.db"
    database_pool_size: int = Field(default=10, ge=1, le=500)  # PostgreSQL: connections kept open per instance
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=1, le=65535)
    public_url: str = "http://127.0.0.1:8080"  # not set: follows SIPAS_HTTP_HOST and SIPAS_HTTP_PORT
    timezone: str = "Asia/Ho_Chi_Minh"
    log_format: Literal["text", "json"] = "text"  # json: one object per line, for a log collector

    telegram_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org/bot"
    telegram_mode: Literal["polling", "webhook"] = "polling"
    telegram_webhook_secret: SecretStr | None = None
    telegram_rate: float = Field(default=30.0, gt=0, le=1000)  # messages per second, the whole bot
    telegram_chat_interval: float = Field(default=1.0, ge=0, le=60)  # seconds between two messages to one chat
    telegram_webhook_connections: int = Field(default=40, ge=1, le=100)  # Telegram's own default

    zalo_oa_app_id: str | None = None
    zalo_oa_app_secret: SecretStr | None = None
    zalo_oa_secret_key: SecretStr | None = None
    zalo_oa_access_token: SecretStr | None = None
    zalo_oa_refresh_token: SecretStr | None = None
    zalo_oa_api_url: str = "https://openapi.zalo.me"
    zalo_oa_oauth_url: str = "https://oauth.zaloapp.com"
    zalo_oa_link: str | None = None  # the OA's chat link for receipts, e.g. https://zalo.me/<OA id>
    zalo_oa_webhook_max_age: float = Field(default=300.0, gt=0, le=86400)  # seconds; older events are refused
    zalo_oa_token_check_seconds: float = Field(default=60.0, gt=0, le=3600)  # how often the token pair is looked at
    zalo_oa_rate: float = Field(default=20.0, gt=0, le=1000)  # messages per second, the whole OA
    zns_api_url: str = "https://business.openapi.zalo.me"
    zns_rate: float = Field(default=10.0, gt=0, le=1000)
    zns_rating_template_id: str | None = None
    zns_apology_template_id: str | None = None

    zalo_bot_token: SecretStr | None = None
    zalo_bot_api_url: str = "https://bot-api.zaloplatforms.com/bot"
    zalo_bot_mode: Literal["polling", "webhook"] = "polling"
    zalo_bot_webhook_secret: SecretStr | None = None
    zalo_bot_rate: float = Field(default=20.0, gt=0, le=1000)
    zalo_bot_link: str | None = None  # the Zalo Bot's chat link, for the linking page and receipts
    zalo_chat_interval: float = Field(default=0.5, ge=0, le=60)  # seconds between two messages to one Zalo chat

    survey_form: str = "sipas-2022"
    survey_delay_minutes: int = Field(default=60, ge=0, le=7 * 24 * 60)
    lock_retry_seconds: float = Field(default=10.0, gt=0, le=60)  # a standby instance tries for the lock this often
    # a channel whose platform cannot be reached at start is tried again after this, doubling up to the max
    channel_retry_seconds: float = Field(default=5.0, gt=0, le=3600)
    channel_retry_max_seconds: float = Field(default=300.0, gt=0, le=86400)
    survey_tick_seconds: float = Field(default=60.0, ge=0.1, le=3600)  # how often due invitations are looked for
    quiet_hours: str = "21:00-07:00"
    digest_time: str = "07:30"
    target_satisfaction: float = Field(default=95.0, ge=0, le=100)  # docs/METHOD.md, targets; units may have their own
    target_on_time: float = Field(default=95.0, ge=0, le=100)
    retention_days: int = Field(default=365, ge=1)
    link_days: int = Field(default=30, ge=1, le=3650)  # how long a slip's (/phieu) or a kept file's (/tep) link works
    forms_dir: Path | None = None
    # the apology slip (docs/METHOD.md): its title may change with Thông tư 03/2025; "{unit}" is the unit's name.
    # Not set (None): the line the slip catalog ships (handlers/texts/slip*.vi.yaml), "PHIẾU XIN LỖI VÀ HẸN LẠI…"
    apology_title: str | None = None
    apology_authority: str | None = None  # "|" between the printed lines (Nghị định 30/2020): "ỦY BAN NHÂN DÂN|{unit}"
    apology_signer: str | None = None  # the first position line: "TM. ỦY BAN NHÂN DÂN" or "KT. CHỦ TỊCH"
    apology_signer_position: str | None = None  # the second: "CHỦ TỊCH", or "PHÓ CHỦ TỊCH" under "KT. CHỦ TỊCH"
    apology_signer_name: str = ""  # printed under the room for the signature; empty: left blank to write in
    apology_number_symbol: str = Field(default="PXL", min_length=1, max_length=20, pattern=r"^[^\s]+$")
    # the first at-risk warning when this many working days are left to apologise in time (a second on the last)
    apology_warn_working_days: int = Field(default=2, ge=1, le=10)
    apology_error_title: str | None = None  # the slip of an error apology; None: the slip catalog's
    holidays_file: Path = Path("holidays.yaml")  # days off and working days a later decision added
    # rate limits (issue 15): HTTP per API key, and per address without a valid key; guesses typed in a chat
    rate_key_burst: int = Field(default=200, ge=1, le=100_000)  # requests at once with one key
    rate_key_per_second: float = Field(default=20.0, gt=0, le=100_000)  # sustained, with one key
    rate_address_burst: int = Field(default=60, ge=1, le=100_000)  # requests at once from one address
    rate_address_per_second: float = Field(default=2.0, gt=0, le=100_000)
    trusted_proxies: str = ""  # comma-separated addresses or CIDRs whose X-Forwarded-For is believed
    chat_guess_free: int = Field(default=5, ge=1, le=1000)  # wrong codes in a chat before it is slowed
    chat_guess_interval: float = Field(default=30.0, ge=0, le=86400)  # seconds between guesses once slowed
    chat_guess_lock_after: int = Field(default=10, ge=1, le=1000)  # wrong codes before the chat is refused
    chat_guess_lock_minutes: float = Field(default=15.0, gt=0, le=7 * 24 * 60)  # for this long
    files_dir: Path = Path("sipasbot-tep")  # `sipasbot shell`: where attachments (slips, charts, workbooks) are written

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str) -> str:
        QuietHours.parse(value)
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _trusted_proxies(cls, value: str) -> str:
        for part in (p.strip() for p in value.split(",")):
            if part:
                try:
                    ipaddress.ip_network(part, strict=False)
                except ValueError:
                    raise ValueError(f"not an IP address or CIDR block: {part!r}") from None
        return value

    @field_validator("digest_time")
    @classmethod
    def _digest_time(cls, value: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value.strip()):
            raise ValueError(f"expected HH:MM, got {value!r}")
        return value.strip()

    @model_validator(mode="after")
    def _public_url_follows_the_port(self) -> Settings:
        """Not set, the public address is where the service listens (a wildcard host read as this machine)."""
        if "public_url" not in self.model_fields_set:
            host = "127.0.0.1" if self.http_host in WILDCARD_HOSTS else self.http_host
            host = f"[{host}]" if ":" in host else host
            self.public_url = f"http://{host}:{self.http_port}"
        return self

    @model_validator(mode="after")
    def _webhook_secrets(self) -> Settings:
        if self.telegram_token and self.telegram_mode == "webhook" and not self.telegram_webhook_secret:
            raise ValueError("SIPAS_TELEGRAM_WEBHOOK_SECRET is required when SIPAS_TELEGRAM_MODE=webhook")
        if self.zalo_bot_token and self.zalo_bot_mode == "webhook" and not self.zalo_bot_webhook_secret:
            raise ValueError("SIPAS_ZALO_BOT_WEBHOOK_SECRET is required when SIPAS_ZALO_BOT_MODE=webhook")
        return self

    @property
    def zalo_oa_enabled(self) -> bool:
        """The Zalo app, its secret and the OA secret key are all set (ZNS needs them too)."""
        return bool(self.zalo_oa_app_id and self.zalo_oa_app_secret and self.zalo_oa_secret_key)

    def secret_values(self) -> list[str]:
        """Every secret set (tokens, app secrets, webhook secrets, the database password): never to be logged."""
        values = [value.get_secret_value() for value in dict(self).values() if isinstance(value, SecretStr)]
        try:
            password = make_url(self.database_url).password
        except ArgumentError:
            password = None
        return [v for v in (*values, password) if isinstance(v, str) and v]

    @property
    def zone(self) -> ZoneInfo:
        """The local time zone."""
        return ZoneInfo(self.timezone)


def load_settings(**overrides: object) -> Settings:
    """Read the settings; SettingsError names the variable and the problem in one line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = "SIPAS_" + str(error["loc"][0]).upper() if error["loc"] else "settings"
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(message if not error["loc"] else f"{name}: {message}")
        raise SettingsError("; ".join(problems)) from None


DEMO_DATABASE_URL = (
    "sqlite+aiosqlite:///sipasbot-demo.db"  # `sipasbot demo`'s own file, unless SIPAS_DATABASE_URL is set
)
