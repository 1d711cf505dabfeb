"""The police side's service layer: every read and change a dashboard user makes goes through here.

Each function takes the signed-in `UserView` and enforces scoping itself: a report counts only when
it is routed to the user's office. A report outside that scope behaves exactly like one that does
not exist, and the attempt is audited ("access_refused"). Results are plain frozen values (no ORM
objects), so the dashboard can cache them. Aggregates run in SQL (GROUP BY), never in Python loops
over reports.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, case, cast, exists, func, literal, or_, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import ColumnElement, Select

from satark import audit, forwarding, users
from satark.auth import UserView
from satark.db.models import (
    OUTCOMES,
    STATUSES,
    AuditEvent,
    EvidenceItem,
    Forward,
    Office,
    Officer,
    ReadMarker,
    Report,
    ReportMessage,
    ReportNote,
    ReportRoute,
    StatusChange,
    User,
    utcnow,
)
from satark.db.session import get_session_factory
from satark.offices import load_offices
from satark.settings import get_settings
from satark.taxonomy import category_keys, get_category, outcome_label, status_label

IST = ZoneInfo("Asia/Kolkata")
SORTS = ("urgent_first", "newest", "oldest")
NUMBER_PATTERN = re.compile(r"[A-Z]{2,8}-\d{4}-[A-Z0-9]{5}")
MESSAGE_MAX_CHARS = 4000
NOTE_MAX_CHARS = 4000
URGENT_ALERT_LIMIT = 20
PHONE_PATTERN = re.compile(r"\d{10,15}")
IST_OFFSET_DAYS = 5.5 / 24
JULIAN_DAY_OF_ORDINAL_0 = 1721425  # date.fromordinal(1) is Julian day number 1721426

T = TypeVar("T")


class ReportNotFound(LookupError):
    """No report with that number that this user may see (missing and out of scope look the same)."""

    def __init__(self, user: UserView | None = None, refused_number: str | None = None, action: str = "") -> None:
        super().__init__("no such report")
        self.user, self.refused_number, self.action = user, refused_number, action


# -- values ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxFilter:
    districts: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    urgent_only: bool = False
    date_from: date | None = None
    date_to: date | None = None
    has_evidence: bool | None = None
    text: str = ""
    open_only: bool = True
    sort: str = "urgent_first"


@dataclass(frozen=True)
class InboxRow:
    number: str
    received_hour: datetime
    category: str
    district: str
    place: str
    urgent: bool
    status: str
    evidence_count: int
    unread: bool
    flagged: bool = False


@dataclass(frozen=True)
class InboxPage:
    rows: tuple[InboxRow, ...]
    total: int
    page: int
    page_size: int
    counts: dict[str, int]


@dataclass(frozen=True)
class EvidenceView:
    id: str
    kind: str
    mime_type: str | None
    size_bytes: int | None
    caption: str | None
    quarantined: bool


@dataclass(frozen=True)
class ReportView:
    number: str
    category: str
    district: str
    range_code: str
    place: str
    when: str
    description: str
    details: str
    evidence_note: str | None
    language: str
    urgent: bool
    status: str
    outcome: str | None
    duplicate_of: str | None
    received_hour: datetime
    evidence: tuple[EvidenceView, ...]
    timeline: tuple[dict, ...]
    forwards: tuple[dict, ...]
    routed_to: tuple[str, ...]
    flagged: bool = False


@dataclass(frozen=True)
class OfficerView:
    id: int
    name: str
    rank: str
    district: str
    categories: tuple[str, ...]
    phone_masked: str
    active: bool


@dataclass(frozen=True)
class Overview:
    by_category: dict[str, int]
    by_district: dict[str, int]
    by_status: dict[str, int]
    weekly: tuple[tuple[date, int], ...]
    heatmap: tuple[tuple[str, str, int], ...]
    median_hours_to_acknowledge: float | None
    median_hours_to_close: float | None
    total: int


@dataclass(frozen=True)
class AuditRow:
    at: datetime
    username: str | None
    action: str
    report_number: str | None
    detail: str


# -- helpers -----------------------------------------------------------------------------------


def _run(factory: sessionmaker | None, work: Callable[[Session], T]) -> T:
    factory = factory or get_session_factory()
    try:
        with factory.begin() as session:
            return work(session)
    except ReportNotFound as missing:
        if missing.refused_number:  # the change was rolled back; the refusal stays on record
            with factory.begin() as session:
                audit.record(session, missing.user, "access_refused", missing.refused_number, missing.action)
        raise


def normalize_number(text: str) -> str:
    """A report number as typed: any case, stray spaces, typographic dashes."""
    text = re.sub(r"[\u2010-\u2015\u2212]", "-", text or "")
    return re.sub(r"\s+", "", text).upper()


def to_hour(moment: datetime) -> datetime:
    """India's time, to the hour: exact timestamps could help re-identify a reporter."""
    return moment.astimezone(IST).replace(minute=0, second=0, microsecond=0)


