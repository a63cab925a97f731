"""Portal schema: persons, cards, devices, nonces, applications, jobs, instructions, outbox

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27

The two partial unique indexes are the database's own guard of the portal invariants
(docs/portal.md "Invariants"): one holder device per person, one open application per person.
Migrations never import the ORM models; times are naive UTC columns, as UtcDateTime writes them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_api_key",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
    )
    op.create_table(
        "portal_person",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("facts_json", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "portal_rate",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("window_start", sa.DateTime(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "portal_card",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=False),
        sa.Column("applet_serial", sa.String(length=32), nullable=False),
        sa.Column("sign_serial", sa.String(length=48), nullable=True),
        sa.Column("auth_serial", sa.String(length=48), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["portal_person.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("applet_serial"),
    )
    op.create_index(
        op.f("ix_portal_card_auth_serial"), "portal_card", ["auth_serial"], unique=False
    )
    op.create_index(op.f("ix_portal_card_person_id"), "portal_card", ["person_id"], unique=False)
    op.create_index(
        op.f("ix_portal_card_sign_serial"), "portal_card", ["sign_serial"], unique=False
    )
    op.create_table(
        "portal_device",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("element_serial", sa.String(length=32), nullable=False),
        sa.Column("attestation_der", sa.LargeBinary(), nullable=False),
        sa.Column("credential_hash", sa.String(length=64), nullable=False),
        sa.Column("push_channel", sa.String(length=16), nullable=False),
        sa.Column("push_enabled", sa.Boolean(), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=True),
        sa.Column("holder", sa.Boolean(), nullable=False),
        sa.Column("failed_auth", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["portal_person.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_portal_device_element_serial"), "portal_device", ["element_serial"], unique=False
    )
    op.create_index(
        op.f("ix_portal_device_person_id"), "portal_device", ["person_id"], unique=False
    )
    op.create_index(
        "uq_portal_device_holder",
        "portal_device",
        ["person_id"],
        unique=True,
        sqlite_where=sa.text("holder"),
        postgresql_where=sa.text("holder"),
    )
    op.create_table(
        "portal_instruction",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("actions", sa.Integer(), nullable=False),
        sa.Column("instruction", sa.LargeBinary(), nullable=False),
        sa.Column("not_after", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["portal_device.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_portal_instruction_device_id"), "portal_instruction", ["device_id"], unique=False
    )
    op.create_table(
        "portal_nonce",
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["portal_device.id"],
        ),
        sa.PrimaryKeyConstraint("value"),
    )
    op.create_index(op.f("ix_portal_nonce_device_id"), "portal_nonce", ["device_id"], unique=False)
    op.create_table(
        "portal_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("topic", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["portal_device.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_portal_outbox_device_id"), "portal_outbox", ["device_id"], unique=False
    )
    op.create_index(
        "ix_portal_outbox_due", "portal_outbox", ["delivered_at", "next_attempt_at"], unique=False
    )
    op.create_table(
        "portal_application",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=False),
        sa.Column("card_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("terms_version", sa.String(length=32), nullable=False),
        sa.Column("revoke_other_consent", sa.Boolean(), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("failure_code", sa.String(length=64), nullable=True),
        sa.Column("cms_der", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"],
            ["portal_card.id"],
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["portal_device.id"],
        ),
        sa.ForeignKeyConstraint(
            ["nonce"],
            ["portal_nonce.value"],
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["portal_person.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("nonce"),
    )
    op.create_index(
        op.f("ix_portal_application_device_id"), "portal_application", ["device_id"], unique=False
    )
    op.create_index(
        op.f("ix_portal_application_person_id"), "portal_application", ["person_id"], unique=False
    )
    op.create_index(
        "uq_portal_application_open",
        "portal_application",
        ["person_id"],
        unique=True,
        sqlite_where=sa.text("status = 'accepted'"),
        postgresql_where=sa.text("status = 'accepted'"),
    )
    op.create_table(
        "portal_application_item",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("application_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("spki_der", sa.LargeBinary(), nullable=False),
        sa.Column("cert_serial", sa.String(length=48), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("install_challenge", sa.String(length=64), nullable=False),
        sa.Column("installed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["portal_application.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_portal_application_item_application_id"),
        "portal_application_item",
        ["application_id"],
        unique=False,
    )
    op.create_table(
        "portal_job",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("application_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("run_after", sa.DateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["portal_application.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_portal_job_due", "portal_job", ["status", "run_after"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_portal_job_due", table_name="portal_job")
    op.drop_table("portal_job")
    op.drop_index(
        op.f("ix_portal_application_item_application_id"), table_name="portal_application_item"
    )
    op.drop_table("portal_application_item")
    op.drop_index(
        "uq_portal_application_open",
        table_name="portal_application",
        sqlite_where=sa.text("status = 'accepted'"),
        postgresql_where=sa.text("status = 'accepted'"),
    )
    op.drop_index(op.f("ix_portal_application_person_id"), table_name="portal_application")
    op.drop_index(op.f("ix_portal_application_device_id"), table_name="portal_application")
    op.drop_table("portal_application")
    op.drop_index("ix_portal_outbox_due", table_name="portal_outbox")
    op.drop_index(op.f("ix_portal_outbox_device_id"), table_name="portal_outbox")
    op.drop_table("portal_outbox")
    op.drop_index(op.f("ix_portal_nonce_device_id"), table_name="portal_nonce")
    op.drop_table("portal_nonce")
    op.drop_index(op.f("ix_portal_instruction_device_id"), table_name="portal_instruction")
    op.drop_table("portal_instruction")
    op.drop_index(
        "uq_portal_device_holder",
        table_name="portal_device",
        sqlite_where=sa.text("holder"),
        postgresql_where=sa.text("holder"),
    )
    op.drop_index(op.f("ix_portal_device_person_id"), table_name="portal_device")
    op.drop_index(op.f("ix_portal_device_element_serial"), table_name="portal_device")
    op.drop_table("portal_device")
    op.drop_index(op.f("ix_portal_card_sign_serial"), table_name="portal_card")
    op.drop_index(op.f("ix_portal_card_person_id"), table_name="portal_card")
    op.drop_index(op.f("ix_portal_card_auth_serial"), table_name="portal_card")
    op.drop_table("portal_card")
    op.drop_table("portal_rate")
    op.drop_table("portal_person")
    op.drop_table("portal_api_key")
