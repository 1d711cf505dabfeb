"""Dashboard users from the command line. Passwords are read from standard input (without echo on a
terminal), never from the command line, where other users and shell history would see them.

    python -m satark.users add USERNAME --office OFFICE_CODE --role sp|dig|admin
    python -m satark.users list
    python -m satark.users disable USERNAME
    python -m satark.users reset-password USERNAME
    python -m satark.users demo        # development mode only: demo users with random passwords
"""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from satark import audit
from satark.audit import Actor
from satark.auth import (
    ROLES,
    USERNAME_PATTERN,
    check_new_password,
    check_role_office,
    hash_password,
)
from satark.db.models import User, utcnow
from satark.db.session import get_session_factory
from satark.settings import get_settings

DEMO_USERS = (("sp-gzp", "sp", "SP-GZP"), ("sp-jnp", "sp", "SP-JNP"), ("dig-vns", "dig", "DIG-VNS"),
              ("admin", "admin", None))


def _username(text: str) -> str:
    name = text.strip().lower()
    if not USERNAME_PATTERN.fullmatch(name):
        raise ValueError("usernames are 2 to 64 characters: a-z, 0-9, dot, dash, underscore")
    return name


def add_user(username: str, password: str, role: str, office_code: str | None,
             factory: sessionmaker | None = None, actor: Actor | None = None) -> int:
    """The new user's id; ValueError for a bad name, role, office or weak password, or when the user exists."""
    name = _username(username)
    office = office_code.strip().upper() if office_code else None
    check_role_office(role, office)
    check_new_password(name, password)
    try:
        with (factory or get_session_factory()).begin() as session:
            row = User(username=name, password_hash=hash_password(password), role=role,
                       office_code=office, disabled=False, failed_sign_ins=0)
            session.add(row)
            audit.record(session, actor, "user_added", detail=f"{name} ({role}, {office or 'no office'})",
                         username="command line")
            session.flush()
            return row.id
    except IntegrityError:
        raise ValueError(f"user {name} exists already") from None


def _change(username: str, factory: sessionmaker | None, actor: Actor | None, action: str, change) -> None:
    with (factory or get_session_factory()).begin() as session:
        row = session.execute(select(User).where(User.username == username.strip().lower())).scalar_one_or_none()
        if row is None:
            raise LookupError(f"no user {username}")
        change(row)
        audit.record(session, actor, action, detail=row.username, username="command line")


def set_disabled(username: str, disabled: bool = True, factory: sessionmaker | None = None,
                 actor: Actor | None = None) -> None:
    def change(row: User) -> None:
        row.disabled = disabled

    _change(username, factory, actor, "user_disabled" if disabled else "user_enabled", change)


def reset_password(username: str, password: str, factory: sessionmaker | None = None,
                   actor: Actor | None = None) -> None:
    """A new password; also lifts a lock-out."""
    check_new_password(username.strip().lower(), password)

    def change(row: User) -> None:
        row.password_hash, row.password_changed_at = hash_password(password), utcnow()
        row.failed_sign_ins, row.locked_until = 0, None

    _change(username, factory, actor, "password_reset", change)


def create_demo_users(factory: sessionmaker | None = None) -> list[tuple[str, str, str | None, str]]:
    """Development only: the demo users that do not exist yet, with new random passwords."""
    if not get_settings().dev_mode:
        raise PermissionError("demo users are only created in development mode (SATARK_DEV_MODE=true)")
    factory = factory or get_session_factory()
    with factory.begin() as session:
        existing = set(session.execute(select(User.username)).scalars())
    created = []
    for name, role, office in DEMO_USERS:
        if name not in existing:
            password = secrets.token_urlsafe(12)
            add_user(name, password, role, office, factory=factory)
            created.append((name, role, office, password))
    return created


def read_password(prompt: str = "Password: ") -> str:
    """From the terminal without echo (asked twice), or one line of standard input."""
    if sys.stdin.isatty():
        password = getpass.getpass(prompt)
        if getpass.getpass("Again: ") != password:
            raise ValueError("the passwords differ")
        return password
    return sys.stdin.readline().rstrip("\r\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m satark.users", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="add a user (password on standard input)")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--office", help="office code from the offices file (none for admins)")
    commands.add_parser("list", help="list users")
    disable = commands.add_parser("disable", help="disable a user")
    disable.add_argument("username")
    reset = commands.add_parser("reset-password", help="set a new password (on standard input)")
    reset.add_argument("username")
    commands.add_parser("demo", help="development mode: create demo users, print their passwords once")
    args = parser.parse_args(argv)
    try:
        if args.command == "add":
            add_user(args.username, read_password(), args.role, args.office)
            print(f"user {args.username.strip().lower()} added")
        elif args.command == "list":
            with get_session_factory().begin() as session:
                for user in session.execute(select(User).order_by(User.username)).scalars():
                    state = "disabled" if user.disabled else "active"
                    print(f"{user.username}\t{user.role}\t{user.office_code or '-'}\t{state}")
        elif args.command == "disable":
            set_disabled(args.username)
            print(f"user {args.username} disabled")
        elif args.command == "reset-password":
            reset_password(args.username, read_password("New password: "))
            print(f"password of {args.username} changed")
        elif args.command == "demo":
            for name, role, office, password in create_demo_users():
                print(f"demo user {name:8} ({role}, {office or 'no office'}): password {password}")
    except (ValueError, LookupError, PermissionError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
