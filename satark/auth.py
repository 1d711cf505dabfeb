"""Dashboard users: argon2 password hashes, sign-in with lock-out, sessions that expire.

A user belongs to one office: an SP office sees its district's reports, a DIG (or other range)
office its range's, an admin keeps users and officers and sees no report content.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from satark import audit
from satark.db.models import User, utcnow
from satark.db.session import get_session_factory
from satark.offices import OfficeDirectory, load_offices
from satark.settings import get_police_settings

ROLES = ("sp", "dig", "admin")
MIN_PASSWORD_LENGTH = 10
USERNAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")

_hasher = PasswordHasher()
# Verified against when a username does not exist, so both cases take the same time.
_DUMMY_HASH = _hasher.hash("satark-no-such-user")


@dataclass(frozen=True)
class UserView:
    id: int
    username: str
    role: str
    office_code: str | None
    office_name: dict[str, str] | None
    district_codes: tuple[str, ...]

    @property
    def sees_reports(self) -> bool:
        return self.role in ("sp", "dig") and self.office_code is not None


@dataclass(frozen=True)
class SignIn:
    user: UserView | None
    outcome: str  # "ok" | "bad_credentials" | "locked" | "disabled"
    locked_minutes: int = 0


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_new_password(username: str, password: str) -> None:
    """Raises ValueError when a new password is too weak."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    if password.strip().lower() == username.lower():
        raise ValueError("the password must not be the username")


def check_role_office(role: str, office_code: str | None, directory: OfficeDirectory | None = None) -> None:
    """SP users belong to an SP office, DIG users to a range office (DIG, vigilance), admins to none."""
    directory = directory or load_offices()
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if role == "admin":
        if office_code:
            raise ValueError("admins have no office (create a separate sp or dig user for office work)")
        return
    office = directory.office(office_code)
    if office is None:
        known = ", ".join(o.code for o in directory.offices)
        raise ValueError(f"unknown office {office_code!r} (offices: {known})")
    if (role == "sp") != (office.kind == "SP"):
        raise ValueError(f"role {role} does not fit office {office.code} ({office.kind}): "
                         "sp users need an SP office, dig users a range office")


def user_view(row: User, directory: OfficeDirectory | None = None) -> UserView:
    directory = directory or load_offices()
    office = directory.office(row.office_code) if row.office_code else None
    return UserView(id=row.id, username=row.username, role=row.role, office_code=row.office_code,
                    office_name=dict(office.name) if office else None,
                    district_codes=directory.district_codes_of_office(office.code) if office else ())


def _user_for_sign_in(session: Session, username: str) -> User | None:
    """Locked for the transaction: parallel wrong guesses must all count (PostgreSQL; SQLite serialises)."""
    statement = select(User).where(User.username == username.strip().lower()).with_for_update()
    return session.execute(statement).scalar_one_or_none()


def _minutes_left(until: datetime, now: datetime) -> int:
    return max(1, int((until - now).total_seconds() // 60) + 1)


def sign_in(username: str, password: str, factory: sessionmaker | None = None) -> SignIn:
    settings = get_police_settings()
    with (factory or get_session_factory()).begin() as session:
        row = _user_for_sign_in(session, username)
        now = utcnow()
        if row is None:
            _verify(_DUMMY_HASH, password)
            audit.record(session, None, "sign_in_failed", detail="unknown user", username=username.strip())
            return SignIn(None, "bad_credentials")
        if row.locked_until is not None and row.locked_until > now:
            audit.record(session, row, "sign_in_failed", detail="locked")
            return SignIn(None, "locked", _minutes_left(row.locked_until, now))
        if not _verify(row.password_hash, password):
            row.failed_sign_ins += 1
            if row.failed_sign_ins >= settings.login_max_failures:
                row.failed_sign_ins, row.locked_until = 0, now + timedelta(minutes=settings.login_lock_minutes)
                audit.record(session, row, "sign_in_locked",
                             detail=f"{settings.login_max_failures} wrong passwords")
                return SignIn(None, "locked", settings.login_lock_minutes)
            audit.record(session, row, "sign_in_failed", detail="wrong password")
            return SignIn(None, "bad_credentials")
        if row.disabled:
            audit.record(session, row, "sign_in_failed", detail="disabled")
            return SignIn(None, "disabled")
        row.failed_sign_ins, row.locked_until = 0, None
        if _hasher.check_needs_rehash(row.password_hash):
            row.password_hash = hash_password(password)
        audit.record(session, row, "sign_in")
        return SignIn(user_view(row), "ok")


def sign_out(user: UserView, factory: sessionmaker | None = None) -> None:
    with (factory or get_session_factory()).begin() as session:
        audit.record(session, user, "sign_out")


def change_password(user: UserView, old: str, new: str, factory: sessionmaker | None = None) -> bool:
    """False when the old password is wrong; ValueError when the new one is too weak."""
    check_new_password(user.username, new)
    with (factory or get_session_factory()).begin() as session:
        row = session.get(User, user.id)
        if row is None or not _verify(row.password_hash, old):
            audit.record(session, user, "password_change_failed")
            return False
        row.password_hash, row.password_changed_at = hash_password(new), utcnow()
        audit.record(session, user, "password_change")
        return True


def session_expired(signed_in_at: datetime, last_seen_at: datetime, now: datetime | None = None) -> bool:
    """A dashboard session ends after SESSION_IDLE_MINUTES without use or SESSION_MAX_HOURS in all."""
    settings = get_police_settings()
    now = now or datetime.now(timezone.utc)
    return (now - last_seen_at > timedelta(minutes=settings.session_idle_minutes)
            or now - signed_in_at > timedelta(hours=settings.session_max_hours))


def still_valid(user: UserView, signed_in_at: datetime, factory: sessionmaker | None = None) -> bool:
    """Whether a signed-in session may go on: the user exists, is not disabled or locked, and the
    password has not changed since (a reset by an admin ends other sessions)."""
    with (factory or get_session_factory()).begin() as session:
        row = session.get(User, user.id)
        return (row is not None and not row.disabled and row.password_changed_at <= signed_in_at
                and (row.locked_until is None or row.locked_until <= utcnow()))
