"""Server settings, read once from the environment.

A channel whose settings are missing is off; the server runs without it and
says so at start (`Settings.problems()`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

LINE_API = "https://api.line.me"
LINE_DATA_API = "https://api-data.line.me"
TELEGRAM_API = "https://api.telegram.org"
DEFAULT_DATABASE = "sqlite:///tsunagu.db"
SECRETS = {"line_channel_secret", "line_channel_access_token", "telegram_bot_token", "telegram_webhook_secret",
           "hash_key", "previous_hash_keys", "metrics_token"}


def hide_password(url: str) -> str:
    """A database URL fit for a log line: "postgresql://bot:***@db/tsunagu"."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001  (not a URL SQLAlchemy reads: show nothing of it)
        return "<unreadable>"


def flag(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    port: int = 8000
    database_url: str = DEFAULT_DATABASE
    line_channel_secret: str | None = None
    line_channel_access_token: str | None = None
    line_api_base: str = LINE_API
    telegram_bot_token: str | None = None
    telegram_webhook_secret: str | None = None
    telegram_api_base: str = TELEGRAM_API
    hash_key: str | None = None  # TSUNAGU_HASH_KEY; None: a key file beside the SQLite database
    previous_hash_keys: tuple[str, ...] = ()  # TSUNAGU_HASH_KEY_PREVIOUS: residents move to the new key
    store_messages: bool = False  # STORE_MESSAGES: keep raw message text (off: never written)
    store_messages_days: int = 30  # STORE_MESSAGES_DAYS
    retention_days: int = 365  # RETENTION_DAYS: referral log rows and idle residents
    rate_limit: int = 20  # RATE_LIMIT_PER_MINUTE: messages a resident may send before a kind "slow down"
    webhook_max_bytes: int = 1_000_000  # WEBHOOK_MAX_BYTES: larger bodies get 413, unread
    catalogue_poll_seconds: float = 2.0  # CATALOGUE_POLL_SECONDS: 0 turns the file watcher off
    line_push_fallback: bool = False  # LINE_PUSH_FALLBACK: push when the reply token cannot be used
    api_timeout: float = 10.0  # API_TIMEOUT_SECONDS: one call to LINE or Telegram
    api_retry_seconds: float = 0.5  # API_RETRY_SECONDS: the first backoff; doubles, 3 attempts in all
    db_timeout: float = 5.0  # DB_TIMEOUT_SECONDS: wait for a locked database; then skip it this long
    db_deadline: float = 1.0  # DB_DEADLINE_SECONDS: the longest an answer waits for the database
    queue_max: int = 2000  # QUEUE_MAX: events waiting in memory per worker; past it they are parked
    reply_token_seconds: float = 50.0  # REPLY_TOKEN_SECONDS: older events are answered by push (LINE)
    metrics_token: str | None = None  # METRICS_TOKEN: when set, /metrics wants "Authorization: Bearer ..."

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        return cls(
            port=int(get("PORT") or 8000),
            database_url=get("DATABASE_URL") or DEFAULT_DATABASE,
            line_channel_secret=get("LINE_CHANNEL_SECRET"),
            line_channel_access_token=get("LINE_CHANNEL_ACCESS_TOKEN"),
            line_api_base=(get("LINE_API_BASE") or LINE_API).rstrip("/"),
            telegram_bot_token=get("TELEGRAM_BOT_TOKEN"),
            telegram_webhook_secret=get("TELEGRAM_WEBHOOK_SECRET"),
            telegram_api_base=(get("TELEGRAM_API_BASE") or TELEGRAM_API).rstrip("/"),
            hash_key=get("TSUNAGU_HASH_KEY"),
            previous_hash_keys=tuple(k.strip() for k in (get("TSUNAGU_HASH_KEY_PREVIOUS") or "").split(",")
                                     if k.strip()),
            store_messages=flag(get("STORE_MESSAGES")),
            store_messages_days=int(get("STORE_MESSAGES_DAYS") or 30),
            retention_days=int(get("RETENTION_DAYS") or 365),
            rate_limit=int(get("RATE_LIMIT_PER_MINUTE") or 20),
            webhook_max_bytes=int(get("WEBHOOK_MAX_BYTES") or 1_000_000),
            catalogue_poll_seconds=float(get("CATALOGUE_POLL_SECONDS") or 2.0),
            line_push_fallback=flag(get("LINE_PUSH_FALLBACK")),
            api_timeout=float(get("API_TIMEOUT_SECONDS") or 10.0),
            api_retry_seconds=float(get("API_RETRY_SECONDS") or 0.5),
            db_timeout=float(get("DB_TIMEOUT_SECONDS") or 5.0),
            db_deadline=float(get("DB_DEADLINE_SECONDS") or 1.0),
            queue_max=int(get("QUEUE_MAX") or 2000),
            reply_token_seconds=float(get("REPLY_TOKEN_SECONDS") or 50.0),
            metrics_token=get("METRICS_TOKEN"),
        )

    def __repr__(self) -> str:
        """Secrets shown only as set or not, so a settings object in a log or traceback leaks nothing."""
        shown = {name: ("***" if value else value) if name in SECRETS else value
                 for name, value in self.__dict__.items()}
        shown["database_url"] = hide_password(self.database_url)
        return f"Settings({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    @property
    def line_on(self) -> bool:
        return bool(self.line_channel_secret and self.line_channel_access_token)

    @property
    def telegram_on(self) -> bool:
        return bool(self.telegram_bot_token and self.telegram_webhook_secret)

    @property
    def line_data_api_base(self) -> str:
        """Rich menu images go to api-data.line.me; a test or fake base serves both."""
        return LINE_DATA_API if self.line_api_base == LINE_API else self.line_api_base

    @property
    def sqlite_path(self) -> Path | None:
        """The database file when DATABASE_URL is a SQLite file, else None."""
        prefix = "sqlite:///"
        if not self.database_url.startswith(prefix):
            return None
        name = self.database_url[len(prefix) :].split("?", 1)[0]
        return None if name in ("", ":memory:") else Path(name)

    def problems(self) -> list[str]:
        """What is off and why, one line each, for the start-up log."""
        lines = []
        if not self.line_on:
            missing = [n for n, v in (("LINE_CHANNEL_SECRET", self.line_channel_secret),
                                      ("LINE_CHANNEL_ACCESS_TOKEN", self.line_channel_access_token)) if not v]
            lines.append(f"LINE is off: {', '.join(missing)} not set")
        if not self.telegram_on:
            missing = [n for n, v in (("TELEGRAM_BOT_TOKEN", self.telegram_bot_token),
                                      ("TELEGRAM_WEBHOOK_SECRET", self.telegram_webhook_secret)) if not v]
            lines.append(f"Telegram is off: {', '.join(missing)} not set")
        return lines
