"""The デジタル認証アプリ twin: relying parties, keys, requests, tokens, jti, sign transactions

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08

Tables of :mod:`mobile_jpki.store.authapp` (issue 18; docs/auth-app.md).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "authapp_client",
        sa.Column("client_id", sa.String(255), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("redirect_uris", sa.Text(), nullable=False),
        sa.Column("jwks", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "authapp_key",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("alg", sa.String(16), nullable=False),
        sa.Column("private_pem", sa.LargeBinary(), nullable=False),
        sa.Column("sealed", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("retired_at", sa.DateTime(), nullable=True),
    )
    op.create_table(
        "authapp_secret",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "authapp_request",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("redirect_uri", sa.String(255), nullable=False),
        sa.Column("scope", sa.String(255), nullable=False),
        sa.Column("state", sa.String(255), nullable=False),
        sa.Column("nonce", sa.String(255), nullable=False),
        sa.Column("code_challenge", sa.String(128), nullable=False),
        sa.Column("acr_values", sa.String(255), nullable=True),
        sa.Column("sign_transaction_id", sa.String(36), nullable=True),
        sa.Column("challenge", sa.LargeBinary(), nullable=False),
        sa.Column("browser_hash", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.String(64), nullable=True),
        sa.Column("error_description", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("person_id", sa.String(64), nullable=True),
        sa.Column("sub", sa.String(64), nullable=True),
        sa.Column("auth_serial", sa.String(48), nullable=True),
        sa.Column("sign_serial", sa.String(48), nullable=True),
        sa.Column("facts", sa.Text(), nullable=True),
        sa.Column("code_hash", sa.String(64), nullable=True, unique=True),
        sa.Column("code_expires_at", sa.DateTime(), nullable=True),
        sa.Column("code_used_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_authapp_request_client_id", "authapp_request", ["client_id"])
    op.create_index("ix_authapp_request_expires_at", "authapp_request", ["expires_at"])
    op.create_table(
        "authapp_token",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("scope", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_authapp_token_client_id", "authapp_token", ["client_id"])
    op.create_index("ix_authapp_token_request_id", "authapp_token", ["request_id"])
    op.create_index("ix_authapp_token_expires_at", "authapp_token", ["expires_at"])
    op.create_table(
        "authapp_jti",
        sa.Column("client_id", sa.String(255), primary_key=True),
        sa.Column("jti", sa.String(255), primary_key=True),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_authapp_jti_expires_at", "authapp_jti", ["expires_at"])
    op.create_table(
        "authapp_sign_transaction",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("digest_type", sa.String(16), nullable=False),
        sa.Column("to_be_signed", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("signature", sa.LargeBinary(), nullable=True),
        sa.Column("certificate_der", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("signed_at", sa.DateTime(), nullable=True),
    )
    op.create_index(
        "ix_authapp_sign_transaction_client_id", "authapp_sign_transaction", ["client_id"]
    )
    op.create_index(
        "ix_authapp_sign_transaction_expires_at", "authapp_sign_transaction", ["expires_at"]
    )


def downgrade() -> None:
    for table in (
        "authapp_sign_transaction",
        "authapp_jti",
        "authapp_token",
        "authapp_request",
        "authapp_secret",
        "authapp_key",
        "authapp_client",
    ):
        op.drop_table(table)
