"""Reports routed to the selected office, newest first."""

import streamlit as st

from dashboard.data import office_reports

office = st.session_state["office"]
st.title(f"Reports — {st.session_state['office_name']}")
st.caption("Reporters are anonymous: no phone number or name is stored anywhere in this system.")
frame = office_reports(office)
if frame.empty:
    st.info("No reports yet.")
else:
    left, right = st.columns(2)
    left.metric("Reports", len(frame))
    right.metric("Urgent", int(frame["urgent"].sum()))
    st.dataframe(frame, hide_index=True, use_container_width=True)
