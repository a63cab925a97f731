"""A partial covering index for full-CRL publication

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27

Publishing a shard's full CRL reads the stored entries of its held and revoked, unexpired
certificates (``certificate.crl_entry``). Through ix_certificate_crl that was one table lookup
per entry, among rows that also carry the certificate itself (measured: 1.8 CPU s per 1,000,000
entries even with empty certificates). This index holds everything the query needs, in
(ca_id, shard, not_after) order, for held and revoked certificates only.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_certificate_crl_entry",
        "certificate",
        ["ca_id", "shard", "not_after", "crl_entry"],
        unique=False,
        sqlite_where=sa.text("status != 'good'"),
        postgresql_where=sa.text("status != 'good'"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_certificate_crl_entry",
        table_name="certificate",
        sqlite_where=sa.text("status != 'good'"),
        postgresql_where=sa.text("status != 'good'"),
    )
