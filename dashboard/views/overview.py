"""What a DIG puts in a monthly review: counts, weekly trend, time to act, category by district."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.labels import t
from dashboard.ui import category_name, district_name, scope_filters, signed_in_user, status_name
from satark.police import InboxFilter

user = signed_in_user()
st.title(t("overview_title"))

left, middle, right = st.columns(3)
districts, categories = scope_filters(user, left, middle, "o")
date_from = right.date_input(t("date_from"), value=None, key="o_from", format="DD.MM.YYYY")
date_to = right.date_input(t("date_to"), value=None, key="o_to", format="DD.MM.YYYY")
flt = InboxFilter(districts=districts, categories=categories, date_from=date_from, date_to=date_to,
                  open_only=False, sort="newest")
summary = data.overview(user, flt)


def hours(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


total, acknowledge, close = st.columns(3)
total.metric(t("total"), summary.total)
acknowledge.metric(t("median_ack"), hours(summary.median_hours_to_acknowledge))
close.metric(t("median_close"), hours(summary.median_hours_to_close))


def counts(values: dict[str, int], name) -> pd.DataFrame:
    return pd.DataFrame({t("count"): list(values.values())}, index=[name(key) for key in values])


by_category, by_district, by_status = st.columns(3)
by_category.subheader(t("by_category"))
by_category.bar_chart(counts(summary.by_category, category_name), horizontal=True)
by_district.subheader(t("by_district"))
by_district.bar_chart(counts(summary.by_district, district_name), horizontal=True)
by_status.subheader(t("by_status"))
by_status.bar_chart(counts(summary.by_status, status_name), horizontal=True)

st.subheader(t("weekly"))
weekly = pd.DataFrame([(pd.Timestamp(week), n) for week, n in summary.weekly], columns=[t("week"), t("count")])
st.line_chart(weekly, x=t("week"), y=t("count"))

st.subheader(t("heatmap"))
cells = pd.DataFrame([(category_name(c), district_name(d), n) for c, d, n in summary.heatmap],
                     columns=["category", "district", "n"])
if not cells.empty:
    dark = int(cells["n"].max() * 0.6)
    st.altair_chart(alt.Chart(cells).mark_rect().encode(
        x=alt.X("district:N", title=t("district"), axis=alt.Axis(labelAngle=0)),
        y=alt.Y("category:N", title=t("category")),
        color=alt.Color("n:Q", title=t("count"), scale=alt.Scale(scheme="orangered")),
        tooltip=[alt.Tooltip("category:N", title=t("category")), alt.Tooltip("district:N", title=t("district")),
                 alt.Tooltip("n:Q", title=t("count"))],
    ) + alt.Chart(cells).mark_text(baseline="middle").encode(
        x="district:N", y="category:N", text="n:Q",
        color=alt.condition(alt.datum.n > dark, alt.value("white"), alt.value("black"))), width="stretch")

# The export is an audited access: prepared only when asked for, then offered for download.
if st.button(t("export_csv"), key="prepare_export"):
    st.session_state["export"] = (flt, data.export_csv(user, flt))
prepared = st.session_state.get("export")
if prepared and prepared[0] == flt:
    st.download_button(t("export_csv") + " ⬇", data=prepared[1], file_name="satark-reports.csv",
                       mime="text/csv", key="download_export")
