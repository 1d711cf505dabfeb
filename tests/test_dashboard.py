"""The police dashboard in Streamlit's AppTest: sign-in, every page of every role, scoping by office,
the report page's work (status, message to the reporter) and plain-text rendering of citizen text.

Everything runs on the real service layer and a real (SQLite) database; only the browser is
simulated (tests/test_browser.py drives a real one)."""

from __future__ import annotations

import io
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import streamlit as st
from PIL import Image
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from satark import media, police, reports, users
from satark.auth import sign_in
from satark.db.models import AuditEvent
from satark.db.session import get_session_factory
from satark.settings import PROJECT_ROOT
from satark.taxonomy import get_category, status_label
from tests.support import media_fixtures

APP = str(PROJECT_ROOT / "dashboard" / "app.py")
PASSWORD = "correct horse battery"
MINING = get_category("illegal_mining").label("en")
CITIZEN_MARKUP = "**bold** <b>x</b> [link](http://x)"


@pytest.fixture
def office_users(runtime):
    st.cache_data.clear()  # cached query results of an earlier test's database
    for username, role, office in (("sp_gzp", "sp", "SP-GZP"), ("sp_jnp", "sp", "SP-JNP"),
                                   ("dig_vns", "dig", "DIG-VNS"), ("admin", "admin", None)):
        users.add_user(username, PASSWORD, role, office)
    return runtime


def submit(district: str, *, place: str = "Zamania ghat", description: str = "JCB se raat me balu khanan",
           urgent: bool = False, evidence: tuple[str, ...] = ()) -> reports.Receipt:
    return reports.submit_report(reports.ReportDraft(
        draft_key=uuid.uuid4().hex, category="illegal_mining", district_code=district,
        description=description, place=place, incident_time="every night",
        details="dumpers without number plates", language="hi", urgent=urgent, evidence_ids=evidence))


def signed_in(username: str) -> AppTest:
    """An app whose session holds what the sign-in form stores (the form itself is tested below)."""
    app = AppTest.from_file(APP, default_timeout=30)
    now = datetime.now(timezone.utc)
    app.session_state["user"] = sign_in(username, PASSWORD).user
    app.session_state["signed_in_at"] = now
    app.session_state["last_seen_at"] = now
    return app


def open_report(app: AppTest, number: str) -> AppTest:
    app.switch_page("views/report.py")
    app.query_params["number"] = number
    return app.run()


def texts(app: AppTest) -> list[str]:
    return [element.value for element in app.text]


def shown(app: AppTest) -> str:
    """Everything the page says, in one string."""
    parts = [e.value for kind in ("title", "header", "subheader", "caption", "markdown", "text", "error",
                                  "warning", "info", "success") for e in getattr(app, kind)]
    return "\n".join(str(p) for p in parts)


def audit_actions(number: str | None = None) -> list[tuple[str | None, str]]:
    with get_session_factory().begin() as session:
        rows = session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().all()
        return [(row.username, row.action) for row in rows if number is None or row.report_number == number]


# -- signing in ------------------------------------------------------------------------------------

def fill_sign_in(app: AppTest, username: str, password: str) -> AppTest:
    app.text_input[0].input(username)
    app.text_input[1].input(password)
    return app.button[0].click().run()


def test_sign_in_wrong_password_lock_out_and_success(office_users, monkeypatch):
    monkeypatch.setenv("LOGIN_MAX_FAILURES", "3")
    app = AppTest.from_file(APP, default_timeout=30).run()
    assert not app.exception
    assert "Sign in" in [b.label for b in app.button]

    fill_sign_in(app, "sp_gzp", "wrong password")
    assert [e.value for e in app.error] == ["Wrong username or password."]
    assert app.text_input[1].value == ""  # the form clears

    fill_sign_in(app, "sp_gzp", "wrong again")
    fill_sign_in(app, "sp_gzp", "wrong a third time")
    assert "locked" in app.error[0].value and "15" in app.error[0].value
    fill_sign_in(app, "sp_gzp", PASSWORD)  # even the right password waits out the lock
    assert "locked" in app.error[0].value
    assert "user" not in app.session_state

    fill_sign_in(AppTest.from_file(APP, default_timeout=30).run(), "dig_vns", "x")
    app = fill_sign_in(AppTest.from_file(APP, default_timeout=30).run(), "DIG_VNS ", PASSWORD)
    assert not app.exception
    assert app.title[0].value.startswith("Inbox — DIG Office, Varanasi Range")
    assert ("sp_gzp", "sign_in_locked") in audit_actions() and ("dig_vns", "sign_in") in audit_actions()


