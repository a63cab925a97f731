"""The sandbox clock's offset

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07

One row: how far a sandbox data directory's clock runs ahead of the wall clock, so ``serve``
(every worker) and the CLI on the same data directory show QA the 48-hour rule on the real
portal (docs/cli.md "mobile-jpki clock"). Non-sandbox data directories never read it.
Migrations never import the ORM models; times are naive UTC, as UtcDateTime writes them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sandbox_clock",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("offset_seconds", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sandbox_clock")
