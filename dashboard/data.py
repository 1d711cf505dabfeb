"""The dashboard's only door to the database: cached calls of the core package's queries."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlalchemy.orm import sessionmaker

from satark import queries, reports
from satark.db.session import get_session_factory
from satark.offices import load_offices
from satark.taxonomy import get_category, status_label


@st.cache_resource
def session_factory() -> sessionmaker:
    return get_session_factory()


@st.cache_data(ttl=30)
def office_reports(office_code: str) -> pd.DataFrame:
    with session_factory().begin() as session:
        rows = session.execute(queries.reports_for_office(office_code)).scalars().all()
        return pd.DataFrame([{
            "number": r.public_number,
            "received": r.created_at,
            "category": get_category(r.category).label("en") if get_category(r.category) else r.category,
            "district": r.district_code,
            "place": r.place,
            "urgent": r.urgent,
            "status": status_label(r.status, "en"),
        } for r in rows])


@st.cache_data(ttl=30)
def report_detail(public_number: str) -> dict | None:
    with session_factory().begin() as session:
        report = session.execute(queries.report_by_public_number(public_number)).scalar_one_or_none()
        if report is None:
            return None
        return {
            "number": report.public_number, "status": report.status, "category": report.category,
            "district": report.district_code, "place": report.place, "when": report.incident_time,
            "urgent": report.urgent, "description": report.description, "details": report.details,
            "evidence_note": report.evidence_note, "language": report.language,
            "evidence": [(e.kind, e.mime_type, e.size_bytes) for e in report.evidence],
            "history": [(c.changed_at, c.status, c.note) for c in report.status_changes],
            "messages": [(m.created_at, m.direction, m.body) for m in report.messages],
        }


def offices() -> list[tuple[str, str]]:
    return [(o.code, o.name["en"]) for o in load_offices().offices]


def update_status(public_number: str, status: str, note: str, office_code: str) -> None:
    reports.set_status(public_number, status, note or None, office_code, factory=session_factory())
    st.cache_data.clear()


def send_to_reporter(public_number: str, body: str, office_code: str) -> None:
    reports.message_reporter(public_number, body, office_code, factory=session_factory())
    st.cache_data.clear()
