from __future__ import annotations

import dataclasses
import datetime as dt

from rp_pki import T0, URLS, SignOnlyKey, TestPki

from mobile_jpki.pki import ocsp as pocsp
from mobile_jpki.pki.model import CertKind, Hierarchy
from mobile_jpki.pki.revocation import Reason
from mobile_jpki.signing.login import LoginAssertion, new_challenge, sign_login
from mobile_jpki.verify.certificate import Failure, RevocationCheck, TrustAnchors
from mobile_jpki.verify.fetch import FakeFetcher
from mobile_jpki.verify.login import LoginFailure, MemoryNonceStore, verify_login

RP = "https://bank.example/jpki"


def setup(tpki: TestPki, serial: int, **ocsp_kw: object):  # type: ignore[no-untyped-def]
    phone = tpki.issue(CertKind.PHONE_AUTH, serial)
    store = MemoryNonceStore()
    challenge = new_challenge(RP, now=T0)
    store.remember(challenge)
    fetcher = FakeFetcher(ocsp={URLS.ocsp(Hierarchy.AUTH): tpki.ocsp_handler(phone, **ocsp_kw)})
    kw = {
        "audience": RP,
        "nonce_store": store,
        "anchors": TrustAnchors((tpki.root(Hierarchy.AUTH),)),
        "now": T0 + dt.timedelta(seconds=30),
        "revocation": RevocationCheck(fetcher),
    }
    return phone, challenge, kw


def test_login_then_replay(tpki: TestPki) -> None:
    phone, challenge, kw = setup(tpki, 701)
    assertion = LoginAssertion.from_json(
        sign_login(challenge, SignOnlyKey(phone.key), phone.cert).to_json()
    )
    ok = verify_login(assertion, **kw)
    assert ok.valid, ok.message
    assert ok.subject_id == "SUBJ00000701" and ok.serial == 701 and ok.kind is CertKind.PHONE_AUTH
    again = verify_login(assertion, **kw)
    assert again.failure is LoginFailure.UNKNOWN_CHALLENGE


def test_wrong_audience_expired_altered(tpki: TestPki) -> None:
    phone, challenge, kw = setup(tpki, 702)
    a = sign_login(challenge, phone.key, phone.cert)
    assert verify_login(a, **{**kw, "audience": "https://other"}).failure is (
        LoginFailure.WRONG_AUDIENCE
    )
    phone, challenge, kw = setup(tpki, 703)
    a = sign_login(challenge, phone.key, phone.cert)
    late = {**kw, "now": T0 + dt.timedelta(minutes=5)}
    assert verify_login(a, **late).failure is LoginFailure.EXPIRED_CHALLENGE
    phone, challenge, kw = setup(tpki, 704)
    a = sign_login(challenge, phone.key, phone.cert)
    altered = dataclasses.replace(
        a, challenge=dataclasses.replace(challenge, expires_at=T0 + dt.timedelta(hours=1))
    )
    assert verify_login(altered, **kw).failure is LoginFailure.CHALLENGE_MISMATCH


def test_bad_signature_and_signing_cert(tpki: TestPki) -> None:
    phone, challenge, kw = setup(tpki, 705)
    other = tpki.issue(CertKind.PHONE_AUTH, 706)
    a = sign_login(challenge, other.key, phone.cert)  # someone else's key
    assert verify_login(a, **kw).failure is LoginFailure.BAD_SIGNATURE
    sign = tpki.issue(CertKind.PHONE_SIGN, 707)
    _, challenge, kw = setup(tpki, 708)
    kw["anchors"] = TrustAnchors((tpki.root(Hierarchy.AUTH), tpki.root(Hierarchy.SIGN)))
    res = verify_login(sign_login(challenge, sign.key, sign.cert), **kw)
    assert res.failure is LoginFailure.CERTIFICATE
    assert res.certificate is not None and Failure.WRONG_USAGE in res.certificate.failures


def test_held_phone_cannot_log_in(tpki: TestPki) -> None:
    phone, challenge, kw = setup(
        tpki, 709, status=pocsp.CertStatus.REVOKED, revoked_at=T0, reason=Reason.CERTIFICATE_HOLD
    )
    res = verify_login(sign_login(challenge, phone.key, phone.cert), **kw)
    assert res.failure is LoginFailure.CERTIFICATE
    assert res.certificate is not None and res.certificate.failures == (Failure.HELD,)
