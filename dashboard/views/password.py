"""Change one's own password."""

from __future__ import annotations

from datetime import datetime, timezone

import streamlit as st

from dashboard import data
from dashboard.labels import t
from dashboard.ui import flash, form_key, renew_form, show_flash, signed_in_user

user = signed_in_user()
st.title(t("change_password"))
show_flash()
with st.form(form_key("password"), clear_on_submit=True):
    old = st.text_input(t("old_password"), type="password", autocomplete="current-password")
    new = st.text_input(t("new_password"), type="password", autocomplete="new-password")
    repeat = st.text_input(t("repeat_password"), type="password", autocomplete="new-password")
    submitted = st.form_submit_button(t("change_password"))
if submitted:
    if new != repeat:
        st.error(t("password_mismatch"))
    else:
        try:
            changed = data.change_password(user, old, new)
        except ValueError as error:
            st.error(str(error))
        else:
            if changed:
                st.session_state["signed_in_at"] = datetime.now(timezone.utc)  # this session goes on
                renew_form("password")
                flash(t("password_changed"))
                st.rerun()
            st.error(t("password_wrong_old"))
