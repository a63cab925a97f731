"""Keys every host shares, recorded once; refused instructions reported by the phone

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08

``shared_key``: the portal's instruction key, the card-issuer key, the emulated manufacturer
and the TSA, made once by ``mobile-jpki ca init`` and recorded here: the SHA-256 of the public
key (SubjectPublicKeyInfo, DER) every process compares its own key with at start-up, the
certificate when there is one, and the private key sealed (encrypted PKCS#8, RFC 5958, with
the CA passphrase) so ``mobile-jpki ca join`` can give a new host the same keys (issue 19;
docs/deploy.md). Trusted manufacturer roots are rows with a certificate and no key.

``portal_instruction.refused_*``: the element answered an error status word to an instruction
(ISO 7816-4 §5.6, e.g. 69 82 for a signature it does not accept) and the phone said so.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shared_key",
        sa.Column("name", sa.String(80), primary_key=True),
        sa.Column("spki_sha256", sa.String(64), nullable=False),
        sa.Column("certificate_der", sa.LargeBinary(), nullable=True),
        sa.Column("sealed", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    with op.batch_alter_table("portal_instruction") as batch:
        batch.add_column(sa.Column("refused_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("refused_sw", sa.String(4), nullable=True))
        batch.add_column(sa.Column("refused_reason", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("portal_instruction") as batch:
        batch.drop_column("refused_reason")
        batch.drop_column("refused_sw")
        batch.drop_column("refused_at")
    op.drop_table("shared_key")
