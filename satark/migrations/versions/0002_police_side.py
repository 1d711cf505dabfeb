"""police side: users, audit log, officers, forwards, notes, read markers, the new workflow

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 17:20:00
"""

import sqlalchemy as sa
from alembic import op

from satark.db.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

APPEND_ONLY_SQLITE = [
    f"CREATE TRIGGER audit_events_no_{verb.lower()} BEFORE {verb} ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
    for verb in ("UPDATE", "DELETE")
]
APPEND_ONLY_POSTGRES = [
    "CREATE FUNCTION audit_events_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'audit_events is append-only'; END; $$ LANGUAGE plpgsql",
    "CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events "
    "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
]


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("office_code", sa.String(length=32), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("failed_sign_ins", sa.Integer(), nullable=False),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.Column("password_changed_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("office_code", sa.String(length=32), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("report_number", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_report_number"), ["report_number"], unique=False)
        batch_op.create_index("ix_audit_events_office_code_at", ["office_code", "at"], unique=False)
    op.create_table(
        "officers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("rank", sa.String(length=100), nullable=False),
        sa.Column("district_code", sa.String(length=32), nullable=False),
        sa.Column("categories", sa.Text(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_officers")),
    )
    with op.batch_alter_table("officers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_officers_district_code"), ["district_code"], unique=False)
    op.create_table(
        "forwards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.Column("forwarded_by", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("message_key", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("read_at", UTCDateTime(), nullable=True),
        sa.Column("failed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["officer_id"], ["officers.id"], name=op.f("fk_forwards_officer_id_officers")),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"], name=op.f("fk_forwards_report_id_reports"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forwards")),
        sa.UniqueConstraint("message_key", name=op.f("uq_forwards_message_key")),
    )
    with op.batch_alter_table("forwards", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_forwards_report_id"), ["report_id"], unique=False)
    op.create_table(
        "report_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=True),
        sa.Column("office_code", sa.String(length=32), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"], name=op.f("fk_report_notes_report_id_reports"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_notes")),
    )
    with op.batch_alter_table("report_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_notes_report_id"), ["report_id"], unique=False)
    op.create_table(
        "read_markers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("read_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"], name=op.f("fk_read_markers_report_id_reports"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_read_markers_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_read_markers")),
        sa.UniqueConstraint("user_id", "report_id", name=op.f("uq_read_markers_user_id")),
    )

    # Never recreate `reports` on SQLite: dropping the old table would cascade-delete its routes,
    # history and messages (foreign keys are on). ADD/DROP COLUMN in place (SQLite >= 3.35).
    with op.batch_alter_table("reports", schema=None, recreate="never") as batch_op:
        batch_op.add_column(sa.Column("outcome", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("duplicate_of", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("flagged", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("acknowledged_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("closed_at", UTCDateTime(), nullable=True))
        # Officer assignment is now a forward to an officer (table `forwards`).
        batch_op.drop_column("assigned_officer")
        batch_op.create_index("ix_reports_urgent_created_at", ["urgent", "created_at"], unique=False)
    with op.batch_alter_table("report_routes", schema=None) as batch_op:
        batch_op.create_index("ix_report_routes_office_id_report_id", ["office_id", "report_id"], unique=False)

    # The old statuses, in the new workflow.
    op.execute("UPDATE reports SET status = 'under_investigation' WHERE status = 'in_progress'")
    op.execute("UPDATE status_changes SET status = 'under_investigation' WHERE status = 'in_progress'")
    op.execute("UPDATE reports SET outcome = 'false_report' WHERE status = 'rejected'")
    op.execute("UPDATE status_changes SET status = 'closed' WHERE status = 'rejected'")
    op.execute("UPDATE reports SET status = 'closed' WHERE status = 'rejected'")
    op.execute("UPDATE reports SET acknowledged_at = (SELECT MIN(changed_at) FROM status_changes "
               "WHERE status_changes.report_id = reports.id AND status_changes.status <> 'new') "
               "WHERE status <> 'new'")
    op.execute("UPDATE reports SET closed_at = (SELECT MAX(changed_at) FROM status_changes "
               "WHERE status_changes.report_id = reports.id AND status_changes.status = 'closed') "
               "WHERE status = 'closed'")

    statements = APPEND_ONLY_POSTGRES if op.get_bind().dialect.name == "postgresql" else APPEND_ONLY_SQLITE
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_events_no_change ON audit_events")
        op.execute("DROP FUNCTION audit_events_append_only()")
    else:
        op.execute("DROP TRIGGER audit_events_no_update")
        op.execute("DROP TRIGGER audit_events_no_delete")
    with op.batch_alter_table("report_routes", schema=None) as batch_op:
        batch_op.drop_index("ix_report_routes_office_id_report_id")
    op.execute("UPDATE reports SET status = 'in_progress' WHERE status IN ('acknowledged', 'under_investigation')")
    op.execute("UPDATE reports SET status = 'rejected' WHERE status = 'closed' AND outcome <> 'action_taken'")
    with op.batch_alter_table("reports", schema=None, recreate="never") as batch_op:
        batch_op.drop_index("ix_reports_urgent_created_at")
        batch_op.add_column(sa.Column("assigned_officer", sa.String(length=200), nullable=True))
        for column in ("closed_at", "acknowledged_at", "flagged", "duplicate_of", "outcome"):
            batch_op.drop_column(column)
    for table in ("read_markers", "report_notes", "forwards", "officers", "audit_events", "users"):
        op.drop_table(table)
