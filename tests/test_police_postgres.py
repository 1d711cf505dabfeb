"""The police query layer on PostgreSQL, the production database: scoping, inbox, workflow,
overview (week and median expressions differ per database), seeding and the append-only audit log."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from satark import police
from satark.db.session import get_session_factory
from satark.police import InboxFilter
from satark.seed import seed_reports
from tests.support.police import submit, user
from tests.test_police_service import weeks_start_on_monday_in_india


def test_police_service_on_postgres(postgres):
    sp, jnp, dig = user("sp-gzp", "sp", "SP-GZP"), user("sp-jnp", "sp", "SP-JNP"), user("dig-vns", "dig", "DIG-VNS")
    urgent = submit(urgent=True, place="Zamania 100%").public_number
    plain = submit().public_number
    submit("JNP", "drugs")
    page = police.inbox(sp, InboxFilter())
    assert [r.number for r in page.rows] == [urgent, plain] and page.counts["urgent"] == 1
    assert police.inbox(sp, InboxFilter(text="zamania 100%")).total == 1
    assert police.inbox(jnp, InboxFilter(text=urgent.lower())).total == 0
    assert police.open_report(jnp, urgent) is None
    police.change_status(sp, plain, "acknowledged")
    police.change_status(sp, plain, "closed", outcome="duplicate", duplicate_of=urgent.lower())
    summary = police.overview(dig, InboxFilter(open_only=False))
    assert (summary.total, summary.by_district) == (3, {"GZP": 2, "JNP": 1})
    assert summary.weekly[0][0].weekday() == 0 and summary.median_hours_to_close is not None
    assert ("illegal_liquor", "GZP", 2) in summary.heatmap
    rows, _ = police.audit_log(dig, action="access_refused")
    assert [(r.username, r.report_number) for r in rows] == [("sp-jnp", urgent)] * 2
    with pytest.raises(DatabaseError), get_session_factory().begin() as session:
        session.execute(text("DELETE FROM audit_events"))


def test_weeks_start_on_monday_in_india_on_postgres(postgres):
    weeks_start_on_monday_in_india(user("sp-gzp", "sp", "SP-GZP"))


def test_seeded_reports_on_postgres(postgres):
    seed_reports(300)
    dig = user("dig-vns", "dig", "DIG-VNS")
    everything = police.overview(dig, InboxFilter(open_only=False))
    assert everything.total == 300 and sum(everything.by_status.values()) == 300
    assert everything.median_hours_to_acknowledge > 0
    assert police.inbox(dig, InboxFilter(open_only=False), page_size=500).total == 300
    assert police.export_csv(dig, InboxFilter(open_only=False)).count("\n") == 301