def test_idle_session_expires_and_sign_out(office_users):
    app = signed_in("sp_gzp")
    app.session_state["last_seen_at"] = datetime.now(timezone.utc) - timedelta(hours=1)
    app.run()
    assert "Your session expired" in app.warning[0].value
    assert "user" not in app.session_state

    app = signed_in("sp_gzp").run()
    users.set_disabled("sp_gzp")  # an admin disables the account: its open session ends too
    app.run()
    assert "user" not in app.session_state
    users.set_disabled("sp_gzp", False)

    app = signed_in("sp_gzp").run()
    app.sidebar.button(key="sign_out").click().run()
    assert "user" not in app.session_state and app.text_input[0].label == "Username"
    assert audit_actions()[-1] == ("sp_gzp", "sign_out")


def test_report_link_before_sign_in_opens_the_report_after_it(office_users):
    number = submit("GZP").public_number
    app = AppTest.from_file(APP, default_timeout=30)
    open_report(app, number.lower())
    assert f"Sign in to open report {number}" in app.info[0].value
    fill_sign_in(app, "sp_gzp", PASSWORD)
    assert not app.exception
    assert app.title[0].value == f"Report {number}"


# -- who sees what ---------------------------------------------------------------------------------

def inbox_numbers(app: AppTest) -> list[str]:
    return list(app.dataframe[0].value["number"])


def test_sp_office_sees_its_district_and_dig_office_the_range(office_users):
    ghazipur = submit("GZP", urgent=False).public_number
    urgent = submit("GZP", urgent=True).public_number
    chandauli = submit("CDL").public_number

    app = signed_in("sp_gzp").run()
    assert not app.exception
    assert inbox_numbers(app) == [urgent, ghazipur]  # urgent first
    metrics = {m.label: m.value for m in app.metric}
    assert metrics == {"Open": "2", "Urgent": "1", "Unread": "2", "New": "2"}
    table = app.dataframe[0].value
    assert list(table["marks"]) == ["●🚨", "●"]  # unread, urgent
    assert table["received"][0].endswith(":00 IST")  # to the hour, India time
    assert set(table["category"]) == {MINING} and set(table["status"]) == {
        "Received, waiting to be assigned"}

    app = signed_in("dig_vns").run()
    assert set(inbox_numbers(app)) == {ghazipur, urgent, chandauli}
    app.multiselect(key="f_districts").select("CDL").run()
    assert inbox_numbers(app) == [chandauli]


def test_inbox_filters_search_sort_and_paging(office_users):
    numbers = [submit("GZP", place=f"ghat number {i}").public_number for i in range(30)]
    app = signed_in("sp_gzp").run()
    app.selectbox(key="f_sort").set_value("oldest")
    app.selectbox(key="f_page_size").set_value(25).run()
    assert inbox_numbers(app) == numbers[:25]
    assert "Page 1 of 2 — 30 report(s)" in shown(app)
    app.number_input[0].set_value(2).run()
    assert inbox_numbers(app) == numbers[25:]
    app.text_input(key="f_text").input("number 7").run()
    assert inbox_numbers(app) == [numbers[7]]


def test_opened_report_is_no_longer_unread(office_users):
    number = submit("GZP").public_number
    assert list(signed_in("sp_gzp").run().dataframe[0].value["marks"]) == ["●"]
    open_report(signed_in("sp_gzp"), number)
    app = signed_in("sp_gzp").run()
    assert list(app.dataframe[0].value["marks"]) == [""]


def test_admin_sees_users_and_offices_but_no_report_content(office_users):
    number = submit("GZP", description="secret tip about the ghat").public_number
    app = signed_in("admin").run()
    assert not app.exception
    assert app.title[0].value == "Users"
    assert {"sp_gzp", "dig_vns"} <= set(app.dataframe[0].value["Username"])
    assert "python -m satark.users add" in app.code[0].value
    app.text_input[0].input("SP-Vns")
    app.selectbox[1].set_value("SP-VNS")
    app.text_input[1].input("a long secret phrase")
    next(b for b in app.button if b.label == "Add a user").click().run()
    assert app.success[0].value.startswith("User sp-vns added")
    assert sign_in("sp-vns", "a long secret phrase").user.district_codes == ("VNS",)
    app.selectbox[2].set_value("sp_jnp")
    next(b for b in app.button if b.label == "Save").click().run()
    assert sign_in("sp_jnp", PASSWORD).outcome == "disabled"
    app = open_report(app, number)
    assert number not in shown(app) and "secret tip" not in shown(app)
    app.switch_page("views/offices.py").run()
    assert app.title[0].value == "Offices" and "SP-GZP" in list(app.dataframe[0].value["Code"])
    app.switch_page("views/audit.py").run()
    assert {"sign_in", "user_disabled"} <= set(app.dataframe[0].value["Action"])


