from __future__ import annotations

import datetime as dt

import pytest
from asn1crypto import cms
from rp_pki import T0, SignOnlyKey, TestPki

from mobile_jpki.clock import FixedClock
from mobile_jpki.pki.model import CertKind, Hierarchy
from mobile_jpki.signing.cms import sign_cms
from mobile_jpki.signing.timestamp import LocalTimestamper
from mobile_jpki.verify.certificate import TrustAnchors
from mobile_jpki.verify.cms import verify_cms


@pytest.mark.parametrize("detached", [True, False])
def test_round_trip_with_a_sign_only_key(tpki: TestPki, detached: bool) -> None:
    phone = tpki.issue(CertKind.PHONE_SIGN, 501)
    data = "申請書".encode()
    sig = sign_cms(data, SignOnlyKey(phone.key), phone.cert, signing_time=T0, detached=detached)
    info = cms.ContentInfo.load(sig)
    attrs = {a["type"].native for a in info["content"]["signer_infos"][0]["signed_attrs"]}
    assert attrs == {"content_type", "message_digest", "signing_time", "signing_certificate_v2"}
    anchors = TrustAnchors((tpki.root(Hierarchy.SIGN),))
    v = verify_cms(data if detached else None, sig, anchors=anchors, now=T0)
    assert v.valid, v.summary()
    assert v.content == data and v.signer == phone.cert
    assert v.signing_time_claimed == T0


def test_time_stamped(tpki: TestPki) -> None:
    phone = tpki.issue(CertKind.PHONE_SIGN, 502)
    stamper = LocalTimestamper(tpki.tsa(), FixedClock(T0 + dt.timedelta(seconds=3)))
    sig = sign_cms(b"x", phone.key, phone.cert, signing_time=T0, timestamper=stamper)
    v = verify_cms(b"x", sig, anchors=TrustAnchors((tpki.root(Hierarchy.SIGN),)), now=T0)
    assert v.valid, v.summary()
    assert v.proven_time == T0 + dt.timedelta(seconds=3)
