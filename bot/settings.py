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
        )

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
