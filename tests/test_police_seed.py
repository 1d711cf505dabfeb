"""Synthetic reports for demos and benchmarks: realistic shapes, routed like real ones."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from sqlalchemy import func, select

from satark.db.models import EvidenceItem, Office, Report, ReportRoute, StatusChange
from satark.db.session import get_session_factory
from satark.seed import seed_reports
from tests.support.servers import ROOT


def test_seeded_reports_look_like_real_ones(runtime):
    assert seed_reports(400) == 400
    with get_session_factory().begin() as session:
        reports = session.execute(select(Report)).scalars().all()
        assert all(re.fullmatch(r"[A-Z]{3}-\d{4}-\d{5}", r.public_number) for r in reports)
        assert {r.status for r in reports} >= {"new", "under_investigation", "closed"}
        assert all((r.closed_at is not None) == (r.status == "closed") == (r.outcome is not None) for r in reports)
        assert all(r.acknowledged_at is None or r.created_at <= r.acknowledged_at for r in reports)
        assert len({r.category for r in reports}) >= 10 and len({r.district_code for r in reports}) == 4
        routes = session.execute(select(ReportRoute.report_id, Office.code).join(Office)).all()
        assert len(routes) >= 800
        flagged = {r.id for r in reports if r.category == "police_corruption"}
        assert flagged and all(r.flagged for r in reports if r.id in flagged)
        assert {rid for rid, code in routes if code == "VIG-VNS"} == flagged
        history = session.execute(select(func.count(StatusChange.id))).scalar_one()
        assert history >= 400
        assert session.execute(select(func.count(EvidenceItem.id))).scalar_one() > 50
    seed_reports(10)  # more can be added later: ids continue
    with get_session_factory().begin() as session:
        assert session.execute(select(func.count(Report.id))).scalar_one() == 410


def test_seeding_is_refused_outside_development_mode(runtime):
    result = subprocess.run([sys.executable, "-m", "satark.seed", "--reports", "5"], capture_output=True, text=True,
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), "SATARK_DEV_MODE": "false"},
                            timeout=120)
    assert result.returncode == 2 and "development mode" in result.stderr