def _ist(moment: datetime) -> datetime:
    return moment.astimezone(IST)


def mask_phone(phone: str) -> str:
    digits = "".join(ch for ch in phone if ch.isdigit())
    return "•" * max(0, len(digits) - 4) + digits[-4:]


def _office_id(session: Session, user: UserView) -> int | None:
    if not user.sees_reports:
        return None
    return session.execute(select(Office.id).where(Office.code == user.office_code)).scalar_one_or_none()


def _scoped(statement: Select, office_id: int) -> Select:
    """Only reports routed to the office (one route per report and office: no duplicates)."""
    return statement.join(ReportRoute, and_(ReportRoute.report_id == Report.id,
                                            ReportRoute.office_id == office_id))


def _find(session: Session, user: UserView, number: str, action: str, *, required: bool = False) -> Report | None:
    """The report if the user may see it; else None (or ReportNotFound when `required`), and a
    refused attempt on a real report is audited."""
    normalized = normalize_number(number)
    office_id = _office_id(session, user)
    if office_id is not None:
        report = session.execute(_scoped(select(Report), office_id)
                                 .where(Report.public_number == normalized)).scalar_one_or_none()
        if report is not None:
            return report
    exists_elsewhere = _exists(session, normalized)
    if required:
        raise ReportNotFound(user, normalized if exists_elsewhere else None, action)
    if exists_elsewhere:
        audit.record(session, user, "access_refused", normalized, action)
    return None


def _exists(session: Session, normalized: str) -> bool:
    return session.execute(select(Report.id).where(Report.public_number == normalized)).first() is not None


def _refuse_if_outside(session: Session, user: UserView, office_id: int | None, normalized: str, action: str) -> None:
    """Audit a search or export for the number of a report the user may not see."""
    statement = select(Report.id).where(Report.public_number == normalized)
    if office_id is not None:
        statement = statement.where(~exists().where(ReportRoute.report_id == Report.id,
                                                    ReportRoute.office_id == office_id))
    if session.execute(statement).first() is not None:
        audit.record(session, user, "access_refused", normalized, action)


def _required(session: Session, user: UserView, number: str, action: str) -> Report:
    return _find(session, user, number, action, required=True)


# -- inbox -------------------------------------------------------------------------------------


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), IST).astimezone(timezone.utc)


def _conditions(flt: InboxFilter) -> list[ColumnElement]:
    conditions: list[ColumnElement] = []
    if flt.districts:
        conditions.append(Report.district_code.in_(flt.districts))
    if flt.categories:
        conditions.append(Report.category.in_(flt.categories))
    if flt.statuses:
        conditions.append(Report.status.in_(flt.statuses))
    elif flt.open_only:
        conditions.append(Report.status != "closed")
    if flt.urgent_only:
        conditions.append(Report.urgent.is_(True))
    if flt.date_from:
        conditions.append(Report.created_at >= _day_start(flt.date_from))
    if flt.date_to:
        conditions.append(Report.created_at < _day_start(flt.date_to + timedelta(days=1)))
    if flt.has_evidence is not None:
        has = exists().where(EvidenceItem.report_id == Report.id)
        conditions.append(has if flt.has_evidence else ~has)
    text = flt.text.strip()
    if text:
        number = normalize_number(text)
        if NUMBER_PATTERN.fullmatch(number):
            conditions.append(Report.public_number == number)
        else:
            pattern = "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"
            conditions.append(or_(*(column.ilike(pattern, escape="\\") for column in (
                Report.public_number, Report.place, Report.description, Report.details))))
    return conditions


