"""Stored CRL entries (``certificate.crl_entry``): written in the transaction of every status
change, cleared on release, and concatenated into full CRLs that are byte for byte the CRL the
encoder makes from the certificates' columns; rows without one (written before migration 0003)
are still published."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from cryptography import x509
from sqlalchemy import select, update

from mobile_jpki.clock import FixedClock
from mobile_jpki.pki import crl as crlmod
from mobile_jpki.pki.revocation import Reason, RevokedEntry
from mobile_jpki.service.ca import CertificateAuthority, CertificateInfo, IssueOrder
from mobile_jpki.store.models import Certificate, CertRecordStatus, CrlState, serial_hex

Order = Callable[..., IssueOrder]
CA_ID = "auth-1"


def stored_entry(ca: CertificateAuthority, serial: int) -> bytes | None:
    with ca.db.transaction(write=False) as s:
        return s.scalar(
            select(Certificate.crl_entry).where(Certificate.serial == serial_hex(serial))
        )


def from_columns(info: CertificateInfo) -> RevokedEntry:
    assert info.revoked_at is not None
    held = info.status is CertRecordStatus.HELD
    reason = Reason.CERTIFICATE_HOLD if held else info.reason
    return RevokedEntry(info.serial, info.revoked_at, reason, info.invalidity_date)


def assert_full_crl_is_the_columns(ca: CertificateAuthority, shard: int, now: dt.datetime) -> int:
    """The published full CRL equals build_crl over the certificates' columns, in its order."""
    der = ca.crl(CA_ID, shard, now)
    parsed = x509.load_der_x509_crl(der)
    entries = [from_columns(ca.status(r.serial_number)) for r in parsed]
    expected = crlmod.build_crl(
        issuer=ca.identity(CA_ID),
        urls=ca.urls,
        entries=entries,
        crl_number=parsed.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number,
        this_update=now,
        next_update=now + ca.settings.crl_validity,
        scope=crlmod.CrlScope.full(shard),
    )
    assert der == expected
    return len(entries)


def test_each_status_change_stores_its_entry(
    ca: CertificateAuthority, clock: FixedClock, order: Order
) -> None:
    a, b, c = (ca.issue(order(clock.now(), f"S{i}"), clock.now()) for i in range(3))
    assert stored_entry(ca, a.serial) is None  # good: no entry

    held = ca.hold(a.serial, clock.now())
    assert stored_entry(ca, a.serial) == crlmod.encode_entry(
        a.serial, clock.now(), Reason.CERTIFICATE_HOLD
    )
    # hold -> revoke keeps the hold date as revocationDate, with the final reason.
    later = clock.advance(dt.timedelta(hours=1))
    ca.revoke(a.serial, Reason.KEY_COMPROMISE, later, invalidity_date=later - dt.timedelta(days=2))
    assert held.revoked_at is not None
    assert stored_entry(ca, a.serial) == crlmod.encode_entry(
        a.serial, held.revoked_at, Reason.KEY_COMPROMISE, later - dt.timedelta(days=2)
    )

    ca.revoke(b.serial, Reason.UNSPECIFIED, later)
    assert stored_entry(ca, b.serial) == crlmod.encode_entry(b.serial, later, None)

    ca.hold(c.serial, later)
    assert stored_entry(ca, c.serial) is not None
    ca.release_hold(c.serial, clock.advance(dt.timedelta(minutes=1)))
    assert stored_entry(ca, c.serial) is None  # released: off the next full CRL