def test_other_district_gets_the_same_answer_as_a_missing_number_and_is_audited(office_users):
    number = submit("GZP", description="secret tip about the ghat").public_number
    refused = open_report(signed_in("sp_jnp"), number)
    missing = open_report(signed_in("sp_jnp"), "GZP-2026-99999")
    assert [e.value for e in refused.error] == [e.value for e in missing.error] == ["No such report."]
    assert "secret tip" not in shown(refused)
    assert ("sp_jnp", "access_refused") in audit_actions(number)
    assert ("sp_jnp", "report_view") not in audit_actions(number)


# -- the report page -------------------------------------------------------------------------------

def test_lower_case_number_with_spaces_opens_the_report(office_users):
    number = submit("GZP").public_number
    app = open_report(signed_in("sp_gzp"), f"  {number.lower()} ")
    assert not app.exception
    assert app.title[0].value == f"Report {number}"
    assert {MINING, "Ghazipur", "Received, waiting to be assigned", "every night"} <= set(texts(app))

    app = signed_in("dig_vns").run()  # the inbox's number box
    app.text_input[0].input(f" {number.lower()}")
    app.button[0].click().run()
    assert app.title[0].value == f"Report {number}"


def test_citizen_text_is_shown_literally(office_users):
    number = submit("GZP", description=CITIZEN_MARKUP, place=CITIZEN_MARKUP).public_number
    app = open_report(signed_in("sp_gzp"), number)
    assert texts(app).count(CITIZEN_MARKUP) == 2
    rendered = [m.value for m in app.markdown] + [c.value for c in app.caption]
    assert not any("bold" in value or "<b>" in value for value in rendered)


def test_status_change_with_outcome_and_timeline(office_users):
    number = submit("GZP").public_number
    app = open_report(signed_in("sp_gzp"), number)
    app.selectbox[0].set_value("acknowledged")
    next(i for i in app.text_input if i.label == "Note (internal, optional)").input("seen by the duty officer")
    next(b for b in app.button if b.label == "Update status").click().run()
    assert not app.exception
    assert [e.value for e in app.error] == []
    assert app.success[0].value == "Status updated."
    assert status_label("acknowledged", "en") in texts(app)
    assert any(text.endswith("— seen by the duty officer") for text in texts(app))  # the timeline

    app.selectbox[0].set_value("closed").run()
    next(b for b in app.button if b.label == "Update status").click().run()
    assert app.error, "closing without an outcome is refused"
    assert ("sp_gzp", "status_change") in audit_actions(number)
    assert audit_actions(number).count(("sp_gzp", "report_view")) == 1  # re-reads after a change are no views


def test_message_to_reporter_clears_the_box_and_is_sent_once(office_users):
    receipt = submit("GZP")
    app = open_report(signed_in("sp_gzp"), receipt.public_number)
    box = next(a for a in app.text_area if a.label.startswith("Message the reporter"))
    box.input("Please send a photo of the dumper")
    send = next(b for b in app.button if b.label == "Send")
    send.click().run()
    assert not app.exception
    assert app.success[0].value == "Message saved for the reporter."
    assert next(a for a in app.text_area if a.label.startswith("Message the reporter")).value == ""
    send.click().run()  # the old form's button: gone with its form, nothing is sent again
    status = reports.report_status(receipt.receipt_code, sender_id="reporter")
    assert status.messages == ("Please send a photo of the dumper",)


def test_photo_evidence_is_shown_inline(office_users):
    picture = io.BytesIO()
    Image.new("RGB", (40, 30), "green").save(picture, "JPEG")
    evidence = media.store(picture.getvalue(), "image", "image/jpeg", caption="**the dumper**")
    document = media.store(media_fixtures.pdf(), "document", "application/pdf")
    number = submit("GZP", evidence=(evidence, document)).public_number
    app = open_report(signed_in("sp_gzp"), number)
    assert not app.exception
    assert len(app.get("imgs")) == 1
    assert [b.proto.label for b in app.get("download_button")] == ["Download document"]
    assert "**the dumper**" in texts(app)
    assert ("sp_gzp", "evidence_view") in audit_actions(number)


# -- the other pages -------------------------------------------------------------------------------

