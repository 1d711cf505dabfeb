"""One report at /report?number=...: its fields as plain text, evidence, timeline and the police's work
on it (status, notes, message to the reporter, forwarding to an officer).

A report outside the user's offices shows exactly what a number that does not exist shows; the
service layer records the refused attempt. The report is read once per visit (each read is an audited
view) and again after every change made here.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable

import streamlit as st

from dashboard import data
from dashboard.labels import t
from dashboard.ui import (
    category_name,
    district_name,
    field,
    flash,
    form_key,
    office_label,
    outcome_name,
    plain,
    range_name,
    renew_form,
    show_flash,
    signed_in_user,
    status_name,
    timeline_text,
    to_hour,
    to_minute,
)
from satark.police import OUTCOMES, STATUSES

user = signed_in_user()
requested = st.query_params.get("number") or ""
back, search = st.columns([1, 5], vertical_alignment="bottom")
if back.button(t("back_to_inbox"), key="back"):
    st.switch_page("views/inbox.py")
with search.form("open_number", clear_on_submit=True, border=False):
    box, go = st.columns([4, 1], vertical_alignment="bottom")
    typed = box.text_input(t("open_number"), placeholder="GZP-2026-00042")
    if go.form_submit_button(t("open")) and typed.strip():
        requested = typed
        st.session_state.pop("report_visit", None)
if not requested.strip():
    st.stop()
number = data.normalize_number(requested)
if st.query_params.get("number") != number:
    st.query_params["number"] = number

visit = st.session_state.get("report_visit")
if visit is None or visit["number"] != number:
    reread_after_change = st.session_state.pop("report_changed", None) == number
    visit = {"number": number, "view": data.open_report(user, number, record_view=not reread_after_change),
             "files": {}}
    st.session_state["report_visit"] = visit
report = visit["view"]
if report is None:
    st.error(t("no_such_report"))
    st.stop()


def reread() -> None:
    """After a change: read the report again and show the result (and a cleared form)."""
    st.session_state.pop("report_visit", None)
    st.session_state["report_changed"] = number
    st.rerun()


def text_form(name: str, label: str, max_chars: int, button: str, done: str, save: Callable[[str], None]) -> None:
    """A one-field form that saves non-empty text once, then clears (a fresh form key)."""
    with st.form(form_key(name), clear_on_submit=True):
        text = st.text_area(label, max_chars=max_chars)
        if st.form_submit_button(button):
            if not text.strip():
                st.warning(t("empty_text"))
            else:
                save(text.strip())
                renew_form(name)
                flash(done)
                reread()


title, reload = st.columns([6, 1], vertical_alignment="bottom")
title.title(("🚨 " if report.urgent else "") + ("🚩 " if report.flagged else "")
            + t("report_title", number=report.number))
if reload.button(t("reload"), key="reload"):
    reread()
show_flash()

left, middle, right = st.columns(3)
with left:
    field(t("field_number"), report.number)
    field(t("field_category"), category_name(report.category))
    field(t("field_district"), district_name(report.district))
    field(t("field_range"), range_name(report.range_code))
with middle:
    field(t("field_status"), status_name(report.status))
    if report.outcome:
        field(t("field_outcome"), outcome_name(report.outcome))
    if report.duplicate_of:
        field(t("field_duplicate_of"), report.duplicate_of)
    field(t("field_urgent"), t("yes") if report.urgent else t("no"))
    if report.flagged:
        field(t("field_flagged"), t("yes"))
    field(t("field_received"), to_hour(report.received_hour))
with right:
    field(t("field_place"), report.place)
    field(t("field_when"), report.when)
    field(t("field_language"), {"hi": "हिन्दी", "en": "English"}.get(report.language, report.language))
    field(t("field_routed_to"), "; ".join(map(office_label, report.routed_to)))

with st.container(border=True):
    field(t("field_description"), report.description)
    field(t("field_details"), report.details)
    if report.evidence_note:
        field(t("field_evidence_note"), report.evidence_note)

st.subheader(t("evidence"))
if not report.evidence:
    st.caption(t("no_evidence"))
for item in report.evidence:
    with st.container(border=True):
        if item.quarantined:
            st.caption(t("quarantined"))
            continue
        if item.id not in visit["files"]:
            visit["files"][item.id] = data.evidence_file(user, item.id)
        found = visit["files"][item.id]
        if found is None:
            st.caption(t("evidence_unavailable"))
            continue
        path, mime = found
        if item.kind == "image":
            st.image(str(path), width=480)
        elif item.kind == "audio":
            st.audio(str(path), format=mime)
        elif item.kind == "video":
            st.video(str(path), format=mime)
        else:
            extension = mimetypes.guess_extension(mime or "") or ""
            st.download_button(t("download", kind=item.kind), data=path.read_bytes, mime=mime,
                               file_name=f"{report.number}-{item.id[:8]}{extension}", key=f"file_{item.id}")
        if item.caption:
            plain(item.caption)

timeline, work = st.columns([1, 1])
with timeline:
    st.subheader(t("timeline"))
    if not report.timeline:
        st.caption(t("no_timeline"))
    for entry in report.timeline:
        who = f" — {entry['by']}" if entry.get("by") else ""
        # The reporter's events come truncated to the hour from the service layer; police actions to the minute.
        st.caption(f"{to_minute(entry['at'])} — {t('kind_' + entry['kind'])}{who}")
        plain(timeline_text(entry))
    st.subheader(t("followups"))
    followups = [entry for entry in report.timeline if entry["kind"] == "followup"]
    if not followups:
        st.caption(t("no_followups"))
    for entry in followups:
        st.caption(to_hour(entry["at"]))
        plain(entry["text"])

with work:
    st.subheader(t("change_status"))
    with st.form(form_key("status"), clear_on_submit=True):
        status = st.selectbox(t("new_status"), STATUSES, index=STATUSES.index(report.status)
                              if report.status in STATUSES else 0, format_func=status_name)
        outcome = st.selectbox(t("outcome"), (None, *OUTCOMES),
                               format_func=outcome_name)
        duplicate_of = st.text_input(t("duplicate_of"))
        note = st.text_input(t("note_optional"))
        if st.form_submit_button(t("update_status")):
            try:
                data.change_status(user, report.number, status, note.strip() or None, outcome,
                                   data.normalize_number(duplicate_of) if duplicate_of.strip() else None)
            except LookupError:
                st.error(t("no_such_report"))
            except ValueError as error:
                st.error(str(error))
            else:
                renew_form("status")
                flash(t("status_updated"))
                reread()

    st.subheader(t("forward"))
    candidates = [o for o in data.officers(user, report.district) if o.active]
    # Officers named for this report's category come first.
    candidates.sort(key=lambda o: (bool(o.categories) and report.category not in o.categories, o.name))
    if not candidates:
        st.caption(t("no_officers"))
    else:
        with st.form(form_key("forward"), clear_on_submit=True):
            by_id = {o.id: o for o in candidates}
            officer = by_id[st.selectbox(t("officer"), list(by_id), format_func=lambda i: (
                f"{by_id[i].rank} {by_id[i].name} ({by_id[i].phone_masked})"))]
            if st.form_submit_button(t("forward_button")):
                try:
                    data.forward(user, report.number, officer.id)
                except LookupError:
                    st.error(t("forward_refused"))
                else:
                    renew_form("forward")
                    flash(t("forwarded", officer=officer.name))
                    reread()
    if report.forwards:
        st.caption(t("forwards"))
        for sent in report.forwards:
            plain(t("forward_status", officer=sent["officer"], at=to_minute(sent["at"]),
                    status=t(f"delivery_{sent['status']}")))

    st.subheader(t("message_reporter"))
    text_form("message", t("message_text"), 1000, t("send"), t("message_sent"),
              lambda text: data.message_reporter(user, report.number, text))

    st.subheader(t("internal_note"))
    text_form("note", t("note_text"), 4000, t("add_note"), t("note_added"),
              lambda text: data.add_note(user, report.number, text))
