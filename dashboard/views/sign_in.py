"""The sign-in form: the only page anyone sees before signing in."""

from __future__ import annotations

from datetime import datetime, timezone

import streamlit as st

from dashboard import data
from dashboard.labels import t
from dashboard.ui import form_key, renew_form


def page() -> None:
    st.title(t("app_title"))
    notice = st.session_state.pop("notice", None)
    if notice:
        st.warning(t(notice))
    refused = st.session_state.pop("sign_in_refused", None)
    if refused:
        st.error(refused)
    pending = st.session_state.get("pending_number")
    if pending:
        st.info(t("sign_in_to_open", number=data.normalize_number(pending)))
    with st.form(form_key("sign_in"), clear_on_submit=True):
        username = st.text_input(t("username"), autocomplete="username")
        password = st.text_input(t("password"), type="password", autocomplete="current-password")
        submitted = st.form_submit_button(t("sign_in"), type="primary")
    if not submitted:
        return
    renew_form("sign_in")  # a new, empty form: the password never stays in the page
    attempt = data.sign_in(username.strip(), password)
    if attempt.user is None:
        st.session_state["sign_in_refused"] = {
            "locked": t("locked", minutes=max(attempt.locked_minutes, 1)), "disabled": t("disabled"),
        }.get(attempt.outcome, t("wrong_password"))
        st.rerun()
    else:
        now = datetime.now(timezone.utc)
        st.session_state.update(user=attempt.user, signed_in_at=now, last_seen_at=now)
        pending = st.session_state.pop("pending_number", None)
        if pending and attempt.user.sees_reports:
            # The router builds the user's pages on this switch; "report" is then the real report page.
            st.switch_page(st.Page(report_page, title=t("sign_in"), url_path="report"),
                           query_params={"number": data.normalize_number(pending)})
        st.rerun()


def report_page() -> None:
    """/report?number=... before signing in: the same form, and the number is remembered."""
    page()