def _order(sort: str) -> tuple:
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {SORTS}")
    if sort == "oldest":
        return (Report.created_at.asc(), Report.id.asc())
    newest = (Report.created_at.desc(), Report.id.desc())
    return (Report.urgent.desc(), *newest) if sort == "urgent_first" else newest


def _audit_searched_number(session: Session, user: UserView, office_id: int | None, flt: InboxFilter,
                           found: int, action: str) -> None:
    number = normalize_number(flt.text)
    if not found and NUMBER_PATTERN.fullmatch(number):
        _refuse_if_outside(session, user, office_id, number, action)


def _counts(session: Session, user: UserView, office_id: int) -> dict[str, int]:
    unread = ReadMarker.id.is_(None)
    statement = _scoped(select(
        func.count(Report.id),
        func.coalesce(func.sum(case((Report.urgent.is_(True), 1), else_=0)), 0),
        func.coalesce(func.sum(case((unread, 1), else_=0)), 0),
        func.coalesce(func.sum(case((Report.status == "new", 1), else_=0)), 0),
    ).select_from(Report), office_id).outerjoin(
        ReadMarker, and_(ReadMarker.report_id == Report.id, ReadMarker.user_id == user.id)
    ).where(Report.status != "closed")
    total, urgent, unread_count, new = session.execute(statement).one()
    return {"open": total, "urgent": int(urgent), "unread": int(unread_count), "new": int(new)}


def inbox(user: UserView, flt: InboxFilter, page: int = 1, page_size: int = 50,
          factory: sessionmaker | None = None) -> InboxPage:
    """One page of the office's reports matching the filter, with counts for the office."""
    page, page_size = max(1, page), max(1, min(page_size, 500))

    def read(session: Session) -> InboxPage:
        office_id = _office_id(session, user)
        if office_id is None:
            _audit_searched_number(session, user, None, flt, 0, "search")
            return InboxPage((), 0, page, page_size, {"open": 0, "urgent": 0, "unread": 0, "new": 0})
        conditions = _conditions(flt)
        total = session.execute(_scoped(select(func.count(Report.id)).select_from(Report), office_id)
                                .where(*conditions)).scalar_one()
        _audit_searched_number(session, user, office_id, flt, total, "search")
        rows = session.execute(
            _scoped(select(Report.id, Report.public_number, Report.created_at, Report.category,
                           Report.district_code, Report.place, Report.urgent, Report.status, Report.flagged),
                    office_id).where(*conditions).order_by(*_order(flt.sort))
            .limit(page_size).offset((page - 1) * page_size)).all()
        ids = [row.id for row in rows]
        evidence = dict(session.execute(
            select(EvidenceItem.report_id, func.count(EvidenceItem.id))
            .where(EvidenceItem.report_id.in_(ids)).group_by(EvidenceItem.report_id)).all()) if ids else {}
        read_ids = set(session.execute(select(ReadMarker.report_id).where(
            ReadMarker.user_id == user.id, ReadMarker.report_id.in_(ids))).scalars()) if ids else set()
        return InboxPage(
            rows=tuple(InboxRow(
                number=r.public_number, received_hour=to_hour(r.created_at), category=r.category,
                district=r.district_code, place=r.place, urgent=r.urgent, status=r.status,
                evidence_count=evidence.get(r.id, 0), unread=r.id not in read_ids, flagged=r.flagged,
            ) for r in rows),
            total=total, page=page, page_size=page_size, counts=_counts(session, user, office_id))

    return _run(factory, read)


def newest_report_id(user: UserView, factory: sessionmaker | None = None) -> int:
    """The highest report id the user can see (0 when none): a cheap poll for new reports."""

    def read(session: Session) -> int:
        office_id = _office_id(session, user)
        if office_id is None:
            return 0
        return session.execute(select(func.max(ReportRoute.report_id))
                               .where(ReportRoute.office_id == office_id)).scalar_one() or 0

    return _run(factory, read)


def urgent_since(user: UserView, report_id: int, factory: sessionmaker | None = None) -> tuple[str, ...]:
    """Numbers of the user's urgent reports newer than `report_id`, for an alert."""

    def read(session: Session) -> tuple[str, ...]:
        office_id = _office_id(session, user)
        if office_id is None:
            return ()
        return tuple(session.execute(
            _scoped(select(Report.public_number), office_id)
            .where(Report.id > report_id, Report.urgent.is_(True))
            .order_by(Report.id.desc()).limit(URGENT_ALERT_LIMIT)).scalars())

    return _run(factory, read)


