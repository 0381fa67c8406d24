"""Alembic environment: the URL comes from bot.service.migrations.config(url)."""

from alembic import context
from sqlmodel import SQLModel

import bot.service.store  # noqa: F401  (registers the tables on SQLModel.metadata)
from bot.service.store import make_engine

url = context.config.attributes["url"]
target_metadata = SQLModel.metadata


def run_offline() -> None:
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
