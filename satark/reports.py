"""Submitting reports exactly once, and what a reporter can do later with a receipt code."""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from satark import queries, spool
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
from satark.receipts import ALPHABET, draft_key_hash, receipt_code_for, receipt_hash
from satark.routing import route
from satark.settings import get_receipt_secret, get_settings

log = logging.getLogger(__name__)

DB_ATTEMPTS = 4
FOLLOWUP_MAX_CHARS = 4000
PUBLIC_NUMBER_CHARS = 5  # 32^5 ≈ 33 million numbers per district and year
PUBLIC_NUMBER_ATTEMPTS = 20


class StorageUnavailable(RuntimeError):
    """The database could not be reached even after retrying (for a submit: nor the spool written)."""


class CodeLocked(Exception):
    """Too many wrong receipt codes from this conversation: no code is checked until the pause ends."""

    def __init__(self, minutes: int) -> None:
        super().__init__(f"locked for {minutes} minute(s)")
        self.minutes = minutes


def new_public_number(district_code: str, year: int) -> str:
    """`GZP-2026-7K3QX`: random, so numbers tell nobody how many reports came in, or when."""
    return f"{district_code}-{year}-{''.join(secrets.choice(ALPHABET) for _ in range(PUBLIC_NUMBER_CHARS))}"


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
    stored: bool = True  # False: kept in the spool until the database returns, under this number


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
        rows += [(office, None) for office in police_range.other_offices]
        for office, district_code in rows:
            row = existing.get(office.code) or Office(code=office.code)
            row.kind = office.kind
            row.name_en, row.name_hi = office.name["en"], office.name.get("hi", office.name["en"])
            row.range_code, row.district_code = police_range.code, district_code
            session.add(row)


def submit_report(draft: ReportDraft, factory: sessionmaker | None = None,
                  directory: OfficeDirectory | None = None) -> Receipt:
    """Store a confirmed report once; a retry with the same draft key returns the same receipt.

    When the database stays unreachable the report is kept in the spool (`satark.spool`) with the
    number it will be stored under, and the citizen gets the receipt all the same. Spooled reports
    are stored first whenever a submit reaches the database.
    """
    factory = factory or get_session_factory()
    directory = directory or load_offices()
    secret = get_receipt_secret()
    code = receipt_code_for(draft.draft_key, secret)
    district = directory.district(draft.district_code)
    if district is None:
        raise ValueError(f"unknown district {draft.district_code!r}")
    draft_hash = draft_key_hash(draft.draft_key, secret)
    try:
        _replay(factory, directory)
        number, created = _store(draft, draft_hash, receipt_hash(code, secret), factory, directory)
        return Receipt(number, code, newly_created=created)
    except StorageUnavailable:
        record = {**asdict(draft), "draft_key": draft_hash, "receipt_hash": receipt_hash(code, secret),
                  "public_number": new_public_number(district.code, utcnow().year)}
        try:
            kept = spool.keep(draft_hash, record)
        except OSError as error:
            raise StorageUnavailable(f"database unreachable and spool not writable ({error.strerror})") from error
        log.warning("database unreachable: report kept in the spool until it returns")
        return Receipt(kept["public_number"], code, newly_created=kept is record, stored=False)


def replay_spool(factory: sessionmaker | None = None, directory: OfficeDirectory | None = None) -> int:
    """Store the reports kept while the database was unreachable; how many were stored now."""
    try:
        return _replay(factory or get_session_factory(), directory)
    except StorageUnavailable:
        log.warning("database still unreachable: spooled reports wait")
        return 0


def _replay(factory: sessionmaker, directory: OfficeDirectory | None) -> int:
    """Store each spooled report under its number, then shred its file; raises `StorageUnavailable`.

    A file that cannot be stored for another reason stays for an operator (logged by kind only).
    """
    paths = spool.pending()
    if not paths:
        return 0
    directory = directory or load_offices()
    stored = 0
    for path in paths:
        try:
            record = spool.read(path)
            draft_hash, code_hash, number = record.pop("draft_key"), record.pop("receipt_hash"), record.pop(
                "public_number")
            draft = ReportDraft(draft_key="", **{**record, "evidence_ids": tuple(record["evidence_ids"])})
            _store(draft, draft_hash, code_hash, factory, directory, preferred_number=number)
        except StorageUnavailable:
            raise
        except FileNotFoundError:
            continue  # another process stored it meanwhile
        except Exception as error:  # one bad file must not hold up the others
            log.error("spooled report %s not stored (%s); the file stays", path.name[:8], type(error).__name__)
            continue
        spool.remove(path)
        stored += 1
    if stored:
        log.info("stored %d spooled report(s)", stored)
    return stored


