"""The database schema, as alembic migrations kept inside the package.

    bot db upgrade  ->  upgrade(url)  ->  versions/*.py  ->  tables of bot/service/store.py

No alembic.ini: the configuration is built here, so an installed package
can upgrade any database it is pointed at.  To add a migration after changing
bot/service/store.py:  alembic -x url=sqlite:///dev.db -c /dev/null revision --autogenerate
is not needed; write it by hand in versions/ (they are short).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import inspect, text

from bot.service.store import make_engine

if TYPE_CHECKING:
    from alembic.config import Config

# The newest revision in versions/ (tests/service/test_store.py checks it against alembic's own answer):
# a server at start compares it with the database's and imports alembic (0.5-1 s) only to upgrade.
HEAD = "0006"


def config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", "bot.service:migrations")
    cfg.attributes["url"] = url  # not a main option: '%' in passwords would be read as interpolation
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(config(url), revision)


def head() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(config("")).get_current_head()


def current(url: str, timeout: float = 15.0) -> str | None:
    """The database's revision (None for an empty database), read from alembic's own table."""
    engine = make_engine(url, timeout)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()


def upgrade_if_behind(url: str, timeout: float = 15.0) -> str | None:
    """Upgrade a database that is not at head; the revision reached, or None if it already was.
    (`timeout`: how long to wait for a server to connect, or a locked SQLite file.)"""
    if current(url, timeout) == HEAD:
        return None
    upgrade(url)
    return HEAD
