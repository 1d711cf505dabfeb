"""Satark Mitra police dashboard. The entry file only signs users in and out and routes them to the
pages of their role; every page reads through `dashboard.data`, which enforces nothing itself: the
service layer (`satark.police`) scopes every read to the signed-in user's offices."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard import data
from dashboard.labels import LANGUAGES, t
from dashboard.ui import office_name
from dashboard.views import sign_in
from satark.auth import UserView

st.set_page_config(page_title="Satark Mitra", page_icon="🛡️", layout="wide")


def forget_user() -> None:
    for key in list(st.session_state):
        if key != "language":
            del st.session_state[key]


def current_user() -> UserView | None:
    """The signed-in user, unless the session has ended (then signed out): idle or open too long, or
    the account disabled, locked or given a new password meanwhile."""
    user = st.session_state.get("user")
    if user is None:
        return None
    now = datetime.now(timezone.utc)
    if data.session_ended(user, st.session_state["signed_in_at"], st.session_state["last_seen_at"]):
        data.sign_out(user)
        forget_user()
        st.session_state["notice"] = "session_expired"
        return None
    st.session_state["last_seen_at"] = now
    return user


def pages_for(user: UserView) -> list[st.Page]:
    inbox = st.Page("views/inbox.py", title=t("page_inbox"), icon="📥", url_path="inbox", default=True)
    report = st.Page("views/report.py", title=t("page_report"), icon="🔎", url_path="report")
    officers = st.Page("views/officers.py", title=t("page_officers"), icon="👮", url_path="officers")
    overview = st.Page("views/overview.py", title=t("page_overview"), icon="📊", url_path="overview")
    audit = st.Page("views/audit.py", title=t("page_audit"), icon="🧾", url_path="audit")
    password = st.Page("views/password.py", title=t("page_password"), icon="🔑", url_path="password")
    if user.role == "admin":
        users = st.Page("views/users.py", title=t("page_users"), icon="👥", url_path="users", default=True)
        offices = st.Page("views/offices.py", title=t("page_offices"), icon="🏢", url_path="offices")
        return [users, officers, offices, audit, password]
    pages = [inbox, report, officers, overview]
    if user.role == "dig":
        pages.append(audit)
    return pages + [password]


@st.fragment(run_every=data.refresh_seconds())
def watch_new_reports(user: UserView, on_inbox: bool) -> None:
    """Polls the newest report id; new reports refresh the inbox, urgent ones raise an alert."""
    newest = data.newest_report_id(user)
    seen = st.session_state.setdefault("seen_report_id", newest)
    if newest <= seen:
        return
    st.session_state["seen_report_id"] = newest
    urgent = data.urgent_since(user, seen)
    if urgent:
        st.session_state["urgent_alerts"] = (*st.session_state.get("urgent_alerts", ()), *urgent)
        st.session_state["urgent_toast"] = urgent
    data.inbox.clear()
    data.overview.clear()
    if on_inbox or urgent:
        st.rerun(scope="app")


st.sidebar.radio(t("language"), list(LANGUAGES), format_func=LANGUAGES.get, key="language", horizontal=True)
user = current_user()
if user is None:
    if st.query_params.get("number"):
        st.session_state["pending_number"] = st.query_params["number"]
    # Hidden pages: /report?number=... asks for sign-in first and opens the report afterwards.
    st.navigation([st.Page(sign_in.page, title=t("sign_in"), icon="🔐", url_path="sign-in", default=True),
                   st.Page(sign_in.report_page, title=t("sign_in"), icon="🔐", url_path="report")],
                  position="hidden").run()
else:
    page = st.navigation(pages_for(user))
    if st.session_state.get("current_page") != page.url_path:
        st.session_state["current_page"] = page.url_path
        st.session_state.pop("report_visit", None)  # opening a report again is a new, audited view
    role = {"sp": t("role_sp"), "dig": t("role_dig"), "admin": t("role_admin")}[user.role]
    st.sidebar.caption(t("signed_in_as", username=user.username, role=role, office=office_name(user)))
    if st.sidebar.button(t("sign_out"), key="sign_out"):
        data.sign_out(user)
        forget_user()
        st.rerun()
    if user.sees_reports:
        urgent = st.session_state.pop("urgent_toast", ())
        if urgent:
            st.toast(t("new_urgent", numbers=", ".join(urgent)), icon="🚨")
        with st.sidebar:
            watch_new_reports(user, page.url_path == "")
            if st.session_state.get("urgent_alerts") and page.url_path != "":
                st.error(t("new_urgent", numbers=", ".join(st.session_state["urgent_alerts"])))
    page.run()
