"""A console on 127.0.0.1 for tests, screenshots and demos; a synthetic referral log to draw.

    with served_console(engine, "sqlite:///x.db") as url:   # uvicorn in a thread (bot.fakes.Loopback)
        ... a browser or httpx talks to url + "/console"

Nothing here is used by the running server.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from starlette.applications import Starlette
from starlette.responses import RedirectResponse
from starlette.routing import Route

from bot.engine import Engine


def app_with_console(engine: Engine, db_url: str) -> Starlette:
    """A server-shaped app: the console mounted at /console, / sending people there."""
    from bot.console import console_app, mount

    async def root(request):
        return RedirectResponse("/console/")

    return Starlette(routes=[Route("/", root), mount(console_app(engine, db_url))])


@contextmanager
def served_console(engine: Engine, db_url: str) -> Iterator[str]:
    from bot.fakes import Loopback

    with Loopback(app_with_console(engine, db_url)) as server:
        yield server.url


NEEDS = ("loneliness", "financial_hardship", "caregiver_burden", "mental_health", "hikikomori", "housing",
         "job_seeking", "parenting", "domestic_violence", "suicide_risk")
AREAS = ("221309", "221309", "221309", "131041", "131041", "271004", "22", None, None, "012025", "462039")


def seed_log(db_url: str, rows: int = 600, weeks: int = 12, seed: int = 7, now: datetime | None = None) -> None:
    """Synthetic anonymous referral-log rows (time, channel, intents, area, crisis) for a demo database."""
    from sqlmodel import Session

    from bot.service.store import ReferralLog, create_all, make_engine

    create_all(db_url)
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    db = make_engine(db_url)
    with Session(db) as s:
        for _ in range(rows):
            at = now - timedelta(minutes=rng.randrange(weeks * 7 * 24 * 60))
            if rng.random() < 0.35:  # more at night, when offices are closed
                at = at.replace(hour=rng.choice((13, 14, 15, 16, 17)))
            first = rng.choices(NEEDS, weights=(14, 12, 8, 10, 5, 4, 5, 3, 2, 3))[0]
            ids = [first] + ([rng.choice(NEEDS)] if rng.random() < 0.3 else [])
            crisis = first == "suicide_risk" or rng.random() < 0.02
            s.add(ReferralLog(at=at, channel=rng.choice(("line", "line", "telegram")),
                              intents=",".join(dict.fromkeys(ids)), area=rng.choice(AREAS), crisis=crisis))
        s.commit()
    db.dispose()
