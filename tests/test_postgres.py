"""The same schema and exactly-once submit on PostgreSQL, the production database."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from satark import reports
from satark.db.models import Report
from satark.db.session import get_session_factory


def test_submit_on_postgres_is_stored_once(postgres):
    draft = reports.ReportDraft(
        draft_key=uuid.uuid4().hex, category="extortion", district_code="VNS",
        description="दुकानदारों से रंगदारी मांगी जा रही है", place="Lanka", incident_time="कल शाम",
        details="तीन लोग बाइक पर", language="hi")
    first = reports.submit_report(draft)
    again = reports.submit_report(draft)
    assert again.receipt_code == first.receipt_code
    assert reports.report_status(first.receipt_code, sender_id="pg").status == "new"
    with get_session_factory().begin() as session:
        assert session.execute(select(func.count()).select_from(Report)).scalar_one() == 1
        created = session.execute(select(Report.created_at)).scalar_one()
    assert created.tzinfo is not None
