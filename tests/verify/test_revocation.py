from __future__ import annotations

import datetime as dt

import pytest
from rp_pki import T0, URLS, TestPki

from mobile_jpki.pki import ocsp as pocsp
from mobile_jpki.pki.model import CertKind, Hierarchy
from mobile_jpki.pki.revocation import Reason, RevokedEntry
from mobile_jpki.verify.crl_check import verify_crls
from mobile_jpki.verify.errors import RevocationCheckError
from mobile_jpki.verify.fetch import FakeFetcher
from mobile_jpki.verify.ocsp_check import build_ocsp_request, verify_ocsp_response
from mobile_jpki.verify.revocation import acceptable, check_embedded, check_revocation
from mobile_jpki.verify.revocation_model import (
    REASON_MEANING,
    Evidence,
    FailMode,
    RevocationPolicy,
    RevocationStatus,
    Source,
)

OCSP_SIGN = URLS.ocsp(Hierarchy.SIGN)
OCSP_AUTH = URLS.ocsp(Hierarchy.AUTH)
HOUR = dt.timedelta(hours=1)


def test_ocsp_good_with_echoed_nonce(tpki: TestPki) -> None:
    phone = tpki.issue(CertKind.PHONE_SIGN, 101)
    fetcher = FakeFetcher(ocsp={OCSP_SIGN: tpki.ocsp_handler(phone)})
    result = check_revocation(phone.cert, phone.ca.certificate, fetcher, now=T0)
    assert result.status is RevocationStatus.GOOD
    assert result.source is Source.OCSP
    assert result.evidence.ocsp_responses and not result.evidence.crls
    assert fetcher.calls == [OCSP_SIGN]


def test_ocsp_revoked_at_model_change_reports_reason_and_time(tpki: TestPki) -> None:
    old = tpki.issue(CertKind.PHONE_SIGN, 102)
    revoked_at = T0 - HOUR
    der = tpki.ocsp(
        old, status=pocsp.CertStatus.REVOKED, revoked_at=revoked_at, reason=Reason.SUPERSEDED
    )
    result = verify_ocsp_response(der, old.cert, old.ca.certificate, now=T0)
    assert result.status is RevocationStatus.REVOKED
    assert result.reason is Reason.SUPERSEDED
    assert result.reason_word == "superseded"
    assert result.revoked_at == revoked_at
    assert "機種変更" in result.describe()


def test_ocsp_revoked_after_time_of_interest_is_good_then(tpki: TestPki) -> None:
    old = tpki.issue(CertKind.PHONE_SIGN, 103)
    signed_at = T0 - 2 * HOUR
    der = tpki.ocsp(
        old, status=pocsp.CertStatus.REVOKED, revoked_at=T0 - HOUR, reason=Reason.SUPERSEDED
    )
    then = verify_ocsp_response(der, old.cert, old.ca.certificate, now=T0, at=signed_at)
    assert then.status is RevocationStatus.GOOD
    assert then.revoked_at == T0 - HOUR  # the later revocation is still reported
    # Said as what it means, not "good (superseded …)".
    assert then.revoked_later and then.checked_at == signed_at
    assert then.describe() == (
        f"valid at {signed_at:%Y-%m-%dT%H:%M:%SZ}; revoked later, at "
        f"{T0 - HOUR:%Y-%m-%dT%H:%M:%SZ} (superseded: {REASON_MEANING[4]}) [ocsp]"
    )
    assert then.describe(when="when signed").startswith("valid when signed; revoked later")
    before = verify_ocsp_response(der, old.cert, old.ca.certificate, now=T0, at=T0 - HOUR / 2)
    assert before.status is RevocationStatus.REVOKED


def test_historical_evidence_must_postdate_the_time_of_interest(tpki: TestPki) -> None:
    phone = tpki.issue(CertKind.PHONE_SIGN, 104)
    der = tpki.ocsp(phone, now=T0 - 3 * HOUR)
    with pytest.raises(RevocationCheckError, match="predates"):
        verify_ocsp_response(der, phone.cert, phone.ca.certificate, now=T0, at=T0 - HOUR)


