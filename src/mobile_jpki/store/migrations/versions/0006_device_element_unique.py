"""One device per secure element

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27

Enrolment made a new device row every time, so one public attestation certificate enrolled
20 times gave 21 rows (issue 16 §5). Enrolment now finds the element's device, and the index
on ``portal_device.element_serial`` becomes unique. Duplicates left by the old code are folded
first: of an element's rows, those that never applied (no application row) and do not hold
certificates are deleted with their unused nonces and push messages, keeping the element's
applied row or, if none applied, its newest. Two applied rows of one element (the old way to
recover a lost credential) cannot be folded safely: the migration stops and names them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _fold_duplicates() -> None:
    conn = op.get_bind()
    serials = conn.execute(
        sa.text(
            "SELECT element_serial FROM portal_device GROUP BY element_serial HAVING COUNT(*) > 1"
        )
    ).scalars()
    for serial in list(serials):
        rows = conn.execute(
            sa.text(
                "SELECT d.id, d.holder, EXISTS (SELECT 1 FROM portal_application a"
                " WHERE a.device_id = d.id) AS applied FROM portal_device d"
                " WHERE d.element_serial = :serial ORDER BY d.created_at DESC, d.id"
            ),
            {"serial": serial},
        ).all()
        used = [r.id for r in rows if r.applied or r.holder]
        if len(used) > 1:
            raise RuntimeError(
                f"element {serial} has several devices that applied ({', '.join(used)}): "
                "fold them by hand before upgrading (docs/portal.md, Abuse limits)"
            )
        keep = used[0] if used else rows[0].id
        for row in rows:
            if row.id == keep:
                continue
            params = {"device": row.id}
            # An unused device has no application, hence no used nonce and no instruction
            # (instructions go to holders); its unused nonces and push messages go with it.
            for statement in (
                "DELETE FROM portal_nonce WHERE device_id = :device",
                "DELETE FROM portal_outbox WHERE device_id = :device",
                "DELETE FROM portal_instruction WHERE device_id = :device",
                "DELETE FROM portal_device WHERE id = :device",
            ):
                conn.execute(sa.text(statement), params)


def upgrade() -> None:
    _fold_duplicates()
    op.drop_index(op.f("ix_portal_device_element_serial"), table_name="portal_device")
    op.create_index(
        op.f("ix_portal_device_element_serial"), "portal_device", ["element_serial"], unique=True
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_portal_device_element_serial"), table_name="portal_device")
    op.create_index(
        op.f("ix_portal_device_element_serial"), "portal_device", ["element_serial"], unique=False
    )
