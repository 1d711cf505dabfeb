"""The append-only audit log (DIG: its range's users; admin: everyone), filterable and exportable."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.labels import t
from dashboard.ui import plain, require_role, signed_in_user, table_height, to_minute

PAGE_SIZE = 100
ACTIONS = ("sign_in", "sign_in_failed", "sign_in_locked", "sign_out", "password_change", "report_view",
           "access_refused", "evidence_view", "status_change", "note_added", "message_to_reporter", "forward",
           "officer_saved", "export", "audit_export")

user = signed_in_user()
require_role(user, "dig", "admin")
st.title(t("audit_title"))

left, right = st.columns([2, 1])
action = left.selectbox(t("action"), (None, *ACTIONS), format_func=lambda a: t("all_actions") if a is None else a,
                        key="audit_action")
pager_key = f"audit_page-{action}"
rows, total = data.audit_log(user, int(st.session_state.get(pager_key, 1)), PAGE_SIZE, action)
if not rows:
    plain(t("no_audit"))
else:
    st.dataframe(pd.DataFrame([{
        t("col_at"): to_minute(row.at), t("col_user"): row.username or "—", t("col_action"): row.action,
        t("col_report"): row.report_number or "", t("col_detail"): row.detail,
    } for row in rows]), hide_index=True, width="stretch", height=table_height(len(rows)))
pages = max(1, math.ceil(total / PAGE_SIZE))
right.number_input(t("page_number"), min_value=1, max_value=pages, step=1, key=pager_key)

if st.button(t("export_audit"), key="prepare_audit_export"):
    st.session_state["audit_export"] = data.audit_csv(user)
if "audit_export" in st.session_state:
    st.download_button(t("export_audit") + " ⬇", data=st.session_state["audit_export"],
                       file_name="satark-audit.csv", mime="text/csv", key="download_audit")