def test_ocsp_hold_is_held(tpki: TestPki) -> None:
    card = tpki.issue(CertKind.CARD_AUTH, 105)
    der = tpki.ocsp(
        card,
        status=pocsp.CertStatus.REVOKED,
        revoked_at=T0 - HOUR,
        reason=Reason.CERTIFICATE_HOLD,
    )
    result = verify_ocsp_response(der, card.cert, card.ca.certificate, now=T0)
    assert result.status is RevocationStatus.HELD
    assert result.reason_word == "certificateHold"


def test_ocsp_unknown_and_absent_reason(tpki: TestPki) -> None:
    card = tpki.issue(CertKind.CARD_SIGN, 106)
    unknown = tpki.ocsp(card, status=pocsp.CertStatus.UNKNOWN)
    res = verify_ocsp_response(unknown, card.cert, card.ca.certificate, now=T0)
    assert res.status is RevocationStatus.UNKNOWN
    no_reason = tpki.ocsp(card, status=pocsp.CertStatus.REVOKED, revoked_at=T0 - HOUR)
    res = verify_ocsp_response(no_reason, card.cert, card.ca.certificate, now=T0)
    assert res.status is RevocationStatus.REVOKED
    assert res.reason is None and res.reason_word is None


def test_ocsp_wrong_nonce_refused(tpki: TestPki) -> None:
    phone = tpki.issue(CertKind.PHONE_AUTH, 107)
    der = tpki.ocsp(phone, nonce=b"\x04\x10" + b"s" * 16)  # a cached answer to someone else
    with pytest.raises(RevocationCheckError, match="another request's nonce"):
        verify_ocsp_response(der, phone.cert, phone.ca.certificate, now=T0, nonce=b"m" * 16)


def test_ocsp_missing_nonce_only_refused_when_required(tpki: TestPki) -> None:
    phone = tpki.issue(CertKind.PHONE_AUTH, 108)
    der = tpki.ocsp(phone)
    issuer = phone.ca.certificate
    ok = verify_ocsp_response(der, phone.cert, issuer, now=T0, nonce=b"n" * 16)
    assert ok.status is RevocationStatus.GOOD
    strict = RevocationPolicy(require_nonce=True)
    with pytest.raises(RevocationCheckError, match="does not echo"):
        verify_ocsp_response(der, phone.cert, issuer, now=T0, nonce=b"n" * 16, policy=strict)


def test_ocsp_stale_and_future_refused(tpki: TestPki) -> None:
    phone = tpki.issue(CertKind.PHONE_SIGN, 109)
    issuer = phone.ca.certificate
    stale = tpki.ocsp(phone, now=T0 - dt.timedelta(days=1), next_update=HOUR)
    with pytest.raises(RevocationCheckError, match="stale"):
        verify_ocsp_response(stale, phone.cert, issuer, now=T0)
    future = tpki.ocsp(phone, now=T0 + HOUR)
    with pytest.raises(RevocationCheckError, match="future"):
        verify_ocsp_response(future, phone.cert, issuer, now=T0)
    old = tpki.ocsp(phone, now=T0 - 3 * HOUR)
    capped = RevocationPolicy(max_age=HOUR)
    with pytest.raises(RevocationCheckError, match="older than"):
        verify_ocsp_response(old, phone.cert, issuer, now=T0, policy=capped)


def test_ocsp_signed_by_other_generation_refused(tpki: TestPki) -> None:
    phone = tpki.issue(CertKind.PHONE_SIGN, 110)
    gen2 = tpki.ca(Hierarchy.SIGN, 2)
    der = tpki.ocsp(phone, responder=tpki.responder(gen2))
    with pytest.raises(RevocationCheckError, match="not issued by"):
        verify_ocsp_response(der, phone.cert, phone.ca.certificate, now=T0)


def test_ocsp_tampered_signature_refused(tpki: TestPki) -> None:
    phone = tpki.issue(CertKind.PHONE_SIGN, 111)
    resp = tpki.ocsp(phone)
    sig_at = resp.index(bytes.fromhex("03820101"))  # the 2048-bit signature BIT STRING
    tampered = bytearray(resp)
    tampered[sig_at + 10] ^= 0x01
    with pytest.raises(RevocationCheckError, match="bad signature"):
        verify_ocsp_response(bytes(tampered), phone.cert, phone.ca.certificate, now=T0)