def test_urgent_report_raises_an_alert_without_reload(office_users):
    app = signed_in("sp_gzp").run()
    number = submit("GZP", urgent=True).public_number
    app.run()  # what the polling fragment's timer does
    assert any(number in e.value for e in app.error)
    assert number in inbox_numbers(app)


def test_officers_page_adds_an_officer_with_masked_number(office_users):
    app = signed_in("sp_gzp")
    app.switch_page("views/officers.py").run()
    assert not app.exception
    app.text_input[0].input("Ram Singh")
    app.text_input[1].input("SI")
    app.text_input[2].input("+91 98765 11111")
    next(b for b in app.button if b.label == "Save").click().run()
    assert app.success[0].value == "Officer saved."
    listed = app.dataframe[0].value
    assert list(listed["Name"]) == ["Ram Singh"]
    assert "98765 11111" not in listed["WhatsApp number"][0] and "9876511111" not in listed["WhatsApp number"][0]

    [officer] = police.officers(sign_in("sp_gzp", PASSWORD).user)
    app.selectbox(key="officer_choice").set_value(officer.id).run()  # edit: the number stays unless typed again
    next(i for i in app.text_input if i.label == "Rank").input("Inspector")
    next(b for b in app.button if b.label == "Save").click().run()
    assert list(app.dataframe[0].value["Rank"]) == ["Inspector"]
    assert app.dataframe[0].value["WhatsApp number"][0].endswith("1111")

    other = signed_in("sp_jnp")
    other.switch_page("views/officers.py").run()
    assert not other.dataframe  # another district's officers are not listed


def test_overview_and_csv_export_for_the_range(office_users):
    submit("GZP")
    submit("CDL", urgent=True)
    app = signed_in("dig_vns")
    app.switch_page("views/overview.py").run()
    assert not app.exception
    assert {m.label: m.value for m in app.metric}["Reports"] == "2"
    app.button(key="prepare_export").click().run()
    assert app.get("download_button")
    assert ("dig_vns", "export") in audit_actions()


def test_audit_log_for_dig_and_not_for_sp(office_users):
    number = submit("GZP").public_number
    open_report(signed_in("sp_jnp"), number)
    app = signed_in("dig_vns")
    app.switch_page("views/audit.py").run()
    assert not app.exception
    log = app.dataframe[0].value
    assert "access_refused" in set(log["Action"]) and number in set(log["Report"])

    sp = signed_in("sp_gzp")
    sp.switch_page("views/audit.py").run()  # not among an SP office's pages: the inbox opens instead
    assert sp.title[0].value.startswith("Inbox")


def test_password_change(office_users):
    app = signed_in("sp_gzp")
    app.switch_page("views/password.py").run()
    for field, value in zip(app.text_input, ("wrong password", "a new long password", "a new long password"),
                            strict=True):
        field.input(value)
    next(b for b in app.button if b.label == "Change password").click().run()
    assert app.error[0].value == "The current password is wrong."
    for field, value in zip(app.text_input, (PASSWORD, "a new long password", "a new long password"),
                            strict=True):
        field.input(value)
    next(b for b in app.button if b.label == "Change password").click().run()
    assert app.success[0].value == "Password changed."
    assert app.run().title[0].value == "Change password"  # this session goes on after its own change
    assert sign_in("sp_gzp", "a new long password").outcome == "ok"


def test_hindi_labels(office_users):
    app = signed_in("sp_gzp").run()
    app.sidebar.radio(key="language").set_value("hi").run()
    assert app.title[0].value.startswith("इनबॉक्स")
    assert "खुली" in [m.label for m in app.metric]


def test_every_label_exists_in_both_languages():
    from dashboard.labels import LABELS

    assert set(LABELS["en"]) == set(LABELS["hi"])


def test_timeline_statuses_and_forwards_read_in_the_chosen_language(monkeypatch):
    from dashboard import labels, ui

    forward = {"kind": "forward", "text": "Forwarded to SI Ram Kumar (delivered)", "officer": "SI Ram Kumar",
               "status": "delivered"}
    status = {"kind": "status", "text": "Under investigation — seen by the duty officer"}
    assert ui.timeline_text(forward) == "Forwarded to SI Ram Kumar (delivered)"
    for module in (labels, ui):
        monkeypatch.setattr(module, "language", lambda: "hi")
    assert ui.timeline_text(forward) == "SI Ram Kumar को अग्रेषित (पहुँचा)"
    assert ui.timeline_text(status) == "जाँच जारी है — seen by the duty officer"  # the note stays as written
