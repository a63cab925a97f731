"""Deletion instructions name their certificates and can be cancelled

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07

A queued deletion was signed when queued, with no challenge, and named no certificate: a
captured one could be replayed to the element within its 48 hours, and a stale one wiped
certificates registered since (issue 16 §3). It is now signed when the phone comes online, for
the element's challenge, naming the certificates recorded here; ``cancelled_at`` marks one the
service withdrew because the device became a holder again (docs/security.md, "Management
instructions").
Rows queued before this revision have no ``certificates``: the service no longer signs them
(they expire within their 48 hours).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("portal_instruction") as batch:
        batch.add_column(sa.Column("certificates", sa.Text(), nullable=True))
        batch.add_column(sa.Column("cancelled_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("portal_instruction") as batch:
        batch.drop_column("cancelled_at")
        batch.drop_column("certificates")