# -- one report --------------------------------------------------------------------------------


def _mark_read(user: UserView, report_id: int, factory: sessionmaker | None) -> None:
    with (factory or get_session_factory()).begin() as session:
        marker = session.execute(select(ReadMarker).where(
            ReadMarker.user_id == user.id, ReadMarker.report_id == report_id)).scalar_one_or_none()
        if marker is None:
            session.add(ReadMarker(user_id=user.id, report_id=report_id))
        else:
            marker.read_at = utcnow()


def _evidence_path(item: EvidenceItem) -> Path | None:
    if not item.stored_name:
        return None
    path = get_settings().media_dir / item.stored_name
    return path if path.is_file() else None


def _forward_dicts(session: Session, report_id: int) -> tuple[dict, ...]:
    rows = session.execute(select(Forward, Officer.name, Officer.rank).join(Officer)
                           .where(Forward.report_id == report_id).order_by(Forward.created_at)).all()
    return tuple({"id": f.id, "officer": f"{rank} {name}".strip(), "at": _ist(f.created_at), "status": f.status,
                  "by": f.forwarded_by} for f, name, rank in rows)


def _timeline(session: Session, report: Report, forwards: tuple[dict, ...]) -> tuple[dict, ...]:
    """Everything that happened, in order. What the reporter did (submitting, following up) shows
    only to the hour, like the report itself; police actions to the minute."""
    moments: list[tuple[datetime, dict]] = []

    def add(moment: datetime, by_reporter: bool, kind: str, text: str, by: str | None, **parts: str) -> None:
        shown = to_hour(moment) if by_reporter else _ist(moment).replace(second=0, microsecond=0)
        moments.append((moment, {"at": shown, "kind": kind, "text": text, "by": by, **parts}))

    for change in report.status_changes:
        add(change.changed_at, change.changed_by is None, "status",
            status_label(change.status, "en") + (f" — {change.note}" if change.note else ""), change.changed_by)
    for message in report.messages:
        to_reporter = message.direction == "to_reporter"
        add(message.created_at, not to_reporter, "message_to_reporter" if to_reporter else "followup",
            message.body, message.office_code if to_reporter else None)
    for note in session.execute(select(ReportNote).where(ReportNote.report_id == report.id)).scalars():
        add(note.created_at, False, "note", note.body, note.author)
    for sent in forwards:
        # The parts too, so a page in another language can say it in that language.
        add(sent["at"], False, "forward", f"Forwarded to {sent['officer']} ({sent['status']})", sent["by"],
            officer=sent["officer"], status=sent["status"])
    return tuple(event for _, event in sorted(moments, key=lambda pair: pair[0]))


def open_report(user: UserView, number: str, factory: sessionmaker | None = None, *,
                record_view: bool = True) -> ReportView | None:
    """Everything about one report, or None (missing or not the user's); audits the view and marks it
    read (`record_view=False` for re-reading the report the user has open, after a change)."""

    def read(session: Session) -> ReportView | None:
        report = _find(session, user, number, "report_view")
        if report is None:
            return None
        if record_view:
            audit.record(session, user, "report_view", report.public_number)
        routed = session.execute(select(Office.code).join(ReportRoute, ReportRoute.office_id == Office.id)
                                 .where(ReportRoute.report_id == report.id).order_by(Office.code)).scalars()
        forwards = _forward_dicts(session, report.id)
        return ReportView(
            number=report.public_number, category=report.category, district=report.district_code,
            range_code=report.range_code, place=report.place, when=report.incident_time,
            description=report.description, details=report.details, evidence_note=report.evidence_note,
            language=report.language, urgent=report.urgent, status=report.status, outcome=report.outcome,
            duplicate_of=report.duplicate_of, received_hour=to_hour(report.created_at),
            evidence=tuple(EvidenceView(e.id, e.kind, e.mime_type, e.size_bytes, e.caption,
                                        quarantined=_evidence_path(e) is None)
                           for e in sorted(report.evidence, key=lambda e: e.created_at)),
            timeline=_timeline(session, report, forwards), forwards=forwards, routed_to=tuple(routed),
            flagged=report.flagged)

    view = _run(factory, read)
    if view is not None and record_view:
        _mark_read(user, _run(factory, lambda s: s.execute(
            select(Report.id).where(Report.public_number == view.number)).scalar_one()), factory)
    return view


