"""The database tests on both backends: SQLite always, PostgreSQL when TEST_POSTGRES_URL is set.

    def test_x(db_url): ...        -> test_x[sqlite], test_x[postgresql]

`.ci/run` starts a throwaway PostgreSQL and sets TEST_POSTGRES_URL, so CI runs both; on a laptop
without it the PostgreSQL half is skipped (`eval "$(.ci/postgres start)"` to run it there too).
Each test gets an empty database: a new SQLite file, or a new PostgreSQL schema (first on the
search_path of every connection made with the URL), dropped after the test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'bot.db'}"
        return
    base = os.environ.get("TEST_POSTGRES_URL", "").strip()
    if not base:
        pytest.skip("TEST_POSTGRES_URL is not set (CI sets it; locally: eval \"$(.ci/postgres start)\")")
    from sqlalchemy import create_engine, make_url, text

    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            # Connections a test left open (a killed worker's) must not hold the schema.
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE pid <> pg_backend_pid() AND datname = current_database() "
                              "AND state = 'idle in transaction'"))
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
