"""Reading kind and issuing key from a certificate."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from mobile_jpki.pki import oids
from mobile_jpki.pki.identity import BasicFourFacts, Locality
from mobile_jpki.pki.inspect import ca_key_id, cert_kind, is_phone, subject_key_id
from mobile_jpki.pki.issuance import IssuanceRequest, build_ocsp_responder, issue
from mobile_jpki.pki.model import CaIdentity, CertKind, Hierarchy, PublicUrls

NOW = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize("kind", list(CertKind))
def test_cert_kind_and_is_phone(
    kind: CertKind,
    sign_ca: CaIdentity,
    auth_ca: CaIdentity,
    urls: PublicUrls,
    new_key: Callable[[], rsa.RSAPrivateKey],
    facts: BasicFourFacts,
    locality: Locality,
) -> None:
    signing = kind.hierarchy is Hierarchy.SIGN
    ca = sign_ca if signing else auth_ca
    req = IssuanceRequest(
        kind=kind,
        subject_public_key=new_key().public_key(),
        serial=42,
        subject_id="S",
        not_before=NOW,
        not_after=NOW + dt.timedelta(days=30),
        shard=0,
        facts=facts if signing else None,
        locality=locality if signing else None,
    )
    cert = issue(ca, req, urls)
    assert cert_kind(cert) is kind
    assert is_phone(cert) is kind.on_phone
    assert ca_key_id(cert) == subject_key_id(ca.certificate)
    # A verifier configured with other OIDs does not recognise ours.
    other = oids.PolicyOids(
        card_sign=x509.ObjectIdentifier("1.2.3.1"),
        card_auth=x509.ObjectIdentifier("1.2.3.2"),
        phone_sign=x509.ObjectIdentifier("1.2.3.3"),
        phone_auth=x509.ObjectIdentifier("1.2.3.4"),
    )
    assert cert_kind(cert, other) is None
    assert not is_phone(cert, other)


def test_roots_and_responders_have_no_kind(
    sign_ca: CaIdentity, urls: PublicUrls, new_key: Callable[[], rsa.RSAPrivateKey]
) -> None:
    assert cert_kind(sign_ca.certificate) is None
    # A root has no AKI: its own SKI identifies it.
    assert ca_key_id(sign_ca.certificate) == subject_key_id(sign_ca.certificate)
    responder = build_ocsp_responder(sign_ca, new_key().public_key(), 9, NOW, urls=urls)
    assert cert_kind(responder) is None
    assert ca_key_id(responder) == subject_key_id(sign_ca.certificate)