def evidence_file(user: UserView, evidence_id: str, factory: sessionmaker | None = None) -> tuple[Path, str] | None:
    """(path, mime type) of an evidence file, only for users whose office receives the report."""

    def read(session: Session) -> tuple[Path, str] | None:
        item = session.get(EvidenceItem, evidence_id)
        number = item.report.public_number if item is not None and item.report is not None else None
        report = _find(session, user, number, "evidence_view") if number else None
        path = _evidence_path(item) if report is not None else None
        if path is None:
            return None
        audit.record(session, user, "evidence_view", number, f"evidence {item.id}")
        return path, item.mime_type or "application/octet-stream"

    return _run(factory, read)


def change_status(user: UserView, number: str, status: str, note: str | None = None,
                  outcome: str | None = None, duplicate_of: str | None = None,
                  factory: sessionmaker | None = None) -> None:
    """Move a report forward in the workflow; closing needs an outcome (and the duplicated report)."""
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    if status == "closed" and outcome not in OUTCOMES:
        raise ValueError("closing a report needs an outcome: " + ", ".join(OUTCOMES))
    if status != "closed" and (outcome or duplicate_of):
        raise ValueError("an outcome is given only when closing")
    if outcome != "duplicate" and duplicate_of:
        raise ValueError("`duplicate_of` only goes with the outcome duplicate")

    def write(session: Session) -> None:
        report = _required(session, user, number, "status_change")
        if STATUSES.index(status) <= STATUSES.index(report.status):
            raise ValueError(f"a report cannot go from {report.status} to {status}")
        original = None
        if outcome == "duplicate":
            original = _find(session, user, duplicate_of or "", "status_change")
            if original is None or original.id == report.id:
                raise ValueError("a duplicate must name another report of this office")
        _set_status(session, user, report, status, note)
        if status == "closed":
            report.outcome, report.duplicate_of = outcome, original.public_number if original else None
            report.closed_at = utcnow()
        audit.record(session, user, "status_change", report.public_number,
                     f"{status}" + (f" ({outcome})" if outcome else ""))

    _run(factory, write)


def _set_status(session: Session, user: UserView, report: Report, status: str, note: str | None) -> None:
    report.status = status
    if report.acknowledged_at is None and status != "new":
        report.acknowledged_at = utcnow()
    session.add(StatusChange(report=report, status=status, note=(note or "").strip()[:NOTE_MAX_CHARS] or None,
                             changed_by=user.username))


def add_note(user: UserView, number: str, text: str, factory: sessionmaker | None = None) -> None:
    """An internal note (never shown to the reporter)."""
    body = text.strip()
    if not body:
        raise ValueError("the note is empty")

    def write(session: Session) -> None:
        report = _required(session, user, number, "note")
        session.add(ReportNote(report_id=report.id, body=body[:NOTE_MAX_CHARS], author=user.username,
                               office_code=user.office_code))
        report.updated_at = utcnow()
        audit.record(session, user, "note_added", report.public_number)

    _run(factory, write)


def message_reporter(user: UserView, number: str, text: str, factory: sessionmaker | None = None) -> None:
    """A message the reporter reads when they check the status with their receipt code."""
    body = text.strip()
    if not body:
        raise ValueError("the message is empty")

    def write(session: Session) -> None:
        report = _required(session, user, number, "message_to_reporter")
        session.add(ReportMessage(report=report, direction="to_reporter", body=body[:MESSAGE_MAX_CHARS],
                                  office_code=user.office_code))
        audit.record(session, user, "message_to_reporter", report.public_number)

    _run(factory, write)


# -- officers and forwarding -------------------------------------------------------------------


def _officer_view(officer: Officer) -> OfficerView:
    return OfficerView(officer.id, officer.name, officer.rank, officer.district_code,
                       tuple(c for c in officer.categories.split(",") if c), mask_phone(officer.phone),
                       officer.active)


def _officer_districts(user: UserView) -> tuple[str, ...] | None:
    """Districts whose officers the user sees (None: all, for admins)."""
    return None if user.role == "admin" else user.district_codes


