"""The tables the repository's Core statements are written over, and the locking helper."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table

from mobile_jpki.store.models import Certificate
from mobile_jpki.store.portal import (
    Application,
    ApplicationItem,
    Card,
    Device,
    DeviceInstruction,
    Job,
    Nonce,
    OutboxMessage,
    Person,
    RateCounter,
)

CERT = cast(Table, Certificate.__table__)
PERSON = cast(Table, Person.__table__)
CARD = cast(Table, Card.__table__)
DEVICE = cast(Table, Device.__table__)
NONCE = cast(Table, Nonce.__table__)
APP = cast(Table, Application.__table__)
ITEM = cast(Table, ApplicationItem.__table__)
JOB = cast(Table, Job.__table__)
INSTRUCTION = cast(Table, DeviceInstruction.__table__)
OUTBOX = cast(Table, OutboxMessage.__table__)
RATE = cast(Table, RateCounter.__table__)


def both(stmt: Any) -> dict[bool, Any]:
    """{is_sqlite: statement}: without and with FOR UPDATE (the package docstring says why)."""
    return {True: stmt, False: stmt.with_for_update()}
