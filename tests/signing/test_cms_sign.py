from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography.hazmat.primitives import serialization
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


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
def test_openssl_cms_verify_accepts_it(tpki: TestPki, tmp_path: Path) -> None:
    phone = tpki.issue(CertKind.PHONE_SIGN, 503)
    crl = tpki.crl(phone.ca, [], number=3)
    sig = sign_cms(
        b"hello",
        phone.key,
        phone.cert,
        signing_time=T0,
        ocsp_responses=[tpki.ocsp(phone)],
        crls=[crl],
    )
    (tmp_path / "doc").write_bytes(b"hello")
    (tmp_path / "sig.der").write_bytes(sig)
    (tmp_path / "root.pem").write_bytes(
        tpki.root(Hierarchy.SIGN).public_bytes(serialization.Encoding.PEM)
    )
    out = subprocess.run(
        [
            "openssl",
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            str(tmp_path / "sig.der"),
            "-content",
            str(tmp_path / "doc"),
            "-CAfile",
            str(tmp_path / "root.pem"),
            "-purpose",
            "any",
            "-attime",
            str(int(T0.timestamp())),
            "-out",
            "/dev/null",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Verification successful" in out.stderr, out.stderr
