"""hash the draft keys of existing reports

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-29 17:15:00

Reports used to keep the draft key in plain text, and the receipt code is derived from it. Each
stored key is replaced by its keyed hash under RECEIPT_SECRET (what `satark.reports` now stores),
so a retried submit still finds its report. Where no receipt secret is available (outside
development mode without RECEIPT_SECRET) the keys are replaced by random values instead: only a
submit in flight at this very moment would lose its idempotency, and no key is left to derive a
code from. Public numbers already handed out are kept: citizens and officers quote them.
"""

import hmac
import secrets

import sqlalchemy as sa
from alembic import op

from satark.receipts import draft_key_hash
from satark.settings import get_receipt_secret

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

reports = sa.table("reports", sa.column("id", sa.Integer), sa.column("draft_key", sa.String))


def _secret() -> str | None:
    try:
        return get_receipt_secret()
    except RuntimeError:
        return None


def upgrade() -> None:
    connection = op.get_bind()
    secret = _secret()
    for report_id, draft_key in connection.execute(sa.select(reports.c.id, reports.c.draft_key)).all():
        hashed = draft_key_hash(draft_key, secret) if secret else secrets.token_hex(32)
        if not hmac.compare_digest(hashed, draft_key):
            connection.execute(reports.update().where(reports.c.id == report_id).values(draft_key=hashed))


def downgrade() -> None:
    """The plain keys are gone for good; the hashes stay (the old code only compares them)."""
