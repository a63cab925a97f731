from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from rp_pki import FACTS, T0, URLS, TestPki

from mobile_jpki.pki import ocsp as pocsp
from mobile_jpki.pki.model import CertKind, Hierarchy
from mobile_jpki.pki.revocation import Reason
from mobile_jpki.verify.certificate import (
    Failure,
    RevocationCheck,
    TrustAnchors,
    Usage,
    jlis_anchors,
    verify_certificate,
)
from mobile_jpki.verify.fetch import FakeFetcher
from mobile_jpki.verify.revocation_model import FailMode, RevocationPolicy, RevocationStatus

HOUR = dt.timedelta(hours=1)


def anchors(tpki: TestPki) -> TrustAnchors:
    return TrustAnchors((tpki.root(Hierarchy.SIGN), tpki.root(Hierarchy.AUTH)))


def online(tpki: TestPki, issued, **kw) -> RevocationCheck:  # type: ignore[no-untyped-def]
    url = URLS.ocsp(issued.ca.hierarchy)
    return RevocationCheck(FakeFetcher(ocsp={url: tpki.ocsp_handler(issued, **kw)}))


def test_valid_phone_signing_certificate_with_facts(tpki: TestPki) -> None:
    phone = tpki.issue(CertKind.PHONE_SIGN, 401)
    v = verify_certificate(
        phone.cert,
        anchors=anchors(tpki),
        now=T0,
        usage=Usage.SIGNING,
        revocation=online(tpki, phone),
    )
    assert v.valid, v.summary()
    assert v.kind is CertKind.PHONE_SIGN
    assert v.facts == FACTS
    assert v.revocation is not None and v.revocation.status is RevocationStatus.GOOD
    assert v.subject_id == "SUBJ00000401"


def test_card_auth_has_no_facts_and_is_not_for_signing(tpki: TestPki) -> None:
    card = tpki.issue(CertKind.CARD_AUTH, 402)
    ok = verify_certificate(card.cert, anchors=anchors(tpki), now=T0, usage=Usage.AUTHENTICATION)
    assert ok.valid and ok.kind is CertKind.CARD_AUTH and ok.facts is None
    assert "revocation not checked" in ok.warnings
    bad = verify_certificate(card.cert, anchors=anchors(tpki), now=T0, usage=Usage.SIGNING)
    assert Failure.WRONG_USAGE in bad.failures


def test_expect_phone_only(tpki: TestPki) -> None:
    card = tpki.issue(CertKind.CARD_SIGN, 403)
    v = verify_certificate(card.cert, anchors=anchors(tpki), now=T0, expect=[CertKind.PHONE_SIGN])
    assert v.failures == (Failure.WRONG_USAGE,)


def test_expired_and_not_yet_valid(tpki: TestPki) -> None:
    phone = tpki.issue(CertKind.PHONE_AUTH, 404)
    late = verify_certificate(phone.cert, anchors=anchors(tpki), now=T0 + dt.timedelta(days=400))
    assert late.failures == (Failure.EXPIRED,)
    early = verify_certificate(phone.cert, anchors=anchors(tpki), now=T0 - dt.timedelta(days=40))
    assert early.failures == (Failure.NOT_YET_VALID,)


def test_untrusted_issuer_other_generation_and_jlis(tpki: TestPki) -> None:
    gen2 = tpki.issue(CertKind.PHONE_SIGN, 405, generation=2)
    v = verify_certificate(gen2.cert, anchors=anchors(tpki), now=T0)
    assert v.failures == (Failure.UNTRUSTED_ISSUER,)
    ours = tpki.issue(CertKind.CARD_SIGN, 406)
    jlis = jlis_anchors()
    assert len(jlis.certificates) == 4
    assert verify_certificate(ours.cert, anchors=jlis, now=T0).failures[0] in (
        Failure.UNTRUSTED_ISSUER,
    )


def test_bad_signature(tpki: TestPki) -> None:
    phone = tpki.issue(CertKind.PHONE_SIGN, 407)
    der = bytearray(phone.cert.public_bytes(serialization.Encoding.DER))
    der[-1] ^= 0x01
    forged = x509.load_der_x509_certificate(bytes(der))
    v = verify_certificate(forged, anchors=anchors(tpki), now=T0)
    assert v.failures == (Failure.BAD_SIGNATURE,)


def test_revoked_superseded_held_unknown(tpki: TestPki) -> None:
    old = tpki.issue(CertKind.PHONE_SIGN, 408)
    revoked = verify_certificate(
        old.cert,
        anchors=anchors(tpki),
        now=T0,
        revocation=online(
            tpki,
            old,
            status=pocsp.CertStatus.REVOKED,
            revoked_at=T0 - HOUR,
            reason=Reason.SUPERSEDED,
        ),
    )
    assert revoked.failures == (Failure.REVOKED,)
    assert "superseded" in revoked.problems[0].message
    assert revoked.revocation is not None and revoked.revocation.revoked_at == T0 - HOUR
    # The same certificate, as of a time before the revocation (e.g. a time-stamped signature).
    before = verify_certificate(
        old.cert,
        anchors=anchors(tpki),
        now=T0,
        at=T0 - 2 * HOUR,
        revocation=online(
            tpki,
            old,
            status=pocsp.CertStatus.REVOKED,
            revoked_at=T0 - HOUR,
            reason=Reason.SUPERSEDED,
        ),
    )
    assert before.valid, before.summary()
    held = verify_certificate(
        old.cert,
        anchors=anchors(tpki),
        now=T0,
        revocation=online(
            tpki,
            old,
            status=pocsp.CertStatus.REVOKED,
            revoked_at=T0 - HOUR,
            reason=Reason.CERTIFICATE_HOLD,
        ),
    )
    assert held.failures == (Failure.HELD,)
    unknown = verify_certificate(
        old.cert,
        anchors=anchors(tpki),
        now=T0,
        revocation=online(tpki, old, status=pocsp.CertStatus.UNKNOWN),
    )
    assert unknown.failures == (Failure.UNKNOWN_TO_RESPONDER,)


def test_revocation_unavailable_hard_and_soft(tpki: TestPki) -> None:
    phone = tpki.issue(CertKind.PHONE_AUTH, 409)
    hard = verify_certificate(
        phone.cert, anchors=anchors(tpki), now=T0, revocation=RevocationCheck(FakeFetcher())
    )
    assert hard.failures == (Failure.REVOCATION_UNAVAILABLE,)
    soft = verify_certificate(
        phone.cert,
        anchors=anchors(tpki),
        now=T0,
        revocation=RevocationCheck(FakeFetcher(), policy=RevocationPolicy(fail=FailMode.SOFT)),
    )
    assert soft.valid and any("soft fail" in w for w in soft.warnings)
