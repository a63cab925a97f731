"""CA use cases: issuance, the revocation state machine, OCSP consistency, CRL numbering."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from cryptography import x509
from sqlalchemy import select

from mobile_jpki.clock import FixedClock
from mobile_jpki.pki import ocsp
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.pki.revocation import Reason
from mobile_jpki.service.ca import (
    CertificateAuthority,
    InvalidRequest,
    InvalidTransition,
    IssueOrder,
    NotFound,
)
from mobile_jpki.store.models import CaGeneration, CertRecordStatus, OcspResponse

Order = Callable[..., IssueOrder]


def _request(
    ca: CertificateAuthority,
    serials: list[int],
    *,
    nonce: bytes | None = None,
    alg: ocsp.HashAlgorithm = ocsp.HashAlgorithm.SHA1,
    ca_id: str = "auth-1",
) -> bytes:
    from asn1crypto import core
    from asn1crypto import ocsp as aocsp

    _, name_hash, key_hash = ocsp.issuer_key(ca.identity(ca_id).certificate, alg)
    tbs: dict[str, object] = {
        "request_list": [
            {
                "req_cert": {
                    "hash_algorithm": {"algorithm": alg.value},
                    "issuer_name_hash": name_hash,
                    "issuer_key_hash": key_hash,
                    "serial_number": s,
                }
            }
            for s in serials
        ]
    }
    if nonce is not None:
        tbs["request_extensions"] = [
            {"extn_id": "nonce", "critical": False, "extn_value": core.OctetString(nonce)}
        ]
    return bytes(aocsp.OCSPRequest({"tbs_request": tbs}).dump())


def test_init_creates_both_hierarchies_with_responders(ca: CertificateAuthority) -> None:
    summaries = {s.ca_id: s for s in ca.cas()}
    assert set(summaries) == {"sign-1", "auth-1"}
    assert all(s.active for s in summaries.values())
    assert summaries["sign-1"].hierarchy is Hierarchy.SIGN


def test_init_is_idempotent(ca: CertificateAuthority, clock: FixedClock, order: Order) -> None:
    assert ca.init_hierarchies(clock.now()) == []


def test_issue_records_shard_and_presigned_good(
    ca: CertificateAuthority, clock: FixedClock, order: Order
) -> None:
    info = ca.issue(order(clock.now()), clock.now())
    cert = info.certificate
    assert info.status is CertRecordStatus.GOOD
    assert info.shard == info.serial % ca.settings.shard_count
    assert f"/crl/auth-1/{info.shard}.crl" in str(
        cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    )
    parsed = ocsp.parse_response(ca.ocsp_answer(_request(ca, [info.serial]), clock.now()).der)
    assert parsed.answers[0].status is ocsp.CertStatus.GOOD


def test_revocation_is_answered_immediately(
    ca: CertificateAuthority, clock: FixedClock, order: Order
) -> None:
    info = ca.issue(order(clock.now()), clock.now())
    req = _request(ca, [info.serial])
    before = ca.ocsp_answer(req, clock.now())
    assert before.cacheable
    clock.advance(dt.timedelta(minutes=5))
    ca.revoke(info.serial, Reason.KEY_COMPROMISE, clock.now())
    after = ocsp.parse_response(ca.ocsp_answer(req, clock.now()).der).answers[0]
    assert after.status is ocsp.CertStatus.REVOKED
    assert after.reason is Reason.KEY_COMPROMISE
    assert after.revoked_at == clock.now()


def test_hold_release_and_revoked_is_final(
    ca: CertificateAuthority, clock: FixedClock, order: Order
) -> None:
    info = ca.issue(order(clock.now()), clock.now())
    req = _request(ca, [info.serial])
    ca.hold(info.serial, clock.now())
    held = ocsp.parse_response(ca.ocsp_answer(req, clock.now()).der).answers[0]
    assert (held.status, held.reason) == (ocsp.CertStatus.REVOKED, Reason.CERTIFICATE_HOLD)
    with pytest.raises(InvalidTransition):
        ca.hold(info.serial, clock.now())
    ca.release_hold(info.serial, clock.now())
    assert ocsp.parse_response(ca.ocsp_answer(req, clock.now()).der).answers[0].status is (
        ocsp.CertStatus.GOOD
    )
    ca.hold(info.serial, clock.advance(dt.timedelta(hours=1)))
    hold_time = clock.now()
    revoked = ca.revoke(
        info.serial, Reason.AFFILIATION_CHANGED, clock.advance(dt.timedelta(hours=1))
    )
    # A hold that becomes a revocation keeps the hold date as revocationDate.
    assert revoked.revoked_at == hold_time
    for action in (ca.hold, ca.release_hold):
        with pytest.raises(InvalidTransition) as err:
            action(info.serial, clock.now())
        assert err.value.current is CertRecordStatus.REVOKED
    with pytest.raises(InvalidTransition):
        ca.revoke(info.serial, Reason.KEY_COMPROMISE, clock.now())


def test_hold_is_not_a_revocation_reason(
    ca: CertificateAuthority, clock: FixedClock, order: Order
) -> None:
    info = ca.issue(order(clock.now()), clock.now())
    with pytest.raises(InvalidRequest):
        ca.revoke(info.serial, Reason.CERTIFICATE_HOLD, clock.now())


def test_unknown_serial(ca: CertificateAuthority, clock: FixedClock, order: Order) -> None:
    with pytest.raises(NotFound):
        ca.revoke(0xDEAD, Reason.UNSPECIFIED, clock.now())
    answer = ocsp.parse_response(ca.ocsp_answer(_request(ca, [0xDEAD]), clock.now()).der)
    assert answer.answers[0].status is ocsp.CertStatus.UNKNOWN


def test_revoked_without_reason_is_answered(
    ca: CertificateAuthority, clock: FixedClock, order: Order
) -> None:
    info = ca.issue(order(clock.now()), clock.now())
    ca.revoke(info.serial, Reason.UNSPECIFIED, clock.now())
    single = ocsp.parse_response(ca.ocsp_answer(_request(ca, [info.serial]), clock.now()).der)
    assert single.answers[0].status is ocsp.CertStatus.REVOKED


def test_nonce_is_never_served_from_cache(
    ca: CertificateAuthority, clock: FixedClock, order: Order
) -> None:
    info = ca.issue(order(clock.now()), clock.now())
    a = ca.ocsp_answer(_request(ca, [info.serial], nonce=b"\x01" * 16), clock.now())
    b = ca.ocsp_answer(_request(ca, [info.serial], nonce=b"\x02" * 16), clock.now())
    assert not a.cacheable
    na, nb = ocsp.parse_response(a.der).nonce, ocsp.parse_response(b.der).nonce
    assert na is not None and na.endswith(b"\x01" * 16)
    assert nb is not None and nb.endswith(b"\x02" * 16)


def test_several_certificates_and_sha256(
    ca: CertificateAuthority, clock: FixedClock, order: Order
) -> None:
    good = ca.issue(order(clock.now()), clock.now())
    bad = ca.issue(order(clock.now(), "X2"), clock.now())
    ca.revoke(bad.serial, Reason.SUPERSEDED, clock.now())
    req = _request(ca, [good.serial, bad.serial, 7], alg=ocsp.HashAlgorithm.SHA256)
    answers = ocsp.parse_response(ca.ocsp_answer(req, clock.now()).der).answers
    assert [a.status for a in answers] == [
        ocsp.CertStatus.GOOD,
        ocsp.CertStatus.REVOKED,
        ocsp.CertStatus.UNKNOWN,
    ]
    assert answers[0].cert_id.hash_algorithm is ocsp.HashAlgorithm.SHA256


def test_wrong_hierarchy_and_foreign_issuer_are_unauthorized(
    ca: CertificateAuthority, clock: FixedClock, order: Order
) -> None:
    info = ca.issue(order(clock.now()), clock.now())
    req = _request(ca, [info.serial])
    assert ca.ocsp_answer(req, clock.now(), hierarchy=Hierarchy.SIGN).status is (
        ocsp.ResponseStatus.UNAUTHORIZED
    )
    mixed = _request(ca, [1], ca_id="sign-1")
    assert ca.ocsp_answer(mixed, clock.now(), hierarchy=Hierarchy.SIGN).status is (
        ocsp.ResponseStatus.SUCCESSFUL
    )
    assert ca.ocsp_answer(b"\x30\x03garbage", clock.now()).status is (
        ocsp.ResponseStatus.MALFORMED_REQUEST
    )


def test_stale_presigned_response_is_resigned(
    ca: CertificateAuthority, clock: FixedClock, order: Order
) -> None:
    info = ca.issue(order(clock.now()), clock.now())
    req = _request(ca, [info.serial])
    first = ca.ocsp_answer(req, clock.now())
    clock.advance(dt.timedelta(hours=13))  # past ocsp_refresh_before (12 h of 24 h left)
    second = ca.ocsp_answer(req, clock.now())
    assert second.this_update == clock.now() and second.der != first.der
    with ca.db.transaction(write=False) as s:
        stored = s.scalar(select(OcspResponse.this_update))
    assert stored == clock.now()


def test_crl_numbers_are_monotonic_and_shared(
    ca: CertificateAuthority, clock: FixedClock, order: Order
) -> None:
    info = ca.issue(order(clock.now()), clock.now())
    numbers = []
    full = x509.load_der_x509_crl(ca.crl("auth-1", info.shard, clock.now()))
    numbers.append(full.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number)
    # Unchanged shard: the cached CRL is served, no new number.
    assert ca.crl("auth-1", info.shard, clock.now()) == full.public_bytes(
        __import__(
            "cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]
        ).Encoding.DER
    )
    ca.hold(info.serial, clock.advance(dt.timedelta(minutes=1)))
    delta = x509.load_der_x509_crl(ca.crl("auth-1", info.shard, clock.now(), delta=True))
    numbers.append(delta.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number)
    assert (
        delta.extensions.get_extension_for_class(x509.DeltaCRLIndicator).value.crl_number
        == (numbers[0])
    )
    other = x509.load_der_x509_crl(ca.crl("auth-1", (info.shard + 1) % 4, clock.now()))
    numbers.append(other.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number)
    assert numbers == sorted(set(numbers))
    with ca.db.transaction(write=False) as s:
        assert s.get(CaGeneration, "auth-1").last_crl_number == numbers[-1]  # type: ignore[union-attr]


def test_release_appears_as_remove_from_crl(
    ca: CertificateAuthority, clock: FixedClock, order: Order
) -> None:
    info = ca.issue(order(clock.now()), clock.now())
    ca.hold(info.serial, clock.now())
    full = x509.load_der_x509_crl(ca.crl("auth-1", info.shard, clock.now()))
    entry = full.get_revoked_certificate_by_serial_number(info.serial)
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason is (
        x509.ReasonFlags.certificate_hold
    )
    ca.release_hold(info.serial, clock.advance(dt.timedelta(minutes=1)))
    delta = x509.load_der_x509_crl(ca.crl("auth-1", info.shard, clock.now(), delta=True))
    removed = delta.get_revoked_certificate_by_serial_number(info.serial)
    assert removed is not None
    assert removed.extensions.get_extension_for_class(x509.CRLReason).value.reason is (
        x509.ReasonFlags.remove_from_crl
    )
    # The next full CRL no longer lists it, and the delta starts over from that base.
    clock.advance(dt.timedelta(minutes=1))
    assert (
        x509.load_der_x509_crl(
            ca.crl("auth-1", info.shard, clock.now())
        ).get_revoked_certificate_by_serial_number(info.serial)
        is None
    )


def test_unknown_ca_and_shard(ca: CertificateAuthority, clock: FixedClock, order: Order) -> None:
    with pytest.raises(NotFound):
        ca.crl("auth-9", 0, clock.now())
    with pytest.raises(NotFound):
        ca.crl("auth-1", 99, clock.now())


def test_add_generation_keeps_old_answering(
    ca: CertificateAuthority, clock: FixedClock, order: Order
) -> None:
    old = ca.issue(order(clock.now()), clock.now())
    assert ca.add_generation(Hierarchy.AUTH, clock.now()) == "auth-2"
    new = ca.issue(order(clock.now()), clock.now())
    assert (old.ca_id, new.ca_id) == ("auth-1", "auth-2")
    ca.revoke(old.serial, Reason.SUPERSEDED, clock.now())
    answer = ocsp.parse_response(ca.ocsp_answer(_request(ca, [old.serial]), clock.now()).der)
    assert answer.answers[0].status is ocsp.CertStatus.REVOKED
    # Same DN, other key: a CertID naming auth-2 does not find auth-1's certificate.
    answer = ocsp.parse_response(
        ca.ocsp_answer(_request(ca, [old.serial], ca_id="auth-2"), clock.now()).der
    )
    assert answer.answers[0].status is ocsp.CertStatus.UNKNOWN


def test_responder_rollover(ca: CertificateAuthority, clock: FixedClock, order: Order) -> None:
    rid, responder = ca.ensure_responder("auth-1", clock.now())
    assert ca.ensure_responder("auth-1", clock.now())[0] == rid
    clock.advance(ca.settings.responder_validity - ca.settings.responder_rollover_before)
    new_rid, new_responder = ca.ensure_responder("auth-1", clock.now())
    assert new_rid != rid
    assert new_responder.certificate.serial_number != responder.certificate.serial_number


def test_every_change_is_audited(ca: CertificateAuthority, clock: FixedClock, order: Order) -> None:
    info = ca.issue(order(clock.now()), clock.now())
    ca.hold(info.serial, clock.now())
    ca.release_hold(info.serial, clock.now())
    ca.revoke(info.serial, Reason.KEY_COMPROMISE, clock.now())
    actions = [e.action for e in ca.audit.entries()]
    assert actions[-4:] == [
        "certificate.issue",
        "certificate.hold",
        "certificate.release",
        "certificate.revoke",
    ]
    assert ca.audit.verify().ok
