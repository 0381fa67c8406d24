"""The staff console: NPO staff test referrals, operators keep the catalogue true, in a browser.

    bot serve -> Mount("/console", console_app(engine, db))
        /login, /logout              argon2 passwords, database sessions, CSRF, lockout (auth.py, web.py)
        /            試す            message -> the LINE reply and why (trying.py)
        /cases       ケース          case files -> the test-referrals report, saved sets, changes (cases.py)
        /catalogue   窓口一覧        services, filters, file:line problems; operators edit, import, reload (editing.py)
        /needs       ニーズ          anonymous referral-log figures, small counts hidden (needs.py)
        /accounts    アカウント      operators manage accounts

Server-rendered (Starlette + Jinja2); the one script and stylesheet are served from /console/static,
so no page needs any other server.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable

from sqlalchemy import Engine as SQLEngine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from bot.engine import Engine

MAX_BODY = 4 * 1024 * 1024  # the largest form: a CSV or case file of 2 MB, pasted and uploaded


def routes() -> list[Route | Mount]:
    # The pages are imported here, not with the package: `bot user ...` and the server's start need
    # only the package's name (the pages bring Jinja2 and the whole case runner).
    from bot.console import views
    from bot.console.web import HERE

    return [
        Route("/", views.home, methods=["GET"], name="home"),
        Route("/try", views.try_message, methods=["POST"]),
        Route("/login", views.login_page, methods=["GET"], name="login"),
        Route("/login", views.login, methods=["POST"]),
        Route("/logout", views.logout, methods=["POST"]),
        Route("/cases", views.cases_page, methods=["GET"]),
        Route("/cases", views.cases_run, methods=["POST"]),
        Route("/cases/delete", views.cases_delete, methods=["POST"]),
        Route("/catalogue", views.catalogue_page, methods=["GET"]),
        Route("/catalogue/new", views.service_new, methods=["GET"]),
        Route("/catalogue/new", views.service_save, methods=["POST"]),
        Route("/catalogue/import", views.import_page, methods=["GET"]),
        Route("/catalogue/import", views.import_csv, methods=["POST"]),
        Route("/catalogue/reload", views.reload_catalogue, methods=["POST"]),
        Route("/catalogue/{sid}", views.service_page, methods=["GET"]),
        Route("/catalogue/{sid}", views.service_save, methods=["POST"]),
        Route("/needs", views.needs_page, methods=["GET"]),
        Route("/needs/{table}.csv", views.needs_csv, methods=["GET"]),
        Route("/accounts", views.accounts_page, methods=["GET"]),
        Route("/accounts/add", views.accounts_add, methods=["POST"]),
        Route("/accounts/remove", views.accounts_remove, methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]


def console_app(engine: Engine | Callable[[], Engine | None], db: SQLEngine | str) -> Starlette:
    """The console as an ASGI app of its own.

    `engine` is the server's Engine, or a function returning it (None while the server is still
    loading it: pages answer 503 until then); `db` is a SQLAlchemy engine or URL (the server's database).
    """
    from bot.console.auth import Accounts
    from bot.console.web import Console, SecurityHeaders, templates

    if isinstance(db, str):
        from bot.service.store import make_engine

        db = make_engine(db)
    app = Starlette(routes=routes(), middleware=[Middleware(SecurityHeaders)])
    # line-bot-sdk takes seconds to import: not on the first person's 「試す」.
    threading.Thread(target=importlib.import_module, args=("bot.channels.line",), daemon=True).start()
    app.state.console = Console(source=engine, db=db, accounts=Accounts(db), templates=templates())
    return app


def mount(app: ASGIApp, path: str = "/console") -> Mount:
    """The console app (`console_app(...)`, or the server's LazyConsole) at `path` in a route list."""
    return Mount(path, app=app, name="console", max_body_size=MAX_BODY)
