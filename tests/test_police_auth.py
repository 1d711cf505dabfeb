"""Sign-in: argon2 hashes, lock-out after repeated failures, disabled users, expiring sessions,
password changes, and the audit entries they leave."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from satark import auth, users
from satark.db.models import AuditEvent, User
from satark.db.session import get_session_factory
from tests.support.police import PASSWORD, user


def actions(username: str) -> list[str]:
    with get_session_factory().begin() as session:
        return list(session.execute(select(AuditEvent.action).where(AuditEvent.username == username)
                                    .order_by(AuditEvent.id)).scalars())


def test_passwords_are_stored_as_argon2_hashes_only(runtime):
    users.add_user("sp-gzp", PASSWORD, "sp", "SP-GZP")
    with get_session_factory().begin() as session:
        stored = session.execute(select(User.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert PASSWORD.encode() not in (runtime / "satark.db").read_bytes()


def test_sign_in_gives_the_office_scope(runtime):
    sp = user("sp-gzp", "sp", "SP-GZP")
    dig = user("dig-vns", "dig", "DIG-VNS")
    admin = user("admin", "admin", None)
    assert (sp.district_codes, sp.office_name["en"], sp.sees_reports) == (("GZP",), "SP Office, Ghazipur", True)
    assert set(dig.district_codes) == {"VNS", "JNP", "GZP", "CDL"} and dig.sees_reports
    assert admin.district_codes == () and not admin.sees_reports
    assert auth.sign_in("SP-GZP ", PASSWORD).outcome == "ok"  # user names in any case
    assert actions("sp-gzp").count("sign_in") == 2


def test_wrong_passwords_lock_the_account_for_a_while(runtime, monkeypatch):
    monkeypatch.setenv("LOGIN_MAX_FAILURES", "3")
    monkeypatch.setenv("LOGIN_LOCK_MINUTES", "15")
    users.add_user("sp-jnp", PASSWORD, "sp", "SP-JNP")
    assert [auth.sign_in("sp-jnp", "wrong password!").outcome for _ in range(3)] == \
        ["bad_credentials", "bad_credentials", "locked"]
    locked = auth.sign_in("sp-jnp", PASSWORD)  # the right password does not open a locked account
    assert (locked.outcome, locked.user, locked.locked_minutes) == ("locked", None, 15)
    with get_session_factory().begin() as session:
        row = session.execute(select(User)).scalar_one()
        row.locked_until = datetime.now(timezone.utc) - timedelta(seconds=1)
    assert auth.sign_in("sp-jnp", PASSWORD).outcome == "ok"
    assert actions("sp-jnp") == ["sign_in_failed", "sign_in_failed", "sign_in_locked", "sign_in_failed", "sign_in"]


def test_unknown_and_disabled_users_cannot_sign_in(runtime):
    assert auth.sign_in("nobody", PASSWORD).outcome == "bad_credentials"
    users.add_user("sp-cdl", PASSWORD, "sp", "SP-CDL")
    users.set_disabled("sp-cdl")
    assert auth.sign_in("sp-cdl", "wrong password!").outcome == "bad_credentials"  # reveals nothing
    assert auth.sign_in("sp-cdl", PASSWORD).outcome == "disabled"
    users.reset_password("sp-cdl", "another good password")
    assert auth.sign_in("sp-cdl", "another good password").outcome == "disabled"


def test_password_change_needs_the_old_password_and_a_strong_new_one(runtime):
    sp = user("sp-vns", "sp", "SP-VNS")
    with pytest.raises(ValueError):
        auth.change_password(sp, PASSWORD, "short")
    assert not auth.change_password(sp, "not the password", "a new long password")
    assert auth.change_password(sp, PASSWORD, "a new long password")
    assert auth.sign_in("sp-vns", PASSWORD).outcome == "bad_credentials"
    assert auth.sign_in("sp-vns", "a new long password").outcome == "ok"
    auth.sign_out(sp)
    assert {"password_change_failed", "password_change", "sign_out"} <= set(actions("sp-vns"))


def test_disabling_or_resetting_a_user_ends_their_sessions(runtime):
    sp = user("sp-gzp", "sp", "SP-GZP")
    signed_in_at = datetime.now(timezone.utc)
    assert auth.still_valid(sp, signed_in_at)
    users.reset_password("sp-gzp", "a completely new password")
    assert not auth.still_valid(sp, signed_in_at)
    assert auth.still_valid(sp, datetime.now(timezone.utc))
    users.set_disabled("sp-gzp")
    assert not auth.still_valid(sp, datetime.now(timezone.utc))


def test_sessions_expire_when_idle_or_too_old(monkeypatch):
    monkeypatch.setenv("SESSION_IDLE_MINUTES", "30")
    monkeypatch.setenv("SESSION_MAX_HOURS", "12")
    now = datetime.now(timezone.utc)
    assert not auth.session_expired(now - timedelta(hours=2), now - timedelta(minutes=5), now)
    assert auth.session_expired(now - timedelta(hours=2), now - timedelta(minutes=31), now)
    assert auth.session_expired(now - timedelta(hours=12, minutes=1), now - timedelta(minutes=1), now)


@pytest.mark.parametrize(("role", "office", "problem"), [
    ("sp", "DIG-VNS", "does not fit"), ("dig", "SP-GZP", "does not fit"), ("sp", "SP-XYZ", "unknown office"),
    ("admin", "SP-GZP", "no office"), ("boss", None, "role must be"),
])
def test_roles_must_fit_the_office(runtime, role, office, problem):
    with pytest.raises(ValueError, match=problem):
        users.add_user("someone", PASSWORD, role, office)


def test_a_vigilance_office_takes_range_users(runtime):
    vigilance = user("vig-vns", "dig", "VIG-VNS")
    assert set(vigilance.district_codes) == {"VNS", "JNP", "GZP", "CDL"}
