"""The end of a sandbox session (the browser simulator, ``serve --simulator``): everything a
session minted is closed so no certificate of a fictitious resident stays good.

The simulator makes, per browser session, a resident, a card, two phones and an office API key
(web/portal_world.py). When the session expires or the server stops, this revokes every
certificate the session's person or phones hold (cessationOfOperation, RFC 5280 §5.3.1: the
subject's use of it ended — no key compromise is alleged), retires its phones (unfinished
applications superseded, no longer holders) and revokes its API key. The person row stays,
as it does for every resident: the portal has no operation that deletes one, and the audit
log refers to it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from mobile_jpki.pki.model import CertKind
from mobile_jpki.pki.revocation import Reason
from mobile_jpki.store.models import serial_hex

from . import repo as Q
from .context import Context, unrevoked

ACTOR = "simulator"
_ALL_KINDS = [k.value for k in CertKind]


def close_sandbox_session(
    ctx: Context,
    *,
    person_id: str | None,
    device_ids: Sequence[str],
    api_key_id: str | None,
    now: dt.datetime,
) -> list[int]:
    """Revoke what the session's ``person_id`` and ``device_ids`` hold, retire the devices and
    revoke ``api_key_id``; returns the serials revoked. Idempotent: a second call revokes
    nothing more (already revoked certificates are skipped)."""
    ctx.ready_ca(now)
    with ctx.db.transaction() as s:
        person = None if person_id is None else Q.locked_person(s, ctx.db.is_sqlite, person_id)
        serials = {int(c.serial, 16) for c in unrevoked(s, [], list(device_ids))}
        if person is not None:
            serials.update(
                int(c.serial, 16) for c in Q.unrevoked_person_certificates(s, person.id, _ALL_KINDS)
            )
        revoked = sorted(serials)
        # One batch: the rows locked once, answers and CRL entries written together.
        ctx.authority.revoke_many(
            revoked, Reason.CESSATION_OF_OPERATION, now, actor=ACTOR, session=s
        )
        Q.retire(s.connection(), list(device_ids), now)
        if api_key_id is not None:
            Q.revoke_api_key(s, api_key_id, now)
        ctx.audit.record(
            s,
            at=now,
            actor=ACTOR,
            action="portal.sandbox.close",
            obj=f"person:{person_id}" if person_id else "person:-",
            payload={
                "revoked": [serial_hex(x) for x in revoked],
                "devices": list(device_ids),
                "api_key": api_key_id,
            },
        )
    return revoked
