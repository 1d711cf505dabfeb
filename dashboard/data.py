"""The dashboard's only door to the database: the core package's auth and police service, cached.

Reads are cached briefly per signed-in user and arguments (`st.cache_data` hashes the whole
`UserView`, so one office never gets another's cached rows); every write clears the caches it
affects. Calls that leave an audit entry (opening a report, evidence files, exports) are never
cached: each real access must be recorded.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import streamlit as st
from sqlalchemy.orm import sessionmaker

from satark import auth, police
from satark.db.session import get_session_factory
from satark.offices import OfficeDirectory, load_offices
from satark.settings import get_police_settings, get_settings
from satark.taxonomy import load_categories

CACHE_SECONDS = 15


def refresh_seconds() -> float:
    """How often the dashboard looks for new reports (DASHBOARD_REFRESH_SECONDS, default 5)."""
    return float(os.environ.get("DASHBOARD_REFRESH_SECONDS") or 5)


@st.cache_resource(show_spinner=False)
def _session_factory(database_url: str) -> sessionmaker:
    return get_session_factory()


def session_factory() -> sessionmaker:
    """One engine per process and database (keyed by URL, so a changed DATABASE_URL gets its own)."""
    return _session_factory(get_settings().database_url)


# -- signing in ------------------------------------------------------------------------------------

def sign_in(username: str, password: str) -> auth.SignIn:
    return auth.sign_in(username, password, factory=session_factory())


def sign_out(user: auth.UserView) -> None:
    auth.sign_out(user, factory=session_factory())


def change_password(user: auth.UserView, old: str, new: str) -> bool:
    return auth.change_password(user, old, new, factory=session_factory())


def session_ended(user: auth.UserView, signed_in_at: datetime, last_seen_at: datetime) -> bool:
    """Idle or open too long, or the account was disabled, locked or given a new password since."""
    return (auth.session_expired(signed_in_at, last_seen_at)
            or not auth.still_valid(user, signed_in_at, factory=session_factory()))


# -- reports ---------------------------------------------------------------------------------------

@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def inbox(user: auth.UserView, flt: police.InboxFilter, page: int, page_size: int) -> police.InboxPage:
    return police.inbox(user, flt, page=page, page_size=page_size, factory=session_factory())


def newest_report_id(user: auth.UserView) -> int:
    return police.newest_report_id(user, factory=session_factory())


def urgent_since(user: auth.UserView, report_id: int) -> tuple[str, ...]:
    return police.urgent_since(user, report_id, factory=session_factory())


def normalize_number(text: str) -> str:
    return police.normalize_number(text)


def open_report(user: auth.UserView, number: str, record_view: bool = True) -> police.ReportView | None:
    """A view is audited and marks the report read (the inbox's unread markers are refreshed); a
    re-read after a change on the open page is not a new view."""
    view = police.open_report(user, number, factory=session_factory(), record_view=record_view)
    if record_view:
        inbox.clear()
    return view


def evidence_file(user: auth.UserView, evidence_id: str) -> tuple[Path, str] | None:
    return police.evidence_file(user, evidence_id, factory=session_factory())


def _report_changed() -> None:
    inbox.clear()
    overview.clear()


def change_status(user: auth.UserView, number: str, status: str, note: str | None,
                  outcome: str | None, duplicate_of: str | None) -> None:
    police.change_status(user, number, status, note=note, outcome=outcome, duplicate_of=duplicate_of,
                         factory=session_factory())
    _report_changed()


def add_note(user: auth.UserView, number: str, text: str) -> None:
    police.add_note(user, number, text, factory=session_factory())
    _report_changed()


def message_reporter(user: auth.UserView, number: str, text: str) -> None:
    police.message_reporter(user, number, text, factory=session_factory())
    _report_changed()


def forward(user: auth.UserView, number: str, officer_id: int) -> int:
    link = f"{get_police_settings().dashboard_public_url}/report?number={number}"
    forward_id = police.forward(user, number, officer_id, link, factory=session_factory())
    _report_changed()
    return forward_id


# -- officers, analytics, audit, administration ------------------------------------------------------

@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def officers(user: auth.UserView, district: str | None = None) -> tuple[police.OfficerView, ...]:
    return police.officers(user, district, factory=session_factory())


def save_officer(user: auth.UserView, **fields) -> int:
    officer_id = police.save_officer(user, factory=session_factory(), **fields)
    officers.clear()
    return officer_id


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def overview(user: auth.UserView, flt: police.InboxFilter) -> police.Overview:
    return police.overview(user, flt, factory=session_factory())


def export_csv(user: auth.UserView, flt: police.InboxFilter) -> str:
    return police.export_csv(user, flt, factory=session_factory())


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def audit_log(user: auth.UserView, page: int, page_size: int,
              action: str | None) -> tuple[tuple[police.AuditRow, ...], int]:
    return police.audit_log(user, page=page, page_size=page_size, action=action, factory=session_factory())


def audit_csv(user: auth.UserView) -> str:
    return police.audit_csv(user, factory=session_factory())


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def list_users(user: auth.UserView) -> tuple[dict, ...]:
    return police.list_users(user, factory=session_factory())


def create_user(user: auth.UserView, username: str, password: str, role: str, office_code: str | None) -> None:
    police.create_user(user, username, password, role, office_code, factory=session_factory())
    list_users.clear()


def set_user_disabled(user: auth.UserView, username: str, disabled: bool) -> None:
    police.set_user_disabled(user, username, disabled, factory=session_factory())
    list_users.clear()


def offices() -> OfficeDirectory:
    return load_offices()


def category_keys() -> tuple[str, ...]:
    return tuple(category.key for category in load_categories())
