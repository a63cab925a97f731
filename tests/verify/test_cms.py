from __future__ import annotations

import datetime as dt

import pytest
from rp_pki import T0, URLS, TestPki

from mobile_jpki.clock import FixedClock
from mobile_jpki.pki import ocsp as pocsp
from mobile_jpki.pki.model import CertKind, Hierarchy
from mobile_jpki.pki.revocation import Reason
from mobile_jpki.signing.cms import sign_cms
from mobile_jpki.signing.timestamp import LocalTimestamper
from mobile_jpki.verify.certificate import Failure, RevocationCheck, TrustAnchors
from mobile_jpki.verify.cms import verify_cms
from mobile_jpki.verify.errors import MalformedInput
from mobile_jpki.verify.fetch import FakeFetcher

HOUR = dt.timedelta(hours=1)


def sign_anchors(tpki: TestPki) -> TrustAnchors:
    return TrustAnchors((tpki.root(Hierarchy.SIGN),))


def test_tampered_content(tpki: TestPki) -> None:
    phone = tpki.issue(CertKind.PHONE_SIGN, 601)
    sig = sign_cms(b"pay 100", phone.key, phone.cert, signing_time=T0)
    v = verify_cms(b"pay 900", sig, anchors=sign_anchors(tpki), now=T0)
    assert not v.valid
    assert [p.failure for p in v.problems] == [Failure.BAD_SIGNATURE]
    assert "content" in v.problems[0].message


def test_signer_certificate_swapped(tpki: TestPki) -> None:
    # Same key, another certificate: the ESS signing-certificate-v2 attribute catches it.
    a = tpki.issue(CertKind.PHONE_SIGN, 602, key_index=30)
    b = tpki.issue(CertKind.PHONE_SIGN, 603, key_index=30)
    sig = sign_cms(b"x", a.key, a.cert, signing_time=T0)
    from asn1crypto import cms
    from cryptography.hazmat.primitives import serialization

    info = cms.ContentInfo.load(sig)
    signed = info["content"]
    signed["certificates"] = [
        cms.CertificateChoices(
            name="certificate",
            value=cms.Certificate.load(b.cert.public_bytes(serialization.Encoding.DER)),
        )
    ]
    sid = signed["signer_infos"][0]["sid"].chosen
    sid["serial_number"] = 603
    v = verify_cms(b"x", info.dump(force=True), anchors=sign_anchors(tpki), now=T0)
    assert any("signing-certificate-v2" in p.message for p in v.problems)


def test_auth_certificate_cannot_sign_documents(tpki: TestPki) -> None:
    auth = tpki.issue(CertKind.PHONE_AUTH, 604)
    sig = sign_cms(b"x", auth.key, auth.cert, signing_time=T0)
    anchors = TrustAnchors((tpki.root(Hierarchy.AUTH),))
    v = verify_cms(b"x", sig, anchors=anchors, now=T0)
    assert Failure.WRONG_USAGE in [p.failure for p in v.all_problems]


def test_untrusted_signer(tpki: TestPki) -> None:
    card = tpki.issue(CertKind.CARD_SIGN, 605)
    sig = sign_cms(b"x", card.key, card.cert, signing_time=T0)
    v = verify_cms(b"x", sig, anchors=TrustAnchors((tpki.root(Hierarchy.AUTH),)), now=T0)
    assert v.certificate is not None and Failure.UNTRUSTED_ISSUER in v.certificate.failures


def test_malformed_inputs(tpki: TestPki) -> None:
    card = tpki.issue(CertKind.CARD_SIGN, 606)
    with pytest.raises(MalformedInput):
        verify_cms(b"x", b"not cms", anchors=sign_anchors(tpki), now=T0)
    detached = sign_cms(b"x", card.key, card.cert, signing_time=T0)
    with pytest.raises(MalformedInput, match="needs the signed data"):
        verify_cms(None, detached, anchors=sign_anchors(tpki), now=T0)


