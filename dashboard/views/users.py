"""Administrators keep the users: list, add, disable or enable. The server's command line does the same
(and is how the first admin is made); passwords there come from standard input, never argv."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.labels import t
from dashboard.ui import flash, form_key, renew_form, require_role, show_flash, signed_in_user, to_minute

user = signed_in_user()
require_role(user, "admin")
st.title(t("users_title"))
show_flash()
users = data.list_users(user)
if users:
    st.dataframe(pd.DataFrame([{
        t("col_username"): row["username"], t("col_role"): t(f"role_{row['role']}"),
        t("col_office"): row["office_code"] or "—", t("col_disabled"): t("yes") if row["disabled"] else "",
        t("col_locked"): t("yes") if row["locked"] else "", t("col_created"): to_minute(row["created_at"]),
        t("col_password_changed"): to_minute(row["password_changed_at"]),
    } for row in users]), hide_index=True, width="stretch")

add, disable = st.columns(2)
with add:
    st.subheader(t("add_user"))
    offices = (None, *(office.code for office in data.offices().offices))
    with st.form(form_key("add_user"), clear_on_submit=True):
        username = st.text_input(t("username"))
        role = st.selectbox(t("col_role"), ("sp", "dig", "admin"), format_func=lambda r: t(f"role_{r}"))
        office = st.selectbox(t("col_office"), offices, format_func=lambda code: code or "—")
        password = st.text_input(t("new_password"), type="password", autocomplete="new-password")
        if st.form_submit_button(t("add_user")):
            try:
                data.create_user(user, username, password, role, office)
            except (ValueError, PermissionError) as error:
                st.error(str(error))
            else:
                renew_form("add_user")
                flash(t("user_added", username=username.strip().lower()))
                st.rerun()
with disable:
    st.subheader(t("disable_user"))
    names = [row["username"] for row in users if row["username"] != user.username]
    with st.form(form_key("disable_user"), clear_on_submit=True):
        chosen = st.selectbox(t("username"), names)
        enable = st.checkbox(t("enable_instead"))
        if st.form_submit_button(t("save")) and chosen:
            data.set_user_disabled(user, chosen, not enable)
            renew_form("disable_user")
            flash(t("user_enabled" if enable else "user_disabled", username=chosen))
            st.rerun()

st.caption(t("users_cli"))
st.code(".venv/bin/python -m satark.users add USERNAME --office OFFICE_CODE --role sp|dig|admin\n"
        ".venv/bin/python -m satark.users list\n"
        ".venv/bin/python -m satark.users disable USERNAME\n"
        ".venv/bin/python -m satark.users reset-password USERNAME", language="bash")
