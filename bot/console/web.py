"""The console's edge: who may see a page, CSRF on every POST, security headers, rendering.

    request -> SecurityHeaders (CSP without inline script, no framing, nosniff, no-store)
            -> guard(role): session cookie -> Accounts.session -> no session: 303 to login
                            role too low: 403 | POST without the session's CSRF token: 403
            -> handler (thin: parse, call the core in a worker thread, render)
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.console.auth import Accounts, User
from bot.engine import Engine
from bot.engine.catalogue.hours import TOKYO

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "tsunagu_console"
LOGIN_COOKIE = "tsunagu_console_login"  # the login form's CSRF token (double submit), before any session

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]

# The LINE channel's colours, as classes (the CSP allows no inline style).
FLEX_COLOURS = {"#15803d": "c-green", "#6b7280": "c-grey", "#b45309": "c-amber", "#b91c1c": "c-red"}

Handler = Callable[[Request], Awaitable[Response]]


class NotReady(Exception):
    """The server has not loaded its engine yet."""


@dataclass
class Console:
    """What every page needs: the running engine, the database, accounts, templates."""

    source: Engine | Callable[[], Engine | None]  # the engine, or how to get it once the server has loaded it
    db: Any  # sqlalchemy Engine
    accounts: Accounts
    templates: Jinja2Templates
    write_lock: threading.Lock = field(default_factory=threading.Lock)  # one catalogue write at a time

    @property
    def engine(self) -> Engine:
        engine = self.source if isinstance(self.source, Engine) else self.source()
        if engine is None:
            raise NotReady
        return engine


class SecurityHeaders:
    """Pure ASGI middleware: the same headers on every console response; pages are never cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope.get("path", "").startswith(scope.get("root_path", "") + "/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in dict(HEADERS)]
                headers += HEADERS
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def console_of(request: Request) -> Console:
    return request.app.state.console


def base(request: Request) -> str:
    """The console's own path prefix ("/console" when mounted there)."""
    return request.scope.get("root_path", "")


def secure(request: Request) -> bool:
    return request.url.scheme == "https"


def render(request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200,
           headers: dict[str, str] | None = None) -> Response:
    console = console_of(request)
    ctx = {
        "base": base(request),
        "user": getattr(request.state, "user", None),
        "csrf": getattr(request.state, "csrf", ""),
        "path": request.url.path,
        **(context or {}),
    }
    return console.templates.TemplateResponse(request, template, ctx, status_code=status, headers=headers)


def redirect(request: Request, to: str, status: int = 303) -> RedirectResponse:
    return RedirectResponse(base(request) + to, status_code=status)


def guard(role: str = "staff") -> Callable[[Handler], Handler]:
    """Only for a logged-in user of at least `role`; every POST must carry the session's CSRF token."""

    def wrap(handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            console = console_of(request)
            info = await run_in_threadpool(console.accounts.session, request.cookies.get(SESSION_COOKIE))
            if info is None:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                response = redirect(request, "/login?next=" + quote(target, safe=""))
                if request.cookies.get(SESSION_COOKIE):
                    response.delete_cookie(SESSION_COOKIE, path=base(request) or "/")
                return response
            request.state.user = info.user
            request.state.csrf = info.csrf
            try:
                console.engine  # noqa: B018  (raises NotReady while the server is starting)
            except NotReady:
                return render(request, "error.html", {"title": "起動中です",
                                                      "message": "ボットを起動しています。少し待ってから読み込み直してください。"},
                              503, headers={"retry-after": "5"})
            if not info.user.can(role):
                return render(request, "error.html", {"title": "権限がありません",
                                                      "message": "この操作は運営者（operator）だけができます。"}, 403)
            if request.method == "POST":
                form = await request.form()
                if not hmac.compare_digest(str(form.get("csrf", "")), info.csrf):
                    return render(request, "error.html", {
                        "title": "フォームの有効期限切れ",
                        "message": "ページを読み込み直してから、もう一度送信してください（CSRFトークンが一致しません）。"}, 403)
            return await handler(request)

        endpoint.__name__ = handler.__name__
        endpoint.__doc__ = handler.__doc__
        return endpoint

    return wrap


def current_user(request: Request) -> User:
    return request.state.user


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, path=base(request) or "/", httponly=True, samesite="lax",
                        secure=secure(request))


def login_token(request: Request) -> str:
    """The login form's CSRF token: the cookie's, or a new one (set by the caller)."""
    token = request.cookies.get(LOGIN_COOKIE, "")
    return token if 20 <= len(token) <= 100 else secrets.token_urlsafe(32)


def set_login_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(LOGIN_COOKIE, token, path=base(request) or "/", httponly=True, samesite="strict",
                        secure=secure(request), max_age=3600)


def parse_at(value: str | None) -> datetime | None:
    """A datetime-local field (Asia/Tokyo) as an aware datetime; None when empty or unreadable."""
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=TOKYO)


def now_tokyo() -> datetime:
    return datetime.now(TOKYO).replace(second=0, microsecond=0)


def templates() -> Jinja2Templates:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["jst"] = _jst
    env.filters["pct"] = lambda v: f"{float(v) * 100:.0f}%"
    env.filters["num"] = lambda v: f"{float(v):.2f}"
    env.filters["fxcolor"] = lambda c: FLEX_COLOURS.get(str(c or "").lower(), "")
    env.filters["safe_href"] = lambda uri: str(uri or "").startswith(("tel:", "https://", "http://"))
    return Jinja2Templates(env=env)


def _jst(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return "—"
    if value.tzinfo is None:
        from datetime import UTC

        value = value.replace(tzinfo=UTC)
    return value.astimezone(TOKYO).strftime(fmt)
