"""Migration 0002 carries old reports into the new workflow, and back on downgrade."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from satark.db.migrate import alembic_config
from satark.db.session import get_engine

OLD_REPORTS = [(1, "in_progress"), (2, "rejected"), (3, "new"), (4, "closed")]


def test_old_statuses_move_to_the_new_workflow(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = alembic_config(url)
    command.upgrade(config, "0001")
    engine = get_engine.__wrapped__(url)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO offices (id, code, kind, name_en, name_hi, range_code) "
                                "VALUES (1, 'SP-GZP', 'SP', 'SP', 'SP', 'VNS-RANGE')"))
        for report_id, status in OLD_REPORTS:
            connection.execute(text(
                "INSERT INTO reports (id, public_number, draft_key, receipt_hash, category, district_code, "
                "range_code, description, place, incident_time, details, language, urgent, status, "
                "assigned_officer, created_at, updated_at) VALUES (:id, :number, :id, :id, 'drugs', 'GZP', "
                "'VNS-RANGE', 'd', 'p', 't', 'x', 'hi', 0, :status, 'SI Ram', '2026-11-01 10:00:00', "
                "'2026-11-01 10:00:00')"), {"id": report_id, "number": f"GZP-2026-0000{report_id}", "status": status})
            connection.execute(text("INSERT INTO status_changes (report_id, status, changed_at) "
                                    "VALUES (:id, 'new', '2026-11-01 10:00:00')"), {"id": report_id})
            connection.execute(text("INSERT INTO report_routes (report_id, office_id) VALUES (:id, 1)"),
                               {"id": report_id})
            if status != "new":
                connection.execute(text("INSERT INTO status_changes (report_id, status, changed_at) "
                                        "VALUES (:id, :status, '2026-11-02 12:00:00')"),
                                   {"id": report_id, "status": status})
    command.upgrade(config, "0002")
    with engine.begin() as connection:
        rows = connection.execute(text("SELECT id, status, outcome, acknowledged_at IS NOT NULL, "
                                       "closed_at IS NOT NULL FROM reports ORDER BY id")).all()
        history = set(connection.execute(text("SELECT DISTINCT status FROM status_changes")).scalars())
    assert [tuple(r) for r in rows] == [(1, "under_investigation", None, 1, 0), (2, "closed", "false_report", 1, 1),
                                        (3, "new", None, 0, 0), (4, "closed", None, 1, 1)]
    assert history == {"new", "under_investigation", "closed"}  # the history survived the migration
    with engine.begin() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM status_changes")).scalar_one() == 7
        assert connection.execute(text("SELECT COUNT(*) FROM report_routes")).scalar_one() == 4
    command.downgrade(config, "0001")
    with engine.begin() as connection:
        statuses = connection.execute(text("SELECT status FROM reports ORDER BY id")).scalars().all()
    assert statuses == ["in_progress", "rejected", "new", "closed"]
    engine.dispose()
