"""The database schema, as alembic migrations kept inside the package.

    bot db upgrade  ->  upgrade(url)  ->  versions/*.py  ->  tables of bot/store.py

No alembic.ini: the configuration is built here, so an installed package
can upgrade any database it is pointed at.  To add a migration after changing
bot/store.py:  alembic -x url=sqlite:///dev.db -c /dev/null revision --autogenerate
is not needed; write it by hand in versions/ (they are short).
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from bot.store import make_engine


def config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "bot:migrations")
    cfg.attributes["url"] = url  # not a main option: '%' in passwords would be read as interpolation
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(config(url), revision)


def head() -> str | None:
    return ScriptDirectory.from_config(config("")).get_current_head()


def current(url: str) -> str | None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def upgrade_if_behind(url: str) -> str | None:
    """Upgrade a database that is not at head; the revision reached, or None if it already was."""
    target = head()
    if current(url) == target:
        return None
    upgrade(url)
    return target
