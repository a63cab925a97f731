"""The CA's revoke_many changes certificate rows in Core: a copy the portal's session loaded
before must be read afresh afterwards, never flushed back stale (revoke_from_phone decides
whether a device is still a holder from such copies)."""

from __future__ import annotations

from portal_world import World

from mobile_jpki.pki.revocation import Reason
from mobile_jpki.store.models import Certificate, CertRecordStatus, serial_hex


def test_a_row_loaded_before_revoke_many_is_read_afresh(world: World) -> None:
    _, _, card = world.resident()
    phone = world.new_phone("p")
    assert phone.device_id is not None
    world.apply_for_auth(phone, card)
    world.work()
    (state,) = world.service.certificate_states(phone.device_id)
    now = world.clock.now()
    with world.db.transaction() as s:
        row = s.get(Certificate, serial_hex(state.serial))
        assert row is not None and row.status == CertRecordStatus.GOOD.value
        world.ca.revoke_many([state.serial], Reason.SUPERSEDED, now, session=s)
        assert (row.status, row.reason, row.revoked_at) == (
            CertRecordStatus.REVOKED.value,
            int(Reason.SUPERSEDED),
            now,
        )
    info = world.ca.status(state.serial)
    assert (info.status, info.reason) == (CertRecordStatus.REVOKED, Reason.SUPERSEDED)
