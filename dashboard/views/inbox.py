"""The office's open reports, urgent first: filters, search, paging, unread markers and counts."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.labels import t
from dashboard.ui import (
    category_name,
    district_name,
    office_name,
    scope_filters,
    signed_in_user,
    status_name,
    table_height,
    to_hour,
)
from satark.police import SORTS, STATUSES, InboxFilter

EVIDENCE_CHOICES = {"evidence_any": None, "evidence_with": True, "evidence_without": False}
PAGE_SIZES = (25, 50, 100, 200)

user = signed_in_user()
st.title(t("inbox_title", office=office_name(user)))
st.caption(t("anonymous_note"))

alerts = st.session_state.get("urgent_alerts", ())
if alerts:
    banner, dismiss = st.columns([6, 1])
    banner.error(t("new_urgent", numbers=", ".join(alerts)), icon="🚨")
    if dismiss.button(t("dismiss"), key="dismiss_alerts"):
        st.session_state.pop("urgent_alerts")
        st.rerun()

counts = st.columns(4)  # filled below, once the filters are known

with st.form("open_number", clear_on_submit=True, border=False):
    box, go = st.columns([4, 1], vertical_alignment="bottom")
    typed = box.text_input(t("open_number"), placeholder="GZP-2026-00042")
    if go.form_submit_button(t("open")) and typed.strip():
        st.switch_page("views/report.py", query_params={"number": data.normalize_number(typed)})

with st.expander(t("filters"), expanded=False):
    left, middle, right = st.columns(3)
    districts, categories = scope_filters(user, left, left, "f")
    statuses = tuple(middle.multiselect(t("status"), STATUSES, format_func=status_name, key="f_statuses"))
    evidence = middle.selectbox(t("has_evidence"), list(EVIDENCE_CHOICES), format_func=t, key="f_evidence")
    date_from = right.date_input(t("date_from"), value=None, key="f_from", format="DD.MM.YYYY")
    date_to = right.date_input(t("date_to"), value=None, key="f_to", format="DD.MM.YYYY")
    urgent_only = left.checkbox(t("urgent_only"), key="f_urgent")
    include_closed = middle.checkbox(t("include_closed"), key="f_closed")

search, sort, size = st.columns([4, 2, 1])
text = search.text_input(t("search"), key="f_text")
order = sort.selectbox(t("sort"), SORTS, format_func=lambda key: t(f"sort_{key}"), key="f_sort")
page_size = size.selectbox(t("page_size"), PAGE_SIZES, index=1, key="f_page_size")

flt = InboxFilter(districts=districts, categories=categories, statuses=statuses, urgent_only=urgent_only,
                  date_from=date_from, date_to=date_to, has_evidence=EVIDENCE_CHOICES[evidence],
                  text=text.strip(), open_only=not include_closed, sort=order)
# The pager's key follows the filter, so a changed filter starts again at page one.
pager_key = f"pager-{hash((flt, page_size)) & 0xFFFFFFFF:x}"
result = data.inbox(user, flt, int(st.session_state.get(pager_key, 1)), page_size)

for column, key in zip(counts, ("open", "urgent", "unread", "new"), strict=True):
    column.metric(t(f"count_{key}"), result.counts.get(key, 0))

if not result.rows and result.page > 1:
    st.session_state[pager_key] = 1
    st.rerun()
if not result.rows:
    st.info(t("no_reports"))
    st.stop()

frame = pd.DataFrame([{
    "link": f"/report?number={row.number}",
    "marks": ("●" if row.unread else "") + ("🚨" if row.urgent else "") + ("🚩" if row.flagged else ""),
    "number": row.number,
    "received": to_hour(row.received_hour),
    "category": category_name(row.category),
    "district": district_name(row.district),
    "place": row.place,
    "status": status_name(row.status),
    "evidence": row.evidence_count,
} for row in result.rows])
st.caption(t("click_row"))
selection = st.dataframe(
    frame, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row",
    height=table_height(len(frame)),
    key=f"inbox_table_{st.session_state.get('inbox_opened', 0)}",
    column_config={
        "link": st.column_config.LinkColumn(t("col_link"), display_text=r"/report\?number=(.*)", width="medium"),
        "marks": st.column_config.TextColumn("", help=t("col_marks"), width=60),
        "number": None,
        "received": t("col_received"),
        "category": t("col_category"),
        "district": t("col_district"),
        "place": t("col_place"),
        "status": t("col_status"),
        "evidence": st.column_config.NumberColumn(t("col_evidence"), width="small"),
    },
)
if selection.selection.rows:
    st.session_state["inbox_opened"] = st.session_state.get("inbox_opened", 0) + 1
    chosen = frame.iloc[selection.selection.rows[0]]["number"]
    st.switch_page("views/report.py", query_params={"number": chosen})

pages = max(1, math.ceil(result.total / page_size))
info, pager = st.columns([4, 1], vertical_alignment="bottom")
info.caption(t("of_pages", page=result.page, pages=pages, total=result.total))
if st.session_state.get(pager_key, 1) > pages:
    st.session_state[pager_key] = pages
pager.number_input(t("page_number"), min_value=1, max_value=pages, step=1, key=pager_key)