def test_old_phone_after_model_change(tpki: TestPki) -> None:
    """Issue 6 done-when, CMS half: a signature by the old phone made after its model-change
    revocation is reported revoked with reason and time; one time-stamped before it validates
    as of its signing time."""
    old = tpki.issue(CertKind.PHONE_SIGN, 607)
    revoked_at = T0 - HOUR
    check = RevocationCheck(
        FakeFetcher(
            ocsp={
                URLS.ocsp(Hierarchy.SIGN): tpki.ocsp_handler(
                    old,
                    status=pocsp.CertStatus.REVOKED,
                    revoked_at=revoked_at,
                    reason=Reason.SUPERSEDED,
                )
            }
        )
    )
    signed_before = T0 - 3 * HOUR
    stamper = LocalTimestamper(tpki.tsa(), FixedClock(signed_before))
    early = sign_cms(b"doc", old.key, old.cert, signing_time=signed_before, timestamper=stamper)
    late = sign_cms(b"doc", old.key, old.cert, signing_time=T0)  # no proof of time

    ok = verify_cms(b"doc", early, anchors=sign_anchors(tpki), now=T0, revocation=check)
    assert ok.valid, ok.summary()
    assert ok.proven_time == signed_before
    assert ok.certificate is not None and ok.certificate.revocation is not None
    assert ok.certificate.revocation.revoked_at == revoked_at  # still reported

    bad = verify_cms(b"doc", late, anchors=sign_anchors(tpki), now=T0, revocation=check)
    assert not bad.valid
    assert bad.certificate is not None
    assert bad.certificate.failures == (Failure.REVOKED,)
    rev = bad.certificate.revocation
    assert rev is not None and rev.reason is Reason.SUPERSEDED and rev.revoked_at == revoked_at
    assert "superseded" in bad.summary() and "2026-04-01T08:00:00Z" in bad.summary()


def test_time_stamp_over_other_data_is_refused(tpki: TestPki) -> None:
    phone = tpki.issue(CertKind.PHONE_SIGN, 608)

    class WrongStamper:
        def timestamp(self, digest: bytes, hash_algorithm: str = "sha256") -> bytes:
            return LocalTimestamper(tpki.tsa(), FixedClock(T0)).timestamp(b"\0" * 32)

    sig = sign_cms(b"x", phone.key, phone.cert, signing_time=T0, timestamper=WrongStamper())
    v = verify_cms(b"x", sig, anchors=sign_anchors(tpki), now=T0)
    assert not v.valid and "other data" in v.summary()


def test_embedded_ocsp_validates_offline_as_of_the_time_stamp(tpki: TestPki) -> None:
    """CAdES-LT-like: the signer carried the OCSP answer it got right after signing (RFC 5940);
    years later, offline, the old phone's signature still validates as of its time-stamp."""
    old = tpki.issue(CertKind.PHONE_SIGN, 609)
    signed_at = T0 - 3 * HOUR
    good_then = tpki.ocsp(old, now=signed_at + dt.timedelta(minutes=1))
    sig = sign_cms(
        b"doc",
        old.key,
        old.cert,
        signing_time=signed_at,
        timestamper=LocalTimestamper(tpki.tsa(), FixedClock(signed_at)),
        ocsp_responses=[good_then],
    )
    offline = RevocationCheck(None)
    later = T0 + dt.timedelta(days=2)  # the embedded answer's nextUpdate has long passed
    v = verify_cms(b"doc", sig, anchors=sign_anchors(tpki), now=later, revocation=offline)
    assert v.valid, v.summary()
    assert v.certificate is not None and v.certificate.revocation is not None
    assert v.certificate.revocation.evidence.ocsp_responses == (good_then,)
    # Without the time-stamp the same, now stale, evidence says nothing: unavailable.
    unstamped = sign_cms(
        b"doc", old.key, old.cert, signing_time=signed_at, ocsp_responses=[good_then]
    )
    v = verify_cms(b"doc", unstamped, anchors=sign_anchors(tpki), now=later, revocation=offline)
    assert v.certificate is not None
    assert v.certificate.failures == (Failure.REVOCATION_UNAVAILABLE,)
