"""Satark Mitra dashboard: the entry file only picks the office and routes to pages.

Sign-in is not built yet: the office picker stands in for it (see README).
"""

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard.data import offices

st.set_page_config(page_title="Satark Mitra", page_icon="🛡️", layout="wide")

choices = dict(offices())
office = st.sidebar.selectbox("Office", list(choices), format_func=choices.get, key="office")
st.session_state["office_name"] = choices[office]

pages = [
    st.Page("views/reports.py", title="Reports", icon="📋", default=True),
    st.Page("views/report.py", title="Report", icon="🔎", url_path="report"),
]
st.navigation(pages).run()
