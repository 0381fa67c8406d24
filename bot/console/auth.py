"""Accounts, passwords, sessions and login throttling for the console.

    bot user add NAME --role operator --> Accounts.add (argon2id hash)
    POST /login --> Accounts.login: per-address limit, per-account lockout with backoff, argon2 verify
                --> a new random session token: the cookie holds it, the database holds its sha256
    every request --> Accounts.session(token): expired (idle or absolute) or unknown -> None

Sessions live in the database, so logout, `bot user remove` and a role change
take effect at once, and no signing key has to be shared between workers.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Engine, delete, func
from sqlmodel import Session, select

from bot.console.models import ConsoleSession, ConsoleUser, LoginAttempt, aware, create_tables, utcnow

ROLES = ("staff", "operator")
RANK = {"staff": 1, "operator": 2}
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD = 10

IDLE = timedelta(hours=2)  # a session unused this long ends
LIFETIME = timedelta(hours=12)  # and every session ends after this, used or not
TOUCH_EVERY = timedelta(minutes=1)  # last_seen is written at most this often

LOCK_AFTER = 5  # failed logins in a row before an account is locked
LOCK_FIRST = timedelta(seconds=30)  # then 30 s, 60 s, 120 s ... (doubling) up to LOCK_MAX
LOCK_MAX = timedelta(minutes=15)
IP_WINDOW = timedelta(minutes=15)
IP_MAX_FAILURES = 10  # failed logins from one address within IP_WINDOW before it must wait

HASHER = PasswordHasher()  # argon2id with the library's current (recommended) parameters


class AccountError(ValueError):
    pass


@dataclass(frozen=True)
class User:
    name: str
    role: str

    def can(self, role: str) -> bool:
        return RANK[self.role] >= RANK[role]


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    reason: str  # "ok" | "bad" (wrong name or password) | "locked" | "throttled"
    retry_after: int = 0  # seconds, for "locked" and "throttled"


@dataclass(frozen=True)
class SessionInfo:
    user: User
    csrf: str
    expires_at: datetime


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def generate_password() -> str:
    return secrets.token_urlsafe(12)  # 16 characters, 96 bits


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"パスワードは{MIN_PASSWORD}文字以上にしてください (at least {MIN_PASSWORD} characters)")


class Accounts:
    def __init__(self, db: Engine, hasher: PasswordHasher | None = None) -> None:
        self.db = db
        self.hasher = hasher or HASHER
        self._dummy: str | None = None
        create_tables(db)

    def _verify(self, hashed: str | None, password: str) -> bool:
        if hashed is None:  # no such account: verify anyway, so the time taken says nothing
            self._dummy = self._dummy or self.hasher.hash("no such account")
            hashed = self._dummy
        try:
            return self.hasher.verify(hashed, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    # -- accounts -----------------------------------------------------------------------------

    def add(self, name: str, role: str, password: str) -> User:
        if not NAME.match(name):
            raise AccountError("名前は英数字と _ . @ - で64文字まで (letters, digits, _ . @ -)")
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}")
        check_password(password)
        with Session(self.db) as s:
            if s.get(ConsoleUser, name) is not None:
                raise AccountError(f"{name} はすでにあります (account exists)")
            s.add(ConsoleUser(name=name, role=role, password_hash=self.hasher.hash(password)))
            s.commit()
        return User(name, role)

    def remove(self, name: str) -> bool:
        """Delete the account and end its sessions at once."""
        with Session(self.db) as s:
            s.exec(delete(ConsoleSession).where(ConsoleSession.user == name))  # type: ignore[call-overload]
            gone = s.exec(delete(ConsoleUser).where(ConsoleUser.name == name)).rowcount  # type: ignore[call-overload]
            s.commit()
        return bool(gone)

    def set_password(self, name: str, password: str) -> None:
        check_password(password)
        with Session(self.db) as s:
            row = s.get(ConsoleUser, name)
            if row is None:
                raise AccountError(f"{name}: no such account")
            row.password_hash = self.hasher.hash(password)
            row.failed_logins, row.locked_until = 0, None
            s.add(row)
            s.exec(delete(ConsoleSession).where(ConsoleSession.user == name))  # type: ignore[call-overload]
            s.commit()

    def list(self) -> list[ConsoleUser]:
        with Session(self.db) as s:
            return list(s.exec(select(ConsoleUser).order_by(ConsoleUser.name)))

    def count(self) -> int:
        with Session(self.db) as s:
            return int(s.exec(select(func.count()).select_from(ConsoleUser)).one())

    # -- login --------------------------------------------------------------------------------

    def login(self, name: str, password: str, ip: str, now: datetime | None = None) -> LoginResult:
        now = now or utcnow()
        with Session(self.db) as s:
            since = now - IP_WINDOW
            failures = s.exec(
                select(LoginAttempt.at).where(LoginAttempt.ip == ip, LoginAttempt.at >= since,
                                              LoginAttempt.ok == False)  # noqa: E712
                .order_by(LoginAttempt.at)  # type: ignore[arg-type]
            ).all()
            if len(failures) >= IP_MAX_FAILURES:
                oldest = aware(failures[-IP_MAX_FAILURES])
                wait = int((oldest + IP_WINDOW - now).total_seconds()) + 1 if oldest else 60
                return LoginResult(None, "throttled", max(wait, 1))
            row = s.get(ConsoleUser, name) if name else None
            locked = aware(row.locked_until) if row else None
            if row is not None and locked and locked > now:
                s.add(LoginAttempt(ip=ip, at=now, ok=False))
                s.commit()
                return LoginResult(None, "locked", int((locked - now).total_seconds()) + 1)
            ok = self._verify(row.password_hash if row else None, password) and row is not None
            s.add(LoginAttempt(ip=ip, at=now, ok=ok))
            if row is None:
                s.commit()
                return LoginResult(None, "bad")
            if not ok:
                row.failed_logins += 1
                if row.failed_logins >= LOCK_AFTER:
                    lock = min(LOCK_FIRST * 2 ** (row.failed_logins - LOCK_AFTER), LOCK_MAX)
                    row.locked_until = now + lock
                s.add(row)
                s.commit()
                return LoginResult(None, "bad")
            if self.hasher.check_needs_rehash(row.password_hash):
                row.password_hash = self.hasher.hash(password)
            row.failed_logins, row.locked_until, row.last_login = 0, None, now
            s.add(row)
            s.exec(delete(LoginAttempt).where(LoginAttempt.at < now - IP_WINDOW * 4))  # type: ignore[call-overload]
            s.commit()
            return LoginResult(User(row.name, row.role), "ok")

    # -- sessions -----------------------------------------------------------------------------

    def open_session(self, user: User, now: datetime | None = None) -> str:
        """A new session for a user who just logged in; returns the cookie's token."""
        now = now or utcnow()
        token = secrets.token_urlsafe(32)
        with Session(self.db) as s:
            s.exec(delete(ConsoleSession).where(ConsoleSession.expires_at < now))  # type: ignore[call-overload]
            s.add(ConsoleSession(token_hash=token_hash(token), user=user.name, csrf=secrets.token_urlsafe(32),
                                 created_at=now, last_seen=now, expires_at=now + LIFETIME))
            s.commit()
        return token

    def session(self, token: str | None, now: datetime | None = None) -> SessionInfo | None:
        if not token or len(token) > 200:
            return None
        now = now or utcnow()
        with Session(self.db) as s:
            row = s.get(ConsoleSession, token_hash(token))
            if row is None:
                return None
            last_seen, expires = aware(row.last_seen), aware(row.expires_at)
            assert last_seen is not None and expires is not None
            if expires <= now or last_seen + IDLE <= now:
                s.delete(row)
                s.commit()
                return None
            user = s.get(ConsoleUser, row.user)
            if user is None:
                return None
            if now - last_seen >= TOUCH_EVERY:
                row.last_seen = now
                s.add(row)
                s.commit()
            return SessionInfo(User(user.name, user.role), row.csrf, expires)

    def close_session(self, token: str | None) -> None:
        if not token:
            return
        with Session(self.db) as s:
            s.exec(delete(ConsoleSession).where(ConsoleSession.token_hash == token_hash(token)))  # type: ignore[call-overload]
            s.commit()

