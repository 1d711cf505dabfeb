"""Database models. No table has a column for the reporter's identity: there is none to store."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import declarative_base, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Base = declarative_base(metadata=MetaData(naming_convention=NAMING_CONVENTION))

# The workflow, in order; closing records an outcome.
STATUSES = ("new", "acknowledged", "assigned", "under_investigation", "action_taken", "closed")
OUTCOMES = ("action_taken", "no_evidence", "false_report", "duplicate")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_id() -> str:
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC timestamps, also on SQLite (which keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime; use timezone-aware UTC values")
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


class Office(Base):
    """An SP office (one district) or a DIG office (one range), synced from the offices file."""

    __tablename__ = "offices"
    id = Column(Integer, primary_key=True)
    code = Column(String(32), nullable=False, unique=True)
    kind = Column(String(8), nullable=False)
    name_en = Column(String(200), nullable=False)
    name_hi = Column(String(200), nullable=False)
    range_code = Column(String(32), nullable=False)
    district_code = Column(String(32), nullable=True)


class Report(Base):
    __tablename__ = "reports"
    # The inbox lists open reports urgent first, newest first.
    __table_args__ = (Index("ix_reports_urgent_created_at", "urgent", "created_at"),)
    id = Column(Integer, primary_key=True)
    public_number = Column(String(32), nullable=False, unique=True)
    # Keyed hash of the submitting draft's key, so a retried submit finds the same report (the key
    # itself would derive the receipt code: it is never stored).
    draft_key = Column(String(64), nullable=False, unique=True)
    receipt_hash = Column(String(64), nullable=False, unique=True)
    category = Column(String(40), nullable=False, index=True)
    district_code = Column(String(32), nullable=False, index=True)
    range_code = Column(String(32), nullable=False, index=True)
    description = Column(Text, nullable=False)
    place = Column(Text, nullable=False)
    incident_time = Column(Text, nullable=False)
    details = Column(Text, nullable=False)
    evidence_note = Column(Text, nullable=True)
    language = Column(String(2), nullable=False)
    urgent = Column(Boolean, nullable=False, default=False)
    status = Column(String(20), nullable=False, default="new", index=True)
    outcome = Column(String(20), nullable=True)
    duplicate_of = Column(String(32), nullable=True)
    # Set by a routing rule (e.g. complaints about the police): shown prominently to the offices.
    flagged = Column(Boolean, nullable=False, default=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)
    # When the police first acknowledged and when they closed it, for the median response times.
    acknowledged_at = Column(UTCDateTime, nullable=True)
    closed_at = Column(UTCDateTime, nullable=True)

    routes = relationship("ReportRoute", back_populates="report", cascade="all, delete-orphan")
    evidence = relationship("EvidenceItem", back_populates="report")
    status_changes = relationship(
        "StatusChange", back_populates="report", cascade="all, delete-orphan",
        order_by="StatusChange.changed_at",
    )
    messages = relationship(
        "ReportMessage", back_populates="report", cascade="all, delete-orphan",
        order_by="ReportMessage.created_at",
    )


class ReportRoute(Base):
    """A report reaches each office it is routed to (district SP office, range DIG office)."""

    __tablename__ = "report_routes"
    __table_args__ = (UniqueConstraint("report_id", "office_id"),
                      Index("ix_report_routes_office_id_report_id", "office_id", "report_id"))
    id = Column(Integer, primary_key=True)
    report_id = Column(Integer, ForeignKey("reports.id", ondelete="CASCADE"), nullable=False)
    office_id = Column(Integer, ForeignKey("offices.id"), nullable=False)
    report = relationship("Report", back_populates="routes")
    office = relationship("Office")


class EvidenceItem(Base):
    """A media file or note. Pending items (no report yet) belong to a draft by its key."""

    __tablename__ = "evidence_items"
    id = Column(String(32), primary_key=True, default=new_id)
    report_id = Column(Integer, ForeignKey("reports.id", ondelete="SET NULL"), nullable=True, index=True)
    kind = Column(String(16), nullable=False)
    mime_type = Column(String(100), nullable=True)
    size_bytes = Column(Integer, nullable=True)
    sha256 = Column(String(64), nullable=True)
    stored_name = Column(String(100), nullable=True)
    caption = Column(Text, nullable=True)
    metadata_stripped = Column(Boolean, nullable=False, default=False)
    transcript = Column(Text, nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    report = relationship("Report", back_populates="evidence")


class StatusChange(Base):
    __tablename__ = "status_changes"
    id = Column(Integer, primary_key=True)
    report_id = Column(Integer, ForeignKey("reports.id", ondelete="CASCADE"), nullable=False, index=True)
    status = Column(String(20), nullable=False)
    note = Column(Text, nullable=True)
    changed_by = Column(String(200), nullable=True)
    changed_at = Column(UTCDateTime, nullable=False, default=utcnow)
    report = relationship("Report", back_populates="status_changes")


class ReportMessage(Base):
    """Messages between police and reporter, addressed only through the report."""

    __tablename__ = "report_messages"
    id = Column(Integer, primary_key=True)
    report_id = Column(Integer, ForeignKey("reports.id", ondelete="CASCADE"), nullable=False, index=True)
    direction = Column(String(16), nullable=False)  # "to_reporter" or "from_reporter"
    body = Column(Text, nullable=False)
    office_code = Column(String(32), nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    report = relationship("Report", back_populates="messages")


class CodeAttempt(Base):
    """Wrong receipt codes per (hashed) conversation, to slow down guessing."""

    __tablename__ = "code_attempts"
    id = Column(Integer, primary_key=True)
    sender_key = Column(String(64), nullable=False, unique=True)
    failures = Column(Integer, nullable=False, default=0)
    window_start = Column(UTCDateTime, nullable=False, default=utcnow)


class ProcessedMessage(Base):
    """Keyed hashes of channel message ids already handled, so redeliveries are dropped."""

    __tablename__ = "processed_messages"
    id = Column(Integer, primary_key=True)
    message_key = Column(String(64), nullable=False, unique=True)
    received_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)


class User(Base):
    """A dashboard user: one office (none for admins), an argon2 password hash, never the password."""

    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    username = Column(String(64), nullable=False, unique=True)
    password_hash = Column(String(200), nullable=False)
    role = Column(String(8), nullable=False)  # "sp", "dig" or "admin"
    office_code = Column(String(32), nullable=True)
    disabled = Column(Boolean, nullable=False, default=False)
    failed_sign_ins = Column(Integer, nullable=False, default=0)
    locked_until = Column(UTCDateTime, nullable=True)
    password_changed_at = Column(UTCDateTime, nullable=False, default=utcnow)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class AuditEvent(Base):
    """Who did what, when, to which report. Append-only (database triggers refuse changes);
    never anything about the reporter."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_office_code_at", "office_code", "at"),)
    id = Column(Integer, primary_key=True)
    at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    user_id = Column(Integer, nullable=True)
    username = Column(String(64), nullable=True)
    office_code = Column(String(32), nullable=True)
    action = Column(String(32), nullable=False, index=True)
    report_number = Column(String(32), nullable=True, index=True)
    detail = Column(Text, nullable=False, default="")


