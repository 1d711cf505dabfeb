"""Submitting reports exactly once, and what a reporter can do later with a receipt code."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from satark import queries
from satark.db.models import (
    CodeAttempt,
    Office,
    Report,
    ReportMessage,
    ReportRoute,
    StatusChange,
    utcnow,
)
from satark.db.session import get_session_factory
from satark.offices import OfficeDirectory, load_offices
from satark.receipts import receipt_code_for, receipt_hash
from satark.routing import receiving_offices
from satark.settings import get_receipt_secret, get_settings

log = logging.getLogger(__name__)

DB_ATTEMPTS = 4
FOLLOWUP_MAX_CHARS = 4000


class StorageUnavailable(RuntimeError):
    """The database could not be reached even after retrying; the draft is kept by the caller."""


@dataclass(frozen=True)
class ReportDraft:
    draft_key: str
    category: str
    district_code: str
    description: str
    place: str
    incident_time: str
    details: str
    language: str
    urgent: bool = False
    evidence_note: str | None = None
    evidence_ids: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Receipt:
    public_number: str
    receipt_code: str
    newly_created: bool


@dataclass(frozen=True)
class StatusView:
    public_number: str
    category: str
    status: str
    submitted_at: datetime
    messages: tuple[str, ...]


def _retrying(operation, factory: sessionmaker):
    """Run `operation(session)` in a transaction, retrying short database outages."""
    for attempt in range(1, DB_ATTEMPTS + 1):
        try:
            with factory.begin() as session:
                return operation(session)
        except OperationalError as error:
            if attempt == DB_ATTEMPTS:
                raise StorageUnavailable(str(error.orig)) from error
            log.warning("database unavailable (attempt %d/%d), retrying", attempt, DB_ATTEMPTS)
            time.sleep(0.2 * 2 ** attempt)
    raise AssertionError("unreachable")


def sync_offices(session: Session, directory: OfficeDirectory) -> None:
    """Make the offices table match the offices file (insert or update; never delete)."""
    existing = {office.code: office for office in session.execute(queries.offices_by_codes(
        [o.code for o in directory.offices])).scalars()}
    for police_range in directory.ranges:
        rows = [(police_range.office, None)] + [(d.office, d.code) for d in police_range.districts]
        for office, district_code in rows:
            row = existing.get(office.code) or Office(code=office.code)
            row.kind = office.kind
            row.name_en, row.name_hi = office.name["en"], office.name.get("hi", office.name["en"])
            row.range_code, row.district_code = police_range.code, district_code
            session.add(row)


def submit_report(draft: ReportDraft, factory: sessionmaker | None = None,
                  directory: OfficeDirectory | None = None) -> Receipt:
    """Store a confirmed report once; a retry with the same draft key returns the same receipt."""
    factory = factory or get_session_factory()
    directory = directory or load_offices()
    secret = get_receipt_secret()
    code = receipt_code_for(draft.draft_key, secret)
    district = directory.district(draft.district_code)
    if district is None:
        raise ValueError(f"unknown district {draft.district_code!r}")

    def find_existing(session: Session) -> Report | None:
        return session.execute(queries.report_by_draft_key(draft.draft_key)).scalar_one_or_none()

    def insert(session: Session) -> Receipt:
        existing = find_existing(session)
        if existing is not None:
            return Receipt(existing.public_number, code, newly_created=False)
        sync_offices(session, directory)
        session.flush()
        report = Report(
            public_number=f"pending-{draft.draft_key[:24]}",
            draft_key=draft.draft_key,
            receipt_hash=receipt_hash(code, secret),
            category=draft.category,
            district_code=district.code,
            range_code=district.range_code,
            description=draft.description,
            place=draft.place,
            incident_time=draft.incident_time,
            details=draft.details,
            evidence_note=draft.evidence_note,
            language=draft.language,
            urgent=draft.urgent,
            status="new",
        )
        session.add(report)
        session.flush()
        report.public_number = f"{district.code}-{report.created_at:%Y}-{report.id:05d}"
        codes = [office.code for office in receiving_offices(directory, district)]
        for office in session.execute(queries.offices_by_codes(codes)).scalars():
            session.add(ReportRoute(report=report, office=office))
        session.add(StatusChange(report=report, status="new", note="submitted by reporter"))
        if draft.evidence_ids:
            for item in session.execute(queries.evidence_by_ids(list(draft.evidence_ids))).scalars():
                if item.report_id is None:
                    item.report = report
        return Receipt(report.public_number, code, newly_created=True)

    try:
        return _retrying(insert, factory)
    except IntegrityError:
        # A concurrent retry of the same submit won the race: answer with its report.
        existing = _retrying(find_existing, factory)
        if existing is None:
            # Another report's submit inserted the same offices first: they are there now.
            return _retrying(insert, factory)
        return Receipt(existing.public_number, code, newly_created=False)


def _find_by_code(session: Session, code: str) -> Report | None:
    try:
        key = receipt_hash(code, get_receipt_secret())
    except ValueError:
        return None
    return session.execute(queries.report_by_receipt_hash(key)).scalar_one_or_none()


def report_status(code: str, factory: sessionmaker | None = None) -> StatusView | None:
    def read(session: Session) -> StatusView | None:
        report = _find_by_code(session, code)
        if report is None:
            return None
        messages = session.execute(queries.messages_to_reporter(report.id)).scalars()
        return StatusView(report.public_number, report.category, report.status,
                          report.created_at, tuple(m.body for m in messages))

    return _retrying(read, factory or get_session_factory())


def add_followup(code: str, text: str | None, evidence_ids: tuple[str, ...] = (),
                 factory: sessionmaker | None = None) -> str | None:
    """Add the reporter's new information to their report; returns its public number."""

    def write(session: Session) -> str | None:
        report = _find_by_code(session, code)
        if report is None:
            return None
        if text:
            session.add(ReportMessage(report=report, direction="from_reporter",
                                      body=text[:FOLLOWUP_MAX_CHARS]))
        if evidence_ids:
            for item in session.execute(queries.evidence_by_ids(list(evidence_ids))).scalars():
                if item.report_id is None:
                    item.report = report
        report.updated_at = utcnow()
        return report.public_number

    return _retrying(write, factory or get_session_factory())


