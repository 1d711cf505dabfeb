"""Administrators see the users; creating them stays on the server's command line (passwords are
read from standard input there, never typed into a web page or a command line)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.labels import t
from dashboard.ui import require_role, signed_in_user

user = signed_in_user()
require_role(user, "admin")
st.title(t("users_title"))
users = data.list_users(user)
if users:
    st.dataframe(pd.DataFrame(users), hide_index=True, width="stretch")
st.caption(t("users_cli"))
st.code(".venv/bin/python -m satark.users add USERNAME --office OFFICE_CODE --role sp|dig|admin\n"
        ".venv/bin/python -m satark.users list\n"
        ".venv/bin/python -m satark.users disable USERNAME\n"
        ".venv/bin/python -m satark.users reset-password USERNAME", language="bash")