def test_ocsp_about_another_certificate_refused(tpki: TestPki) -> None:
    a = tpki.issue(CertKind.PHONE_SIGN, 112)
    b = tpki.issue(CertKind.PHONE_SIGN, 113)
    with pytest.raises(RevocationCheckError, match="another certificate"):
        verify_ocsp_response(tpki.ocsp(a), b.cert, b.ca.certificate, now=T0)


def test_ocsp_request_carries_nonce(tpki: TestPki) -> None:
    a = tpki.issue(CertKind.PHONE_SIGN, 114)
    req = pocsp.parse_request(build_ocsp_request(a.cert, a.ca.certificate, nonce=b"x" * 32))
    assert req.cert_ids[0].serial == 114
    assert req.nonce is not None and req.nonce.endswith(b"x" * 32)


# --- CRL ------------------------------------------------------------------------------------


def test_crl_revoked_affiliation_changed(tpki: TestPki) -> None:
    card = tpki.issue(CertKind.CARD_SIGN, 201, shard=1)
    full = tpki.crl(
        card.ca, [RevokedEntry(201, T0 - HOUR, Reason.AFFILIATION_CHANGED)], number=5, shard=1
    )
    res = verify_crls(card.cert, card.ca.certificate, full, now=T0)
    assert res.status is RevocationStatus.REVOKED
    assert res.reason is Reason.AFFILIATION_CHANGED
    assert res.source is Source.CRL
    assert res.revoked_at == T0 - HOUR


def test_crl_of_another_shard_refused(tpki: TestPki) -> None:
    card = tpki.issue(CertKind.CARD_SIGN, 202, shard=1)
    other = tpki.crl(card.ca, [], number=5, shard=2)
    with pytest.raises(RevocationCheckError, match="another shard"):
        verify_crls(card.cert, card.ca.certificate, other, now=T0)


def test_crl_of_other_generation_refused(tpki: TestPki) -> None:
    card = tpki.issue(CertKind.CARD_SIGN, 203)
    gen2 = tpki.crl(tpki.ca(Hierarchy.SIGN, 2), [], number=5)
    with pytest.raises(RevocationCheckError, match="another generation"):
        verify_crls(card.cert, card.ca.certificate, gen2, now=T0)


def test_crl_stale_refused(tpki: TestPki) -> None:
    card = tpki.issue(CertKind.CARD_SIGN, 204)
    old = tpki.crl(card.ca, [], number=1, now=T0 - dt.timedelta(days=3))
    with pytest.raises(RevocationCheckError, match="stale"):
        verify_crls(card.cert, card.ca.certificate, old, now=T0)


def test_delta_releases_a_hold(tpki: TestPki) -> None:
    card = tpki.issue(CertKind.CARD_AUTH, 205)
    ca = card.ca
    full = tpki.crl(ca, [RevokedEntry(205, T0 - 2 * HOUR, Reason.CERTIFICATE_HOLD)], number=10)
    held = verify_crls(card.cert, ca.certificate, full, now=T0)
    assert held.status is RevocationStatus.HELD
    delta = tpki.crl(
        ca, [RevokedEntry(205, T0 - 2 * HOUR, Reason.REMOVE_FROM_CRL)], number=11, base=10
    )
    released = verify_crls(card.cert, ca.certificate, full, delta, now=T0)
    assert released.status is RevocationStatus.GOOD
    assert len(released.evidence.crls) == 2


def test_delta_revokes_after_full(tpki: TestPki) -> None:
    phone = tpki.issue(CertKind.PHONE_SIGN, 206)
    ca = phone.ca
    full = tpki.crl(ca, [], number=20)
    delta = tpki.crl(ca, [RevokedEntry(206, T0 - HOUR, Reason.SUPERSEDED)], number=21, base=20)
    res = verify_crls(phone.cert, ca.certificate, full, delta, now=T0)
    assert res.status is RevocationStatus.REVOKED and res.reason is Reason.SUPERSEDED


def test_delta_on_newer_base_is_ignored(tpki: TestPki) -> None:
    phone = tpki.issue(CertKind.PHONE_SIGN, 207)
    ca = phone.ca
    full = tpki.crl(ca, [], number=30)
    delta = tpki.crl(ca, [RevokedEntry(207, T0 - HOUR, Reason.SUPERSEDED)], number=32, base=31)
    res = verify_crls(phone.cert, ca.certificate, full, delta, now=T0)
    assert res.status is RevocationStatus.GOOD
    assert any("based on CRL 31" in n for n in res.notes)
    assert len(res.evidence.crls) == 1


