"""The audit log: who did what, when, to which report. Append-only (the migration adds database
triggers that refuse UPDATE and DELETE). Nothing about a reporter is ever written here."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session

from satark.db.models import AuditEvent

DETAIL_MAX_CHARS = 500


class Actor(Protocol):
    id: int
    username: str
    office_code: str | None


def record(session: Session, actor: Actor | None, action: str, report_number: str | None = None,
           detail: str = "", *, username: str | None = None) -> None:
    """Add an event in the caller's transaction (`username` names an actor not signed in)."""
    session.add(AuditEvent(
        user_id=actor.id if actor else None,
        username=(actor.username if actor else username or "")[:64] or None,
        office_code=actor.office_code if actor else None,
        action=action, report_number=report_number, detail=detail[:DETAIL_MAX_CHARS]))
