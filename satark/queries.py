"""Query functions: each returns a statement; callers execute it in their own session."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.sql import Select

from satark.db.models import CodeAttempt, EvidenceItem, Office, Report, ReportMessage


def report_by_draft_key(draft_key: str) -> Select:
    return select(Report).where(Report.draft_key == draft_key)


def report_by_receipt_hash(receipt_hash: str) -> Select:
    return select(Report).where(Report.receipt_hash == receipt_hash)


def report_by_public_number(public_number: str) -> Select:
    return select(Report).where(Report.public_number == public_number)


def offices_by_codes(codes: list[str]) -> Select:
    return select(Office).where(Office.code.in_(codes))


def messages_to_reporter(report_id: int) -> Select:
    return (
        select(ReportMessage)
        .where(ReportMessage.report_id == report_id, ReportMessage.direction == "to_reporter")
        .order_by(ReportMessage.created_at)
    )


def evidence_by_ids(evidence_ids: list[str]) -> Select:
    return select(EvidenceItem).where(EvidenceItem.id.in_(evidence_ids))


def code_attempt(sender_key: str) -> Select:
    return select(CodeAttempt).where(CodeAttempt.sender_key == sender_key)
