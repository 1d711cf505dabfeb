"""The police service layer on a real SQLite database: scoping (also by search and export), the
inbox, the status workflow, notes and messages, evidence access, overview and the audit log."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta

import pytest
from PIL import Image
from sqlalchemy import select, text, update
from sqlalchemy.exc import DatabaseError

from satark import police, reports
from satark.db.models import AuditEvent, Report
from satark.db.session import get_session_factory
from satark.media import store
from satark.police import InboxFilter
from tests.support.police import submit, user


def audit_events(action: str | None = None) -> list[tuple[str, str | None, str | None]]:
    with get_session_factory().begin() as session:
        statement = select(AuditEvent.username, AuditEvent.action, AuditEvent.report_number).order_by(AuditEvent.id)
        return [tuple(r) for r in session.execute(statement) if action is None or r.action == action]


@pytest.fixture
def offices(runtime):
    """An SP office each in Ghazipur and Jaunpur, the range's DIG office, and an admin."""
    return {"gzp": user("sp-gzp", "sp", "SP-GZP"), "jnp": user("sp-jnp", "sp", "SP-JNP"),
            "dig": user("dig-vns", "dig", "DIG-VNS"), "admin": user("admin", "admin", None)}


def test_numbers_are_matched_in_any_case_and_with_stray_spaces():
    assert police.normalize_number(" cdl-2026-00222 ") == "CDL-2026-00222"
    assert police.normalize_number("gzp – 2026 – 00007") == "GZP-2026-00007"


def test_another_districts_report_is_refused_by_number_search_and_export(offices):
    ghazipur = submit("GZP").public_number
    jaunpur = offices["jnp"]
    assert police.open_report(offices["gzp"], ghazipur.lower()).number == ghazipur
    assert police.open_report(jaunpur, ghazipur) is None
    assert police.open_report(jaunpur, "GZP-2026-99999") is None  # missing looks the same
    assert police.inbox(jaunpur, InboxFilter(text=f" {ghazipur.lower()} ")).total == 0
    assert ghazipur not in police.export_csv(jaunpur, InboxFilter(text=ghazipur))
    with pytest.raises(police.ReportNotFound):
        police.change_status(jaunpur, ghazipur, "acknowledged")
    with pytest.raises(police.ReportNotFound):
        police.message_reporter(jaunpur, ghazipur, "hello")
    assert police.open_report(offices["admin"], ghazipur) is None  # admins see no report content
    refused = [(u, n) for u, a, n in audit_events("access_refused")]
    assert refused == [("sp-jnp", ghazipur)] * 5 + [("admin", ghazipur)]
    assert ("sp-jnp", "export", None) in audit_events("export")
    police.change_status(offices["gzp"], ghazipur, "closed", outcome="false_report")
    assert police.inbox(offices["gzp"], InboxFilter(text=ghazipur)).total == 0  # own closed report: not open
    assert len(audit_events("access_refused")) == 6  # and not a refusal either


def test_the_dig_office_sees_its_whole_range(offices):
    numbers = {submit(d).public_number for d in ("GZP", "JNP", "VNS")}
    page = police.inbox(offices["dig"], InboxFilter())
    assert {row.number for row in page.rows} == numbers
    assert police.inbox(offices["dig"], InboxFilter(districts=("JNP",))).total == 1
    assert police.inbox(offices["gzp"], InboxFilter()).total == 1