def test_delta_given_as_full_refused(tpki: TestPki) -> None:
    phone = tpki.issue(CertKind.PHONE_SIGN, 208)
    delta = tpki.crl(phone.ca, [], number=41, base=40)
    with pytest.raises(RevocationCheckError, match="delta CRL was given"):
        verify_crls(phone.cert, phone.ca.certificate, delta, now=T0)


# --- policy ----------------------------------------------------------------------------------


def test_falls_back_to_crl_and_delta_when_ocsp_is_down(tpki: TestPki) -> None:
    phone = tpki.issue(CertKind.PHONE_SIGN, 301, shard=3)
    ca = phone.ca
    fetcher = FakeFetcher(
        crls={
            URLS.crl(ca.ca_id, 3): tpki.crl(ca, [], number=50, shard=3),
            URLS.delta_crl(ca.ca_id, 3): tpki.crl(
                ca,
                [RevokedEntry(301, T0 - HOUR, Reason.KEY_COMPROMISE)],
                number=51,
                shard=3,
                base=50,
            ),
        }
    )
    res = check_revocation(phone.cert, ca.certificate, fetcher, now=T0)
    assert res.status is RevocationStatus.REVOKED and res.reason is Reason.KEY_COMPROMISE
    assert fetcher.calls == [OCSP_SIGN, URLS.crl(ca.ca_id, 3), URLS.delta_crl(ca.ca_id, 3)]


def test_unavailable_soft_and_hard(tpki: TestPki) -> None:
    phone = tpki.issue(CertKind.PHONE_AUTH, 302)
    res = check_revocation(phone.cert, phone.ca.certificate, FakeFetcher(), now=T0)
    assert res.status is RevocationStatus.UNAVAILABLE
    assert len(res.notes) == 2 and "unreachable" in res.notes[0]
    assert not acceptable(res, RevocationPolicy())
    assert acceptable(res, RevocationPolicy(fail=FailMode.SOFT))


def test_embedded_evidence_at_signing_time(tpki: TestPki) -> None:
    old = tpki.issue(CertKind.PHONE_SIGN, 303)
    ca = old.ca
    signed_at = T0 - 3 * HOUR
    # The signer's software fetched this right after signing; revocation came two hours later.
    good_then = tpki.ocsp(old, now=signed_at + dt.timedelta(minutes=1))
    crl_later = tpki.crl(ca, [RevokedEntry(303, T0 - HOUR, Reason.SUPERSEDED)], number=60)
    ev = check_embedded(
        old.cert,
        ca.certificate,
        Evidence(ocsp_responses=(good_then,), crls=(crl_later,)),
        now=T0,
        at=signed_at,
    )
    assert ev.status is RevocationStatus.GOOD and ev.source is Source.OCSP
    only_crl = check_embedded(old.cert, ca.certificate, Evidence(crls=(crl_later,)), now=T0)
    assert only_crl.status is RevocationStatus.REVOKED


def test_tbs_slice_matches_cryptography_and_tampering_is_caught(tpki: TestPki) -> None:
    from cryptography import x509

    from mobile_jpki.verify.crl_check import tbs_certlist

    card = tpki.issue(CertKind.CARD_SIGN, 209)
    entries = [RevokedEntry(70_000 + i, T0 - HOUR, Reason.AFFILIATION_CHANGED) for i in range(300)]
    der = tpki.crl(card.ca, entries, number=70)
    assert tbs_certlist(der) == x509.load_der_x509_crl(der).tbs_certlist_bytes
    assert verify_crls(card.cert, card.ca.certificate, der, now=T0).status is (
        RevocationStatus.GOOD
    )
    # Turn serial 70000 (…01 11 70) into 70001 (…01 11 71) inside the signed list.
    needle = (70_000).to_bytes(3, "big")
    at = der.index(b"\x02\x03" + needle) + 4
    tampered = der[:at] + bytes([der[at] ^ 0x01]) + der[at + 1 :]
    with pytest.raises(RevocationCheckError, match="bad signature"):
        verify_crls(card.cert, card.ca.certificate, tampered, now=T0)
    with pytest.raises(ValueError):
        tbs_certlist(b"\x04\x00")