def _store(draft: ReportDraft, draft_hash: str, code_hash: str, factory: sessionmaker,
           directory: OfficeDirectory, preferred_number: str | None = None) -> tuple[str, bool]:
    """Insert the report unless its draft is stored already: its public number, and whether it is new.

    `preferred_number` (the number a spooled receipt promised) is used when still free.
    """
    district = directory.district(draft.district_code)
    if district is None:
        raise ValueError(f"unknown district {draft.district_code!r}")

    def find_existing(session: Session) -> Report | None:
        return session.execute(queries.report_by_draft_key(draft_hash)).scalar_one_or_none()

    def is_free(session: Session, number: str) -> bool:
        return session.execute(queries.report_by_public_number(number)).scalar_one_or_none() is None

    def unused_number(session: Session) -> str:
        if preferred_number and is_free(session, preferred_number):
            return preferred_number
        year = utcnow().year
        for _ in range(PUBLIC_NUMBER_ATTEMPTS):
            number = new_public_number(district.code, year)
            if is_free(session, number):
                return number
        raise RuntimeError(f"no free report number for {district.code} after {PUBLIC_NUMBER_ATTEMPTS} tries")

    def insert(session: Session) -> tuple[str, bool]:
        existing = find_existing(session)
        if existing is not None:
            return existing.public_number, False
        sync_offices(session, directory)
        session.flush()
        routing = route(directory, district, draft.category)
        report = Report(
            public_number=unused_number(session),
            draft_key=draft_hash,
            receipt_hash=code_hash,
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
            flagged=routing.flagged,
            status="new",
        )
        session.add(report)
        session.flush()
        codes = [office.code for office in routing.offices]
        for office in session.execute(queries.offices_by_codes(codes)).scalars():
            session.add(ReportRoute(report=report, office=office))
        session.add(StatusChange(report=report, status="new", note="submitted by reporter"))
        if draft.evidence_ids:
            for item in session.execute(queries.evidence_by_ids(list(draft.evidence_ids))).scalars():
                if item.report_id is None:
                    item.report = report
        return report.public_number, True

    try:
        return _retrying(insert, factory)
    except IntegrityError:
        # A concurrent retry of the same submit won the race: answer with its report. (Otherwise two
        # reports drew the same random number at the same moment: draw again.)
        existing = _retrying(find_existing, factory)
        if existing is None:
            # Another report's submit inserted the same offices first: they are there now.
            return _retrying(insert, factory)
        return existing.public_number, False


def _find_by_code(session: Session, code: str) -> Report | None:
    try:
        key = receipt_hash(code, get_receipt_secret())
    except ValueError:
        return None
    return session.execute(queries.report_by_receipt_hash(key)).scalar_one_or_none()


def _open_report(session: Session, code: str | None, sender_id: str) -> Report | None:
    """The report `code` opens, checked against this conversation's wrong-code limit.

    Raises `CodeLocked` while the conversation must wait; a code that opens nothing counts as wrong
    (no code at all is not a guess). Every place that accepts a code goes through here, so no path
    skips the limit.
    """
    settings = get_settings()
    key = _sender_key(sender_id)
    attempt = session.execute(queries.code_attempt(key)).scalar_one_or_none()
    now = datetime.now(timezone.utc)
    window = timedelta(minutes=settings.wrong_code_window_minutes)
    if attempt is not None and attempt.failures >= settings.max_wrong_codes and attempt.window_start + window > now:
        raise CodeLocked(_minutes_left(attempt.window_start + window - now))
    if not code:
        return None
    report = _find_by_code(session, code)
    if report is None:
        if attempt is None:
            session.add(CodeAttempt(sender_key=key, failures=1, window_start=now))
        elif attempt.window_start + window < now:
            attempt.failures, attempt.window_start = 1, now
        else:
            attempt.failures += 1
    return report


def _minutes_left(remaining: timedelta) -> int:
    return max(1, int(remaining.total_seconds() // 60) + 1)


def report_status(code: str | None, *, sender_id: str, factory: sessionmaker | None = None) -> StatusView | None:
    """Status and police messages of the report a code opens; None for a wrong code (counted)."""

    def read(session: Session) -> StatusView | None:
        report = _open_report(session, code, sender_id)
        if report is None:
            return None
        messages = session.execute(queries.messages_to_reporter(report.id)).scalars()
        return StatusView(report.public_number, report.category, report.status,
                          report.created_at, tuple(m.body for m in messages))

    return _retrying(read, factory or get_session_factory())


def add_followup(code: str | None, text: str | None, evidence_ids: tuple[str, ...] = (), *, sender_id: str,
                 factory: sessionmaker | None = None) -> str | None:
    """Add the reporter's new information to their report; its public number, None for a wrong code."""

    def write(session: Session) -> str | None:
        report = _open_report(session, code, sender_id)
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


def code_exists(code: str | None, *, sender_id: str, factory: sessionmaker | None = None) -> bool:
    """Whether a code opens a report (a wrong one is counted; raises `CodeLocked` during a pause)."""
    return _retrying(lambda s: _open_report(s, code, sender_id) is not None, factory or get_session_factory())


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
        return _minutes_left(remaining) if remaining.total_seconds() > 0 else 0

    return _retrying(read, factory or get_session_factory())


def wrong_code_tries_left(sender_id: str, factory: sessionmaker | None = None) -> int:
    """How many more wrong codes this conversation may try before it must wait."""
    settings = get_settings()
    window = timedelta(minutes=settings.wrong_code_window_minutes)

    def read(session: Session) -> int:
        attempt = session.execute(queries.code_attempt(_sender_key(sender_id))).scalar_one_or_none()
        if attempt is None or attempt.window_start + window < datetime.now(timezone.utc):
            return settings.max_wrong_codes
        return max(0, settings.max_wrong_codes - attempt.failures)

    return _retrying(read, factory or get_session_factory())


def message_reporter(public_number: str, body: str, office_code: str | None,
                     factory: sessionmaker | None = None) -> None:
    """Leave a message the reporter sees when checking status with their code."""

    def write(session: Session) -> None:
        report = session.execute(queries.report_by_public_number(public_number)).scalar_one()
        session.add(ReportMessage(report=report, direction="to_reporter", body=body,
                                  office_code=office_code))

    _retrying(write, factory or get_session_factory())
