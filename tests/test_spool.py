"""A confirmed report survives a database outage in the spool and is stored once when it returns."""

from __future__ import annotations

import asyncio
import stat
import uuid

import psycopg2
import pytest
from sqlalchemy import select

from actions.report import ActionSubmitReport
from satark import action_server, reports, retention, spool
from satark.db.migrate import upgrade
from satark.db.models import Report
from satark.db.session import get_engine, get_session_factory
from tests.conftest import clear_caches
from tests.support.servers import free_port
from tests.support.tcp_proxy import TcpProxy
from tests.test_actions import FILLED, make_tracker, responses, run, slots_of
from tests.test_data_layer import make_draft


@pytest.fixture
def outage(runtime, monkeypatch):
    """The database unreachable (nothing listens on its port); calling the fixture's value ends it."""
    reachable = f"sqlite:///{runtime / 'satark.db'}"
    monkeypatch.setattr(reports, "DB_ATTEMPTS", 2)
    monkeypatch.setattr(reports.time, "sleep", lambda _seconds: None)
    monkeypatch.setenv("DATABASE_URL", f"postgresql://satark@127.0.0.1:{free_port()}/none")
    clear_caches()

    def database_returns() -> None:
        monkeypatch.setenv("DATABASE_URL", reachable)
        clear_caches()

    return database_returns


def stored_reports() -> list[Report]:
    with get_session_factory().begin() as session:
        return session.execute(select(Report)).scalars().all()


def test_a_report_submitted_during_an_outage_is_stored_once_when_the_database_returns(outage):
    draft = make_draft()
    receipt = reports.submit_report(draft)
    assert receipt.stored is False and receipt.public_number.startswith("GZP-")
    files = spool.pending()
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(files[0].parent.stat().st_mode) == 0o700
    assert draft.draft_key not in files[0].read_text() and receipt.receipt_code not in files[0].read_text()

    again = reports.submit_report(draft)  # the action retried by Rasa
    assert (again.public_number, again.receipt_code) == (receipt.public_number, receipt.receipt_code)
    assert spool.pending() == files
    assert reports.replay_spool() == 0  # still down: the file stays

    outage()
    assert reports.replay_spool() == 1
    assert spool.pending() == []
    assert [report.public_number for report in stored_reports()] == [receipt.public_number]
    status = reports.report_status(receipt.receipt_code, sender_id="c0ffee")
    assert status is not None and status.public_number == receipt.public_number
    assert reports.replay_spool() == 0
    assert len(stored_reports()) == 1


def test_a_retried_submit_after_the_outage_stores_the_spooled_report_under_its_number(outage):
    draft = make_draft()
    spooled = reports.submit_report(draft)
    outage()
    stored = reports.submit_report(draft)
    assert stored.stored and (stored.public_number, stored.receipt_code) == (spooled.public_number,
                                                                              spooled.receipt_code)
    assert len(stored_reports()) == 1 and spool.pending() == []


def test_a_taken_number_gets_another_and_the_code_still_opens_the_report(outage, tmp_path):
    spooled = reports.submit_report(make_draft())
    kept = spool.pending()[0]
    held = kept.rename(tmp_path / "held")  # so the next submit does not store it first
    outage()
    taken = reports.submit_report(make_draft())
    held.rename(kept)
    with get_session_factory().begin() as session:
        session.execute(select(Report)).scalars().one().public_number = spooled.public_number
    assert retention.run(tmp_path / "no-endpoints.yml", get_session_factory()).spooled_reports_stored == 1
    status = reports.report_status(spooled.receipt_code, sender_id="c0ffee")
    assert status is not None and status.public_number not in (spooled.public_number, taken.public_number)


def test_the_citizen_gets_the_receipt_while_the_database_is_down(outage):
    tracker = make_tracker({**FILLED, "draft_id": uuid.uuid4().hex, "stage": "summary"})
    messages, events = run(ActionSubmitReport(), tracker)
    assert responses(messages) == ["utter_report_submitted"]
    assert messages[0]["public_number"].startswith("GZP-") and messages[0]["receipt_code"]
    assert slots_of(events)["draft_id"] is None  # the spool keeps it now: the draft is closed
    assert len(spool.pending()) == 1
    assert tracker.sender_id not in spool.pending()[0].read_text()  # nothing about who sent it
    outage()
    assert reports.replay_spool() == 1
    assert reports.report_status(messages[0]["receipt_code"], sender_id="c0ffee").public_number == \
        messages[0]["public_number"]


def test_the_action_server_stores_spooled_reports_without_a_new_submit(outage, monkeypatch):
    spooled = reports.submit_report(make_draft())
    outage()
    monkeypatch.setattr(action_server, "SPOOL_REPLAY_SECONDS", 0.01)

    async def replay_until_empty() -> None:
        task = asyncio.create_task(action_server._replay_spool_periodically())
        for _ in range(200):
            await asyncio.sleep(0.05)
            if not spool.pending():
                break
        task.cancel()

    asyncio.run(replay_until_empty())
    assert spool.pending() == []
    assert [report.public_number for report in stored_reports()] == [spooled.public_number]


@pytest.fixture
def postgres_behind_a_proxy(runtime, monkeypatch):
    """A fresh PostgreSQL database reached through a relay the test can cut."""
    name = f"satark_spool_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=3)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    proxy = TcpProxy(5432).start()
    monkeypatch.setenv("DATABASE_URL", f"postgresql+psycopg2://postgres@127.0.0.1:{proxy.port}/{name}")
    monkeypatch.setattr(reports, "DB_ATTEMPTS", 2)
    monkeypatch.setattr(reports.time, "sleep", lambda _seconds: None)
    clear_caches()
    upgrade()
    yield proxy
    proxy.stop()
    get_engine().dispose()
    admin.cursor().execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.close()


def test_postgres_cut_mid_service_then_back(postgres_behind_a_proxy):
    proxy = postgres_behind_a_proxy
    before = reports.submit_report(make_draft())
    proxy.cut()
    spooled = reports.submit_report(make_draft(district_code="VNS"))
    assert spooled.stored is False and len(spool.pending()) == 1
    proxy.restore()
    after = reports.submit_report(make_draft())  # stores the spooled report first
    assert after.stored and spool.pending() == []
    assert sorted(report.public_number for report in stored_reports()) == sorted(
        [before.public_number, spooled.public_number, after.public_number])
    assert reports.report_status(spooled.receipt_code, sender_id="pg").public_number == spooled.public_number
