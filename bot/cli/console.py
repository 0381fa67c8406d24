"""`bot user`: accounts of the staff console.

    bot user add NAME --role staff|operator [--password-stdin | --generate]
    bot user remove NAME
    bot user list
"""

from __future__ import annotations

import getpass
import sys


def _accounts():
    from bot.console.auth import Accounts
    from bot.service.store import make_engine

    return Accounts(make_engine(_database_url()))


def _database_url() -> str:
    try:
        from bot.service.settings import Settings
    except ImportError:  # pragma: no cover  (settings arrive with the server)
        import os

        return os.environ.get("DATABASE_URL") or "sqlite:///tsunagu.db"
    return Settings.from_env().database_url


def _password(args) -> tuple[str, bool]:
    """(password, generated): from stdin, the prompt, or made up here."""
    from bot.console.auth import generate_password

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n"), False
    if args.generate or not sys.stdin.isatty():
        return generate_password(), True
    first = getpass.getpass("パスワード (空のままEnterで自動生成 / empty: generate): ")
    if not first:
        return generate_password(), True
    if getpass.getpass("もう一度 (again): ") != first:
        raise ValueError("パスワードが一致しません (passwords differ)")
    return first, False


def cmd_user_add(args) -> int:
    from bot.console.auth import AccountError

    try:
        password, generated = _password(args)
        _accounts().add(args.name, args.role, password)
    except (AccountError, ValueError) as exc:
        print(f"bot user add: {exc}", file=sys.stderr)
        return 1
    print(f"added {args.name} ({args.role})")
    if generated:
        print(f"password: {password}")
        print("(shown only this once)")
    return 0


def cmd_user_remove(args) -> int:
    if not _accounts().remove(args.name):
        print(f"bot user remove: no account {args.name!r}", file=sys.stderr)
        return 1
    print(f"removed {args.name}; their console sessions are closed")
    return 0


def cmd_user_list(args) -> int:
    for user in _accounts().list():
        seen = user.last_login.isoformat(timespec="minutes") if user.last_login else "never"
        print(f"{user.name:<24} {user.role:<9} last login {seen}")
    return 0


def add_commands(sub) -> None:
    from bot.console.auth import ROLES

    user = sub.add_parser("user", help="staff console accounts: add, remove, list").add_subparsers(
        dest="action", required=True)
    p = user.add_parser("add", help="add a console account (password asked, from --password-stdin, or generated)")
    p.add_argument("name", help="login name: letters, digits, _ . @ -")
    p.add_argument("--role", choices=ROLES, required=True,
                   help="staff: try messages, run cases, read; operator: also edit the catalogue and accounts")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    how.add_argument("--generate", action="store_true", help="generate a password and print it once")
    p.set_defaults(func=cmd_user_add)
    p = user.add_parser("remove", help="remove a console account and end its sessions")
    p.add_argument("name")
    p.set_defaults(func=cmd_user_remove)
    p = user.add_parser("list", help="list console accounts")
    p.set_defaults(func=cmd_user_list)
