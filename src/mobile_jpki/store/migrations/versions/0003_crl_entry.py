"""Stored CRL entries: ``certificate.crl_entry``, backfilled for certificates already revoked

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

Each revoked or held certificate keeps its own revokedCertificates entry as DER (RFC 5280 §5.1),
encoded once when its status changes, so publishing a full CRL is a concatenation
(docs/crl.md "Stored entries"). Certificates revoked before this revision are backfilled here,
from their columns, through the same encoder the service uses (``pki.crl.encode_entry``, pure, no
I/O): otherwise an existing CA would re-encode its old revocations at every publication until
they expire, years later. Keyset pages of 10,000 by serial, so a CA with millions of revocations
is migrated in bounded memory. Migrations never import the ORM models; times are naive UTC.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

from mobile_jpki.pki.crl import encode_entry
from mobile_jpki.pki.revocation import Reason

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_PAGE = 10_000
_HOLD = int(Reason.CERTIFICATE_HOLD)

_certificate = sa.table(
    "certificate",
    sa.column("serial", sa.String(48)),
    sa.column("status", sa.String(8)),
    sa.column("revoked_at", sa.DateTime()),
    sa.column("reason", sa.Integer()),
    sa.column("invalidity_date", sa.DateTime()),
    sa.column("crl_entry", sa.LargeBinary()),
)


def upgrade() -> None:
    op.add_column("certificate", sa.Column("crl_entry", sa.LargeBinary(), nullable=True))
    backfill(op.get_bind())


def backfill(conn: sa.Connection) -> int:
    """Encode the entry of every held or revoked certificate that has none; returns how many."""
    c = _certificate.c
    page = (
        sa.select(c.serial, c.status, c.revoked_at, c.reason, c.invalidity_date)
        .where(c.status != "good", c.crl_entry.is_(None), c.serial > sa.bindparam("after"))
        .order_by(c.serial)
        .limit(_PAGE)
    )
    store = (
        sa.update(_certificate)
        .where(c.serial == sa.bindparam("key"))
        .values(crl_entry=sa.bindparam("entry"))
    )
    done, after = 0, ""
    while rows := conn.execute(page, {"after": after}).all():
        conn.execute(
            store,
            [
                {
                    "key": r.serial,
                    "entry": encode_entry(
                        int(r.serial, 16),
                        _aware(r.revoked_at),
                        Reason(_HOLD if r.status == "held" else r.reason or 0),
                        None if r.invalidity_date is None else _aware(r.invalidity_date),
                    ),
                }
                for r in rows
            ],
        )
        done += len(rows)
        after = rows[-1].serial
    return done


def _aware(naive_utc: dt.datetime) -> dt.datetime:
    return naive_utc.replace(tzinfo=dt.UTC)


def downgrade() -> None:
    with op.batch_alter_table("certificate") as batch:
        batch.drop_column("crl_entry")