def code_exists(code: str, factory: sessionmaker | None = None) -> bool:
    return _retrying(lambda s: _find_by_code(s, code) is not None, factory or get_session_factory())


def _sender_key(sender_id: str) -> str:
    secret = get_receipt_secret()
    return hashlib.sha256(f"{secret}:throttle:{sender_id}".encode()).hexdigest()


def wrong_code_lockout(sender_id: str, factory: sessionmaker | None = None) -> int:
    """Minutes this conversation must wait before trying another code (0 when it may try now)."""
    settings = get_settings()
    window = timedelta(minutes=settings.wrong_code_window_minutes)

    def read(session: Session) -> int:
        attempt = session.execute(queries.code_attempt(_sender_key(sender_id))).scalar_one_or_none()
        if attempt is None or attempt.failures < settings.max_wrong_codes:
            return 0
        remaining = attempt.window_start + window - datetime.now(timezone.utc)
        return max(0, int(remaining.total_seconds() // 60) + 1) if remaining.total_seconds() > 0 else 0

    return _retrying(read, factory or get_session_factory())


def record_wrong_code(sender_id: str, factory: sessionmaker | None = None) -> None:
    window = timedelta(minutes=get_settings().wrong_code_window_minutes)

    def write(session: Session) -> None:
        key = _sender_key(sender_id)
        attempt = session.execute(queries.code_attempt(key)).scalar_one_or_none()
        now = datetime.now(timezone.utc)
        if attempt is None:
            session.add(CodeAttempt(sender_key=key, failures=1, window_start=now))
        elif attempt.window_start + window < now:
            attempt.failures, attempt.window_start = 1, now
        else:
            attempt.failures += 1

    _retrying(write, factory or get_session_factory())


def set_status(public_number: str, status: str, note: str | None, changed_by: str | None,
               factory: sessionmaker | None = None) -> None:
    """Used by the dashboard: change a report's status and keep its history."""

    def write(session: Session) -> None:
        report = session.execute(queries.report_by_public_number(public_number)).scalar_one()
        report.status = status
        session.add(StatusChange(report=report, status=status, note=note, changed_by=changed_by))

    _retrying(write, factory or get_session_factory())


def message_reporter(public_number: str, body: str, office_code: str | None,
                     factory: sessionmaker | None = None) -> None:
    """Leave a message the reporter sees when checking status with their code."""

    def write(session: Session) -> None:
        report = session.execute(queries.report_by_public_number(public_number)).scalar_one()
        session.add(ReportMessage(report=report, direction="to_reporter", body=body,
                                  office_code=office_code))

    _retrying(write, factory or get_session_factory())