def test_full_crls_are_the_stored_entries_byte_for_byte(
    ca: CertificateAuthority, clock: FixedClock, order: Order
) -> None:
    reasons = [Reason.AFFILIATION_CHANGED, Reason.SUPERSEDED, Reason.KEY_COMPROMISE, None]
    infos = [ca.issue(order(clock.now(), f"T{i}"), clock.now()) for i in range(12)]
    for i, info in enumerate(infos):
        now = clock.advance(dt.timedelta(minutes=7))
        if i % 4 == 3:
            ca.hold(info.serial, now)
        elif i % 5 != 4:
            ca.revoke(info.serial, reasons[i % 4] or Reason.UNSPECIFIED, now)
    ca.release_hold(infos[3].serial, clock.advance(dt.timedelta(minutes=1)))
    now = clock.advance(dt.timedelta(minutes=1))
    listed = sum(assert_full_crl_is_the_columns(ca, k, now) for k in range(4))
    assert listed == 12 - 1 - 2  # every held or revoked one, once; not the release or the good


def test_rows_without_a_stored_entry_are_encoded_from_columns(
    ca: CertificateAuthority, clock: FixedClock, order: Order
) -> None:
    """A data directory revoked before migration 0003 (crl_entry NULL) publishes the same CRL."""
    infos = [ca.issue(order(clock.now(), f"U{i}"), clock.now()) for i in range(6)]
    for info in infos:
        ca.revoke(
            info.serial, Reason.CESSATION_OF_OPERATION, clock.advance(dt.timedelta(seconds=1))
        )
    now = clock.advance(dt.timedelta(minutes=1))
    before = {k: ca.crl(CA_ID, k, now) for k in range(4)}
    with ca.db.transaction() as s:
        s.execute(
            update(Certificate)
            .where(Certificate.serial.in_([serial_hex(i.serial) for i in infos[::2]]))
            .values(crl_entry=None)
        )
        s.execute(update(CrlState).values(full_dirty=True))
    later = clock.advance(dt.timedelta(minutes=1))
    for k in range(4):
        assert_full_crl_is_the_columns(ca, k, later)
        old = {r.serial_number for r in x509.load_der_x509_crl(before[k])}
        new = {r.serial_number for r in x509.load_der_x509_crl(ca.crl(CA_ID, k, later))}
        assert new == old


def test_expired_certificates_leave_the_crl(
    ca: CertificateAuthority, clock: FixedClock, order: Order
) -> None:
    info = ca.issue(order(clock.now()), clock.now())
    ca.revoke(info.serial, Reason.SUPERSEDED, clock.now())
    assert (
        x509.load_der_x509_crl(
            ca.crl(CA_ID, info.shard, clock.now())
        ).get_revoked_certificate_by_serial_number(info.serial)
        is not None
    )
    after_expiry = info.not_after + dt.timedelta(seconds=1)
    full = x509.load_der_x509_crl(ca.crl(CA_ID, info.shard, after_expiry))
    # RFC 5280 §5.3: an entry may go once the certificate has expired.
    assert full.get_revoked_certificate_by_serial_number(info.serial) is None


def test_a_revocation_does_not_rewrite_the_published_crl(
    ca: CertificateAuthority, clock: FixedClock, order: Order
) -> None:
    """The CRL's DER is stored apart from the state row every status change marks dirty (a
    file beside a SQLite database, the crl_document table on PostgreSQL); the dirty shard is
    republished on the next request, and the stored DER is what was served."""
    info = ca.issue(order(clock.now()), clock.now())
    first = ca.crl(CA_ID, info.shard, clock.now())
    assert ca.crl(CA_ID, info.shard, clock.now()) == first  # read back as stored
    ca.revoke(info.serial, Reason.SUPERSEDED, clock.advance(dt.timedelta(minutes=1)))
    with ca.db.transaction(write=False) as s:
        state = s.get(CrlState, (CA_ID, info.shard))
        assert state is not None and state.full_dirty and state.full_number is not None
        stored = ca.crl_documents.get(s, CA_ID, info.shard, "full", state.full_number)
    assert stored == first
    second = ca.crl(CA_ID, info.shard, clock.now())
    assert x509.load_der_x509_crl(second).get_revoked_certificate_by_serial_number(info.serial)
    assert ca.crl(CA_ID, info.shard, clock.now()) == second