def test_inbox_lists_urgent_first_with_filters_paging_unread_markers_and_counts(offices):
    sp = offices["gzp"]
    plain = [submit(place=f"village {i}").public_number for i in range(3)]
    urgent = submit(category="crime_against_women", urgent=True, place="Zamania station road").public_number
    photo = store(_jpeg(), "image", "image/jpeg")
    with_evidence = submit(evidence_ids=(photo,)).public_number
    page = police.inbox(sp, InboxFilter(), page_size=2)
    assert [r.number for r in page.rows] == [urgent, with_evidence]
    assert (page.total, page.counts) == (5, {"open": 5, "urgent": 1, "unread": 5, "new": 5})
    assert page.rows[0].received_hour.utcoffset() == timedelta(hours=5, minutes=30)
    assert page.rows[0].received_hour.minute == page.rows[0].received_hour.second == 0
    second = police.inbox(sp, InboxFilter(), page=3, page_size=2)
    assert [r.number for r in second.rows] == [plain[0]]
    assert [r.number for r in police.inbox(sp, InboxFilter(sort="oldest")).rows][:3] == plain
    assert police.inbox(sp, InboxFilter(urgent_only=True)).total == 1
    assert police.inbox(sp, InboxFilter(categories=("crime_against_women",))).rows[0].number == urgent
    evidence = police.inbox(sp, InboxFilter(has_evidence=True))
    assert [(r.number, r.evidence_count) for r in evidence.rows] == [(with_evidence, 1)]
    assert police.inbox(sp, InboxFilter(has_evidence=False)).total == 4
    assert police.inbox(sp, InboxFilter(text="zamania")).rows[0].number == urgent
    assert police.inbox(sp, InboxFilter(text="100%_")).total == 0  # LIKE wildcards are plain text
    today = date.today()
    around_today = InboxFilter(date_from=today - timedelta(days=1), date_to=today + timedelta(days=1))
    assert police.inbox(sp, around_today).total == 5
    assert police.inbox(sp, InboxFilter(date_to=today - timedelta(days=2))).total == 0
    police.open_report(sp, urgent)
    after = police.inbox(sp, InboxFilter())
    assert after.counts["unread"] == 4 and not after.rows[0].unread
    assert police.inbox(offices["dig"], InboxFilter()).counts["unread"] == 5  # markers are per user


def test_polling_for_new_and_urgent_reports(offices):
    sp = offices["gzp"]
    submit()
    seen = police.newest_report_id(sp)
    assert seen > 0 and police.urgent_since(sp, seen) == ()
    urgent = submit(urgent=True).public_number
    submit("JNP", urgent=True)  # not Ghazipur's
    assert police.newest_report_id(sp) > seen
    assert police.urgent_since(sp, seen) == (urgent,)
    assert police.newest_report_id(offices["admin"]) == 0


def test_status_workflow_with_outcomes_and_timeline(offices):
    sp = offices["gzp"]
    number = submit().public_number
    original = submit().public_number
    police.change_status(sp, number, "acknowledged", note="seen by the duty officer")
    with pytest.raises(ValueError, match="cannot go"):
        police.change_status(sp, number, "new")
    with pytest.raises(ValueError, match="outcome"):
        police.change_status(sp, number, "closed")
    with pytest.raises(ValueError, match="another report"):
        police.change_status(sp, number, "closed", outcome="duplicate", duplicate_of=number)
    with pytest.raises(ValueError, match="another report"):
        police.change_status(sp, number, "closed", outcome="duplicate", duplicate_of=submit("JNP").public_number)
    police.change_status(sp, number, "under_investigation")
    police.add_note(sp, number, "Beat constable to verify")
    police.message_reporter(sp, number, "Please share the vehicle number.")
    police.change_status(sp, number, "closed", outcome="duplicate", duplicate_of=f" {original.lower()}")
    view = police.open_report(sp, number)
    assert (view.status, view.outcome, view.duplicate_of) == ("closed", "duplicate", original)
    views = len(audit_events("report_view"))
    assert police.open_report(sp, number, record_view=False).status == "closed"
    assert len(audit_events("report_view")) == views
    kinds = [event["kind"] for event in view.timeline]
    assert kinds.count("status") == 4 and "note" in kinds and "message_to_reporter" in kinds
    assert any("seen by the duty officer" in e["text"] for e in view.timeline)
    submitted = view.timeline[0]
    assert (submitted["by"], submitted["at"].minute, submitted["at"].second) == (None, 0, 0)  # reporter: hour
    assert [r.number for r in police.inbox(sp, InboxFilter()).rows] == [original]  # closed ones leave
    assert police.inbox(sp, InboxFilter(statuses=("closed",))).rows[0].number == number


def test_the_reporter_sees_the_new_status_and_the_message(offices):
    receipt = submit()
    police.change_status(offices["gzp"], receipt.public_number, "under_investigation")
    police.message_reporter(offices["gzp"], receipt.public_number, "Raid planned.")
    status = reports.report_status(receipt.receipt_code, sender_id="reporter")
    assert (status.status, status.messages) == ("under_investigation", ("Raid planned.",))


