"""One report: details, evidence, history; change its status or write to the reporter."""

import streamlit as st

from dashboard.data import report_detail, send_to_reporter, update_status
from satark.db.models import STATUSES

office = st.session_state["office"]
number = st.text_input("Report number", key="report_number").strip()
detail = report_detail(number) if number else None
if number and detail is None:
    st.warning("No report with that number.")
if detail:
    st.title(f"Report {detail['number']}")
    st.write({k: detail[k] for k in ("category", "district", "place", "when", "urgent", "status", "language")})
    st.subheader("What the reporter said")
    st.write(detail["description"])
    st.write(detail["details"])
    if detail["evidence_note"]:
        st.write(f"Evidence note: {detail['evidence_note']}")
    st.write(f"Evidence files: {len(detail['evidence'])}")
    st.subheader("History")
    for when, status, note in detail["history"]:
        st.write(f"{when:%Y-%m-%d %H:%M} — {status} {note or ''}")
    for when, direction, body in detail["messages"]:
        st.write(f"{when:%Y-%m-%d %H:%M} — {direction}: {body}")
    with st.form("status"):
        status = st.selectbox("New status", STATUSES, index=STATUSES.index(detail["status"]))
        note = st.text_input("Note (internal)")
        if st.form_submit_button("Update status"):
            update_status(detail["number"], status, note, office)
            st.success("Status updated.")
    with st.form("message"):
        body = st.text_area("Message the reporter sees when checking status")
        if st.form_submit_button("Send") and body.strip():
            send_to_reporter(detail["number"], body.strip(), office)
            st.success("Message saved for the reporter.")
