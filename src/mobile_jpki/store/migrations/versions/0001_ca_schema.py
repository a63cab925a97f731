"""CA schema: generations, certificates, OCSP, CRL state, audit log

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-27

Migrations never import the ORM models (they change; a revision must not). Times are naive
UTC columns, as UtcDateTime writes them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # The chain head exists from the start, so the first appends of concurrent writers
    # serialise on its row lock instead of racing to insert it (PostgreSQL).
    op.bulk_insert(
        sa.table(
            "audit_head",
            sa.column("id", sa.Integer),
            sa.column("seq", sa.Integer),
            sa.column("hash", sa.String),
        ),
        [{"id": 1, "seq": 0, "hash": "0" * 64}],
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("object", sa.String(length=256), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_table(
        "ca_generation",
        sa.Column("ca_id", sa.String(length=64), nullable=False),
        sa.Column("hierarchy", sa.String(length=16), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("certificate_der", sa.LargeBinary(), nullable=False),
        sa.Column("key_ref", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("last_crl_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("ca_id"),
        sa.UniqueConstraint("hierarchy", "generation"),
    )
    with op.batch_alter_table("ca_generation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ca_generation_hierarchy"), ["hierarchy"], unique=False)

    op.create_table(
        "certificate",
        sa.Column("serial", sa.String(length=48), nullable=False),
        sa.Column("ca_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.String(length=128), nullable=False),
        sa.Column("not_before", sa.DateTime(), nullable=False),
        sa.Column("not_after", sa.DateTime(), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("reason", sa.Integer(), nullable=True),
        sa.Column("invalidity_date", sa.DateTime(), nullable=True),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=True),
        sa.Column("card_id", sa.String(length=64), nullable=True),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.CheckConstraint("status in ('good', 'held', 'revoked')", name="ck_certificate_status"),
        sa.ForeignKeyConstraint(
            ["ca_id"],
            ["ca_generation.ca_id"],
        ),
        sa.PrimaryKeyConstraint("serial"),
    )
    with op.batch_alter_table("certificate", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_certificate_card_id"), ["card_id"], unique=False)
        batch_op.create_index("ix_certificate_crl", ["ca_id", "shard", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_certificate_device_id"), ["device_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_certificate_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_certificate_subject_id"), ["subject_id"], unique=False)

    op.create_table(
        "crl_change",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ca_id", sa.String(length=64), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=48), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ca_id"],
            ["ca_generation.ca_id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("crl_change", schema=None) as batch_op:
        batch_op.create_index("ix_crl_change_shard", ["ca_id", "shard"], unique=False)

    op.create_table(
        "crl_state",
        sa.Column("ca_id", sa.String(length=64), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("full_number", sa.Integer(), nullable=True),
        sa.Column("full_this_update", sa.DateTime(), nullable=True),
        sa.Column("full_next_update", sa.DateTime(), nullable=True),
        sa.Column("full_der", sa.LargeBinary(), nullable=True),
        sa.Column("delta_number", sa.Integer(), nullable=True),
        sa.Column("delta_this_update", sa.DateTime(), nullable=True),
        sa.Column("delta_next_update", sa.DateTime(), nullable=True),
        sa.Column("delta_der", sa.LargeBinary(), nullable=True),
        sa.Column("full_dirty", sa.Boolean(), nullable=False),
        sa.Column("delta_dirty", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ca_id"],
            ["ca_generation.ca_id"],
        ),
        sa.PrimaryKeyConstraint("ca_id", "shard"),
    )
    op.create_table(
        "ocsp_responder",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ca_id", sa.String(length=64), nullable=False),
        sa.Column("serial", sa.String(length=48), nullable=False),
        sa.Column("certificate_der", sa.LargeBinary(), nullable=False),
        sa.Column("key_ref", sa.Text(), nullable=False),
        sa.Column("not_before", sa.DateTime(), nullable=False),
        sa.Column("not_after", sa.DateTime(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ca_id"],
            ["ca_generation.ca_id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ocsp_responder", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ocsp_responder_ca_id"), ["ca_id"], unique=False)

    op.create_table(
        "ocsp_response",
        sa.Column("serial", sa.String(length=48), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column("this_update", sa.DateTime(), nullable=False),
        sa.Column("next_update", sa.DateTime(), nullable=False),
        sa.Column("produced_at", sa.DateTime(), nullable=False),
        sa.Column("responder_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["responder_id"],
            ["ocsp_responder.id"],
        ),
        sa.ForeignKeyConstraint(["serial"], ["certificate.serial"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("serial"),
    )


def downgrade() -> None:

    op.drop_table("ocsp_response")
    with op.batch_alter_table("ocsp_responder", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ocsp_responder_ca_id"))

    op.drop_table("ocsp_responder")
    op.drop_table("crl_state")
    with op.batch_alter_table("crl_change", schema=None) as batch_op:
        batch_op.drop_index("ix_crl_change_shard")

    op.drop_table("crl_change")
    with op.batch_alter_table("certificate", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_certificate_subject_id"))
        batch_op.drop_index(batch_op.f("ix_certificate_person_id"))
        batch_op.drop_index(batch_op.f("ix_certificate_device_id"))
        batch_op.drop_index("ix_certificate_crl")
        batch_op.drop_index(batch_op.f("ix_certificate_card_id"))

    op.drop_table("certificate")
    with op.batch_alter_table("ca_generation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ca_generation_hierarchy"))

    op.drop_table("ca_generation")
    op.drop_table("audit_log")
    op.drop_table("audit_head")
