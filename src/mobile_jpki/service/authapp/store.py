"""The twin's reads of the CA's tables (which person a certificate was issued to)."""

from __future__ import annotations

from sqlalchemy import select

from mobile_jpki.store.db import Database
from mobile_jpki.store.models import Certificate, serial_hex


def certificate_holder(db: Database, serial: int) -> str | None:
    """The portal's person id recorded with the certificate at issuance, else ``None``."""
    with db.transaction(write=False) as s:
        return s.scalar(
            select(Certificate.person_id).where(Certificate.serial == serial_hex(serial))
        )
