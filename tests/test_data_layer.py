"""The data layer on a real SQLite database: exactly-once submit, receipts, status, follow-ups."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import func, select

from satark import police, reports
from satark.db.models import EvidenceItem, Office, Report, ReportMessage, ReportRoute
from satark.db.session import get_session_factory
from satark.receipts import ALPHABET, find_code, normalize_code, receipt_code_for, receipt_hash
from satark.settings import get_receipt_secret
from tests.support.police import user


def make_draft(**overrides) -> reports.ReportDraft:
    values = dict(
        draft_key=uuid.uuid4().hex, category="illegal_liquor", district_code="GZP",
        description="gaon me kachi sharab banti hai", place="Saidpur, near the canal",
        incident_time="every night", details="two men on a motorcycle deliver it", language="hi",
    )
    values.update(overrides)
    return reports.ReportDraft(**values)


def count(model) -> int:
    with get_session_factory().begin() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_receipt_codes_are_readable_and_carry_60_bits():
    codes = {receipt_code_for(uuid.uuid4().hex, "secret") for _ in range(2000)}
    assert len(codes) == 2000
    for code in list(codes)[:50]:
        assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", code)
        assert not set(code.replace("-", "")) & set("01OI")
    assert len(ALPHABET) ** 12 >= 2 ** 50


def test_codes_are_found_in_how_people_type_them():
    assert normalize_code("k7qm 4xpa 9trc") == "K7QM4XPA9TRC"
    assert find_code("status k7qm-4xpa-9trc please") == "K7QM4XPA9TRC"
    assert find_code("स्थिति K7QM4XPA9TRC") == "K7QM4XPA9TRC"
    assert find_code("status 12345") is None
    assert normalize_code("K7QM-4XPA-9TR0") is None


def test_submit_stores_report_routes_and_only_a_hash_of_the_receipt(runtime):
    draft = make_draft()
    receipt = reports.submit_report(draft)
    assert receipt.newly_created
    assert re.fullmatch(rf"GZP-\d{{4}}-[{ALPHABET}]{{5}}", receipt.public_number)
    with get_session_factory().begin() as session:
        report = session.execute(select(Report)).scalar_one()
        assert report.receipt_hash == receipt_hash(receipt.receipt_code, get_receipt_secret())
        assert report.created_at.tzinfo is not None
        offices = session.execute(
            select(Office.code).join(ReportRoute).where(ReportRoute.report_id == report.id)).scalars()
        assert sorted(offices) == ["DIG-VNS", "SP-GZP"]
    db_bytes = b"".join(path.read_bytes() for path in runtime.glob("satark.db*"))
    assert draft.draft_key.encode() not in db_bytes  # it would derive the receipt code
    assert receipt.receipt_code.encode() not in db_bytes
    assert receipt.receipt_code.replace("-", "").encode() not in db_bytes


def test_a_retried_submit_stores_the_report_once_with_the_same_receipt(runtime):
    draft = make_draft()
    first = reports.submit_report(draft)
    again = reports.submit_report(draft)
    assert (again.public_number, again.receipt_code) == (first.public_number, first.receipt_code)
    assert not again.newly_created
    assert count(Report) == 1


def test_status_and_police_messages_are_reached_with_the_code(runtime):
    receipt = reports.submit_report(make_draft())
    police.change_status(user("sp-gzp", "sp", "SP-GZP"), receipt.public_number, "assigned", note="SHO Saidpur")
    reports.message_reporter(receipt.public_number, "Please share the vehicle number.", "SP-GZP")
    view = reports.report_status(receipt.receipt_code.lower().replace("-", " "), sender_id="s1")
    assert view.status == "assigned"
    assert view.messages == ("Please share the vehicle number.",)
    assert reports.report_status("AAAA-BBBB-CCCC", sender_id="s1") is None


def test_followup_adds_text_and_evidence_to_the_same_report(runtime):
    with get_session_factory().begin() as session:
        item = EvidenceItem(kind="image", mime_type="image/jpeg")
        session.add(item)
        session.flush()
        evidence_id = item.id
    receipt = reports.submit_report(make_draft())
    number = reports.add_followup(receipt.receipt_code, "The truck number is UP61 T 1234.", (evidence_id,),
                                  sender_id="s1")
    assert number == receipt.public_number
    with get_session_factory().begin() as session:
        assert session.execute(select(ReportMessage.body)).scalar_one() == "The truck number is UP61 T 1234."
        assert session.get(EvidenceItem, evidence_id).report.public_number == receipt.public_number
    assert reports.add_followup("AAAA-BBBB-CCCC", "x", sender_id="s1") is None


def test_evidence_of_the_draft_is_attached_on_submit(runtime):
    with get_session_factory().begin() as session:
        items = [EvidenceItem(kind="audio"), EvidenceItem(kind="image")]
        session.add_all(items)
        session.flush()
        ids = tuple(i.id for i in items)
    receipt = reports.submit_report(make_draft(evidence_ids=ids))
    with get_session_factory().begin() as session:
        attached = session.execute(select(EvidenceItem).where(EvidenceItem.report_id.is_not(None))).scalars()
        assert {i.report.public_number for i in attached} == {receipt.public_number}


def test_wrong_codes_are_slowed_down_per_conversation(runtime):
    for _ in range(reports.get_settings().max_wrong_codes):
        assert reports.wrong_code_lockout("sender-a") == 0
        assert not reports.code_exists("AAAA-BBBB-CCCC", sender_id="sender-a")
    assert reports.wrong_code_lockout("sender-a") > 0
    assert reports.wrong_code_lockout("sender-b") == 0


def test_a_database_outage_with_no_spool_is_reported_not_swallowed(runtime, monkeypatch):
    from tests.conftest import clear_caches

    monkeypatch.setenv("DATABASE_URL", "postgresql://satark@127.0.0.1:1/none")  # nothing listens there
    (runtime / "spool").write_text("")  # a file where the spool folder should be: it cannot be written
    clear_caches()
    monkeypatch.setattr(reports, "DB_ATTEMPTS", 2)
    with pytest.raises(reports.StorageUnavailable):
        reports.submit_report(make_draft())