def officers(user: UserView, district: str | None = None,
             factory: sessionmaker | None = None) -> tuple[OfficerView, ...]:
    """Admins: every officer; an SP office: its district's; a DIG office: its range's."""
    allowed = _officer_districts(user)

    def read(session: Session) -> tuple[OfficerView, ...]:
        statement = select(Officer).order_by(Officer.district_code, Officer.name)
        if allowed is not None:
            statement = statement.where(Officer.district_code.in_(allowed))
        if district:
            statement = statement.where(Officer.district_code == district)
        return tuple(_officer_view(o) for o in session.execute(statement).scalars())

    return _run(factory, read)


def save_officer(user: UserView, *, name: str, rank: str, district: str, phone: str | None,
                 categories: Iterable[str] = (), officer_id: int | None = None, active: bool = True,
                 factory: sessionmaker | None = None) -> int:
    """Add or change an officer (admins anywhere, SP offices in their district); the officer's id.
    Editing with `phone=None` keeps the stored number (the dashboard only shows it masked)."""
    if user.role == "dig" or (user.role == "sp" and district not in user.district_codes):
        raise PermissionError("officers are kept by admins and by the district's SP office")
    if load_offices().district(district) is None:
        raise ValueError(f"unknown district {district!r}")
    digits = "".join(ch for ch in phone or "" if ch.isdigit())
    if (phone is not None or officer_id is None) and not PHONE_PATTERN.fullmatch(digits):
        raise ValueError("the WhatsApp number needs the country code and 10 to 15 digits, e.g. 9198XXXXXXXX")
    keys = tuple(categories)
    unknown = set(keys) - set(category_keys())
    if unknown:
        raise ValueError(f"unknown categories: {sorted(unknown)}")
    if not name.strip() or not rank.strip():
        raise ValueError("name and rank are required")

    def write(session: Session) -> int:
        officer = Officer() if officer_id is None else session.get(Officer, officer_id)
        if officer is None or (officer_id is not None and user.role == "sp"
                               and officer.district_code not in user.district_codes):
            raise LookupError("no such officer")
        officer.name, officer.rank, officer.district_code = name.strip(), rank.strip(), district
        officer.phone = digits or officer.phone
        officer.categories, officer.active = ",".join(keys), active
        session.add(officer)
        session.flush()
        audit.record(session, user, "officer_saved", detail=f"officer {officer.id} ({officer.rank} {officer.name})")
        return officer.id

    return _run(factory, write)


def forward(user: UserView, number: str, officer_id: int, dashboard_url: str,
            factory: sessionmaker | None = None) -> int:
    """Send the report to an officer as a WhatsApp template (nothing about the reporter); marks a
    new report assigned. Returns the forward's id; its status follows the delivery receipts."""

    def prepare(session: Session) -> tuple[int, forwarding.ForwardMessage]:
        report = _required(session, user, number, "forward")
        officer = session.get(Officer, officer_id)
        if officer is None or not officer.active or officer.district_code not in user.district_codes:
            raise LookupError("no such officer")
        row = Forward(report_id=report.id, officer=officer, forwarded_by=user.username, status="queued")
        session.add(row)
        if STATUSES.index(report.status) < STATUSES.index("assigned"):
            _set_status(session, user, report, "assigned", f"forwarded to {officer.rank} {officer.name}")
        session.flush()
        audit.record(session, user, "forward", report.public_number,
                     f"forward {row.id} to officer {officer.id} ({officer.rank} {officer.name})")
        return row.id, forwarding.ForwardMessage(
            phone=officer.phone, number=report.public_number, category=report.category,
            place=report.place, summary=report.description, dashboard_url=dashboard_url)

    forward_id, message = _run(factory, prepare)
    forwarding.send(forward_id, message, factory)
    return forward_id


# -- overview and exports ----------------------------------------------------------------------


def _hours_between(start: ColumnElement, end: ColumnElement, dialect: str) -> ColumnElement:
    if dialect == "postgresql":
        return func.extract("epoch", end - start) / 3600.0
    return (func.julianday(end) - func.julianday(start)) * 24.0


def _week_start(column: ColumnElement, dialect: str) -> ColumnElement:
    """The Monday (India's time) of a timestamp's week: a date on PostgreSQL; on SQLite the week's
    number since the Julian epoch (cheaper than date functions), turned into a date by `_as_week`."""
    if dialect == "postgresql":
        return func.date(func.date_trunc("week", func.timezone("Asia/Kolkata", column)))
    return cast((func.julianday(column) + 0.5 + IST_OFFSET_DAYS) / 7, Integer)  # Julian day 0 was a Monday