class Officer(Base):
    """A designated officer who receives forwarded reports on WhatsApp (their official number)."""

    __tablename__ = "officers"
    id = Column(Integer, primary_key=True)
    name = Column(String(200), nullable=False)
    rank = Column(String(100), nullable=False)
    district_code = Column(String(32), nullable=False, index=True)
    categories = Column(Text, nullable=False, default="")  # comma-separated keys; empty: all
    phone = Column(String(20), nullable=False)
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class Forward(Base):
    """A report sent to an officer as a WhatsApp template; delivery statuses come by webhook."""

    __tablename__ = "forwards"
    id = Column(Integer, primary_key=True)
    report_id = Column(Integer, ForeignKey("reports.id", ondelete="CASCADE"), nullable=False, index=True)
    officer_id = Column(Integer, ForeignKey("officers.id"), nullable=False)
    forwarded_by = Column(String(64), nullable=True)
    status = Column(String(12), nullable=False, default="queued")  # queued/sent/delivered/read/failed
    # SHA-256 of the Graph message id: receipts are matched by it, so the ids of messages to
    # citizens (which encode their numbers) never reach the database, not even in a query.
    message_key = Column(String(64), nullable=True, unique=True)
    error = Column(Text, nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    sent_at = Column(UTCDateTime, nullable=True)
    delivered_at = Column(UTCDateTime, nullable=True)
    read_at = Column(UTCDateTime, nullable=True)
    failed_at = Column(UTCDateTime, nullable=True)
    officer = relationship("Officer")


class ReportNote(Base):
    """An internal note of the police on a report (never shown to the reporter)."""

    __tablename__ = "report_notes"
    id = Column(Integer, primary_key=True)
    report_id = Column(Integer, ForeignKey("reports.id", ondelete="CASCADE"), nullable=False, index=True)
    body = Column(Text, nullable=False)
    author = Column(String(64), nullable=True)
    office_code = Column(String(32), nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class ReadMarker(Base):
    """A user has opened a report (the inbox marks the others unread)."""

    __tablename__ = "read_markers"
    __table_args__ = (UniqueConstraint("user_id", "report_id"),)
    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    report_id = Column(Integer, ForeignKey("reports.id", ondelete="CASCADE"), nullable=False)
    read_at = Column(UTCDateTime, nullable=False, default=utcnow)


class InboundMessage(Base):
    """A webhook message stored before WhatsApp gets its 200, until a server has handled it.

    `payload` is sealed (AES-256-GCM, key derived from ANONYMIZATION_KEY): it holds the reply address.
    """

    __tablename__ = "inbound_messages"
    id = Column(Integer, primary_key=True)
    sender_id = Column(String(64), nullable=False, index=True)
    payload = Column(Text, nullable=False)
    attempts = Column(Integer, nullable=False, default=0)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class InboundLease(Base):
    """Which server handles a sender's queued messages right now (one at a time, in order)."""

    __tablename__ = "inbound_leases"
    sender_id = Column(String(64), primary_key=True)
    holder = Column(String(64), nullable=False)
    expires_at = Column(UTCDateTime, nullable=False)