def test_evidence_files_only_for_the_offices_the_report_reaches(offices):
    photo = store(_jpeg(), "image", "image/jpeg")
    number = submit(evidence_ids=(photo,)).public_number
    view = police.open_report(offices["gzp"], number)
    assert [(e.kind, e.mime_type, e.quarantined) for e in view.evidence] == [("image", "image/jpeg", False)]
    path, mime = police.evidence_file(offices["gzp"], photo)
    assert path.is_file() and mime == "image/jpeg"
    assert police.evidence_file(offices["dig"], photo) is not None
    assert police.evidence_file(offices["jnp"], photo) is None
    assert police.evidence_file(offices["jnp"], "no-such-id") is None
    assert ("sp-jnp", "access_refused", number) in audit_events()


def test_overview_counts_in_sql(offices):
    sp = offices["gzp"]
    for category in ("illegal_liquor", "illegal_liquor", "drugs"):
        submit(category=category)
    first = police.inbox(sp, InboxFilter(sort="oldest")).rows[0].number
    police.change_status(sp, first, "closed", outcome="no_evidence")
    summary = police.overview(sp, InboxFilter(open_only=False))
    assert summary.total == 3
    assert summary.by_category == {"illegal_liquor": 2, "drugs": 1}
    assert summary.by_status == {"new": 2, "closed": 1}
    assert summary.by_district == {"GZP": 3}
    assert sum(n for _, n in summary.weekly) == 3 and summary.weekly[0][0].weekday() == 0
    assert ("illegal_liquor", "GZP", 2) in summary.heatmap
    assert summary.median_hours_to_close is not None and summary.median_hours_to_close < 1
    assert police.overview(offices["jnp"], InboxFilter(open_only=False)).total == 0


def set_created(number: str, moment: datetime) -> None:
    with get_session_factory().begin() as session:
        session.execute(update(Report).where(Report.public_number == number).values(created_at=moment))


def test_weeks_start_on_monday_in_india(offices):
    weeks_start_on_monday_in_india(offices["gzp"])


def weeks_start_on_monday_in_india(sp) -> None:
    """Sunday 23:00 and Monday 00:30 India time fall in different weeks (UTC would merge them)."""
    sunday_night, monday_morning = submit().public_number, submit().public_number
    set_created(sunday_night, datetime(2026, 11, 29, 23, 0, tzinfo=police.IST))
    set_created(monday_morning, datetime(2026, 11, 30, 0, 30, tzinfo=police.IST))
    weekly = police.overview(sp, InboxFilter(open_only=False)).weekly
    assert weekly == ((date(2026, 11, 23), 1), (date(2026, 11, 30), 1))


def test_export_is_csv_of_the_filtered_list_and_audited(offices):
    submit(place="=HYPERLINK(\"http://x\")")
    submit(category="drugs")
    rows = list(csv.reader(io.StringIO(police.export_csv(offices["gzp"], InboxFilter(categories=("illegal_liquor",))))))
    assert rows[0][0] == "number" and len(rows) == 2
    assert rows[1][4].startswith("'=")  # no formula injection into spreadsheets
    assert ("sp-gzp", "export", None) in audit_events()


def test_audit_log_for_dig_and_admin_only_and_append_only(offices):
    number = submit().public_number
    police.open_report(offices["gzp"], number)
    police.open_report(user("sp-mzp", "sp", "SP-CDL"), number)
    rows, total = police.audit_log(offices["dig"], action="report_view")
    assert total == 1 and (rows[0].username, rows[0].report_number) == ("sp-gzp", number)
    _, everything = police.audit_log(offices["admin"])
    assert everything > total
    with pytest.raises(PermissionError):
        police.audit_log(offices["gzp"])
    assert "report_view" in police.audit_csv(offices["admin"])
    with pytest.raises(DatabaseError), get_session_factory().begin() as session:
        session.execute(text("DELETE FROM audit_events"))
    with pytest.raises(DatabaseError), get_session_factory().begin() as session:
        session.execute(text("UPDATE audit_events SET detail = 'x'"))


def test_admins_keep_users(offices):
    admin = offices["admin"]
    police.create_user(admin, "sp-vns", "a long enough password", "sp", "SP-VNS")
    police.set_user_disabled(admin, "sp-vns", True)
    listed = {u["username"]: u for u in police.list_users(admin)}
    assert listed["sp-vns"]["disabled"] and listed["sp-gzp"]["office_code"] == "SP-GZP"
    with pytest.raises(PermissionError):
        police.list_users(offices["dig"])


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(out, "JPEG")
    return out.getvalue()
