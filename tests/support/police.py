"""Helpers for police-side tests: submitted reports and signed-in users on the test database."""

from __future__ import annotations

import uuid

from satark import reports, users
from satark.auth import UserView, sign_in

PASSWORD = "correct horse battery"


def submit(district: str = "GZP", category: str = "illegal_liquor", *, urgent: bool = False,
           description: str = "gaon me kachi sharab banti hai", place: str = "Saidpur, near the canal",
           evidence_ids: tuple[str, ...] = ()) -> reports.Receipt:
    return reports.submit_report(reports.ReportDraft(
        draft_key=uuid.uuid4().hex, category=category, district_code=district, description=description,
        place=place, incident_time="every night", details="two men on a motorcycle", language="hi",
        urgent=urgent, evidence_ids=evidence_ids))


def user(username: str, role: str, office: str | None, password: str = PASSWORD) -> UserView:
    """Create the user and sign in as them."""
    users.add_user(username, password, role, office)
    result = sign_in(username, password)
    assert result.outcome == "ok", result
    return result.user
