"""The offices reports are routed to, as configured in the offices file."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.labels import t
from dashboard.ui import require_role, signed_in_user

user = signed_in_user()
require_role(user, "admin")
st.title(t("offices_title"))
st.caption(t("offices_note"))
directory = data.offices()
rows = []
for police_range in directory.ranges:
    rows.append((police_range.office, police_range.code, ""))
    rows += [(district.office, police_range.code, district.code) for district in police_range.districts]
st.dataframe(pd.DataFrame([{
    t("col_code"): office.code, t("col_kind"): office.kind, t("col_name_en"): office.name["en"],
    t("col_name_hi"): office.name.get("hi", ""), t("col_range"): range_code, t("col_district"): district,
} for office, range_code, district in rows]), hide_index=True, width="stretch")