def _as_week(value: object) -> date:
    return value if isinstance(value, date) else date.fromordinal(int(value) * 7 - JULIAN_DAY_OF_ORDINAL_0)


def _medians(session: Session, base: Select, dialect: str) -> tuple[float | None, float | None]:
    """Median hours to acknowledge and to close, in SQL: PostgreSQL's percentile_cont (one pass);
    on SQLite, per median the count and then the middle row(s) in order."""
    durations = (_hours_between(Report.created_at, Report.acknowledged_at, dialect),
                 _hours_between(Report.created_at, Report.closed_at, dialect))
    if dialect == "postgresql":
        values = session.execute(base.with_only_columns(
            *(func.percentile_cont(0.5).within_group(d) for d in durations))).one()
    else:
        values = []
        for duration in durations:
            present = base.where(duration.is_not(None))
            n = session.execute(present.with_only_columns(func.count())).scalar_one()
            middle = session.execute(present.with_only_columns(duration).order_by(duration)
                                     .limit(2 - n % 2).offset((n - 1) // 2)).scalars().all() if n else []
            values.append(sum(middle) / len(middle) if middle else None)
    acknowledge, close = (None if v is None else round(float(v), 1) for v in values)
    return acknowledge, close


def overview(user: UserView, flt: InboxFilter, factory: sessionmaker | None = None) -> Overview:
    """What a monthly review needs, for the reports matching the filter."""

    def read(session: Session) -> Overview:
        office_id = _office_id(session, user)
        if office_id is None:
            return Overview({}, {}, {}, (), (), None, None, 0)
        dialect = session.get_bind().dialect.name
        base = _scoped(select(Report.id).select_from(Report), office_id).where(*_conditions(flt))
        week = _week_start(Report.created_at, dialect).label("week")
        keys = (Report.category, Report.district_code, Report.status, week)
        # One scan: counts per (category, district, status, week); the small result is summed up here.
        groups = session.execute(base.with_only_columns(*keys, func.count(Report.id)).group_by(*keys)).all()
        by_category: Counter[str] = Counter()
        by_district: Counter[str] = Counter()
        by_status: Counter[str] = Counter()
        weekly: Counter[date] = Counter()
        heatmap: Counter[tuple[str, str]] = Counter()
        for category, district, status, week_start, n in groups:
            by_category[category] += n
            by_district[district] += n
            by_status[status] += n
            weekly[_as_week(week_start)] += n
            heatmap[(category, district)] += n
        medians = _medians(session, base, dialect)
        return Overview(
            by_category=dict(by_category), by_district=dict(by_district), by_status=dict(by_status),
            weekly=tuple(sorted(weekly.items())),
            heatmap=tuple((category, district, n) for (category, district), n in sorted(heatmap.items())),
            median_hours_to_acknowledge=medians[0], median_hours_to_close=medians[1],
            total=sum(by_status.values()))

    return _run(factory, read)


def _csv(header: list[str], rows: Iterable[Iterable[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        # A cell starting with = + - @ would be a formula in a spreadsheet: quote it as text.
        writer.writerow(["'" + v if isinstance(v, str) and v[:1] in ("=", "+", "-", "@") else v for v in row])
    return out.getvalue()


def export_csv(user: UserView, flt: InboxFilter, factory: sessionmaker | None = None) -> str:
    """The filtered list as CSV (the office's reports only), audited."""

    def read(session: Session) -> str:
        office_id = _office_id(session, user)
        header = ["number", "received_hour_ist", "category", "district", "place", "urgent", "flagged",
                  "status", "outcome", "evidence_files"]
        if office_id is None:
            _audit_searched_number(session, user, None, flt, 0, "export")
            audit.record(session, user, "export", detail="0 reports")
            return _csv(header, [])
        evidence = (select(EvidenceItem.report_id, func.count(EvidenceItem.id).label("n"))
                    .group_by(EvidenceItem.report_id).subquery())
        rows = session.execute(
            _scoped(select(Report.public_number, Report.created_at, Report.category, Report.district_code,
                           Report.place, Report.urgent, Report.flagged, Report.status, Report.outcome,
                           func.coalesce(evidence.c.n, 0)), office_id)
            .outerjoin(evidence, evidence.c.report_id == Report.id)
            .where(*_conditions(flt)).order_by(*_order(flt.sort))).all()
        _audit_searched_number(session, user, office_id, flt, len(rows), "export")
        audit.record(session, user, "export", detail=f"{len(rows)} reports")

        def label(category: str) -> str:
            found = get_category(category)
            return found.label("en") if found else category

        return _csv(header, ([number, f"{to_hour(created):%Y-%m-%d %H:00}", label(category), district, place,
                              "yes" if urgent else "no", "yes" if flagged else "no", status_label(status, "en"),
                              outcome_label(outcome, "en") if outcome else "", n]
                             for number, created, category, district, place, urgent, flagged, status, outcome, n
                             in rows))

    return _run(factory, read)


def _audit_scope(user: UserView) -> ColumnElement:
    """Admins read the whole log; a range office its range's offices' events; others nothing."""
    if user.role == "admin":
        return literal(True)
    if user.role != "dig" or not user.office_code:
        raise PermissionError("the audit log is for DIG offices and admins")
    directory = load_offices()
    police_range = directory.range_of_office(user.office_code)
    codes = [o.code for o in (police_range.office, *(d.office for d in police_range.districts),
                              *police_range.other_offices)] if police_range else [user.office_code]
    return AuditEvent.office_code.in_(codes)


def _audit_rows(session: Session, statement: Select) -> tuple[AuditRow, ...]:
    return tuple(AuditRow(_ist(e.at), e.username, e.action, e.report_number, e.detail)
                 for e in session.execute(statement).scalars())


def audit_log(user: UserView, page: int = 1, page_size: int = 100, action: str | None = None,
              factory: sessionmaker | None = None) -> tuple[tuple[AuditRow, ...], int]:
    """One page of the audit log, newest first, and the number of events in all."""
    scope = _audit_scope(user)
    page, page_size = max(1, page), max(1, min(page_size, 1000))

    def read(session: Session) -> tuple[tuple[AuditRow, ...], int]:
        conditions = [scope] + ([AuditEvent.action == action] if action else [])
        total = session.execute(select(func.count(AuditEvent.id)).where(*conditions)).scalar_one()
        rows = _audit_rows(session, select(AuditEvent).where(*conditions)
                           .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
                           .limit(page_size).offset((page - 1) * page_size))
        return rows, total

    return _run(factory, read)


def audit_csv(user: UserView, factory: sessionmaker | None = None) -> str:
    scope = _audit_scope(user)

    def read(session: Session) -> str:
        rows = _audit_rows(session, select(AuditEvent).where(scope).order_by(AuditEvent.at, AuditEvent.id))
        audit.record(session, user, "audit_export", detail=f"{len(rows)} events")
        return _csv(["at_ist", "username", "action", "report_number", "detail"],
                    ([f"{r.at:%Y-%m-%d %H:%M:%S}", r.username or "", r.action, r.report_number or "", r.detail]
                     for r in rows))

    return _run(factory, read)


# -- users (admins) ----------------------------------------------------------------------------


def _admin_only(user: UserView) -> None:
    if user.role != "admin":
        raise PermissionError("only admins manage users")


def list_users(user: UserView, factory: sessionmaker | None = None) -> tuple[dict, ...]:
    _admin_only(user)
    now = utcnow()
    return _run(factory, lambda session: tuple(
        {"username": u.username, "role": u.role, "office_code": u.office_code, "disabled": u.disabled,
         "locked": bool(u.locked_until and u.locked_until > now), "created_at": _ist(u.created_at),
         "password_changed_at": _ist(u.password_changed_at)}
        for u in session.execute(select(User).order_by(User.username)).scalars()))


def create_user(user: UserView, username: str, password: str, role: str, office_code: str | None,
                factory: sessionmaker | None = None) -> int:
    """Admins add users (as `python -m satark.users add` does); ValueError for bad input."""
    _admin_only(user)
    return users.add_user(username, password, role, office_code, factory=factory, actor=user)


def set_user_disabled(user: UserView, username: str, disabled: bool, factory: sessionmaker | None = None) -> None:
    _admin_only(user)
    users.set_disabled(username, disabled, factory=factory, actor=user)


def reset_user_password(user: UserView, username: str, password: str, factory: sessionmaker | None = None) -> None:
    _admin_only(user)
    users.reset_password(username, password, factory=factory, actor=user)

