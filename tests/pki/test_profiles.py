"""Every field of every profile against JPKI-FACTS.md "Certificates", and our roots' layout
against the real J-LIS roots in /work/shared/jlis-roots."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from asn1crypto import core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID, NameOID

from mobile_jpki.pki import oids
from mobile_jpki.pki.identity import BasicFourFacts, Locality, Sex, read_facts
from mobile_jpki.pki.issuance import IssuanceRequest, Issuer, issue
from mobile_jpki.pki.model import CaIdentity, CertKind, Hierarchy, PublicUrls
from mobile_jpki.pki.names import Naming

JLIS_ROOTS = Path("/work/shared/jlis-roots")
NOW = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
JPKI_SERVICE = "公的個人認証サービス"


def ee(
    ca: CaIdentity,
    urls: PublicUrls,
    kind: CertKind,
    key: rsa.RSAPrivateKey,
    facts: BasicFourFacts | None = None,
    locality: Locality | None = None,
) -> x509.Certificate:
    req = IssuanceRequest(
        kind=kind,
        subject_public_key=key.public_key(),
        serial=0x0102030405060708,
        subject_id="8A3F00C2D1E4",
        not_before=NOW,
        not_after=NOW + dt.timedelta(days=1000),
        shard=7,
        facts=facts,
        locality=locality,
    )
    return issue(ca, req, urls)


def ext_layout(cert: x509.Certificate) -> list[tuple[str, bool]]:
    return [(e.oid.dotted_string, e.critical) for e in cert.extensions]


def der_string_types(name: x509.Name) -> list[tuple[str, str]]:
    """(attribute OID, ASN.1 string type) of each RDN, read with asn1crypto from the DER."""
    parsed = asn1_x509.Name.load(name.public_bytes())
    return [
        (atv["type"].dotted, atv["value"].chosen.__class__.__name__)
        for rdn in parsed.chosen
        for atv in rdn
    ]


# --- roots --------------------------------------------------------------------------------------


@pytest.mark.parametrize("hierarchy", list(Hierarchy))
def test_root_profile(
    hierarchy: Hierarchy, sign_ca: CaIdentity, auth_ca: CaIdentity, urls: PublicUrls
) -> None:
    ca = sign_ca if hierarchy is Hierarchy.SIGN else auth_ca
    cert = ca.certificate
    ou = (
        "JPKI for digital signature"
        if hierarchy is Hierarchy.SIGN
        else "JPKI for user authentication"
    )
    assert cert.subject == cert.issuer
    assert cert.subject.rfc4514_string() == (
        f"OU=mobile-jpki test hierarchy,OU={ou},O=JPKI-TEST,C=JP"
    )
    assert cert.signature_algorithm_oid == x509.SignatureAlgorithmOID.RSA_WITH_SHA256
    assert cert.version is x509.Version.v3
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    assert (key.key_size, key.public_numbers().e) == (2048, 65537)
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
    assert not ku.value.digital_signature and not ku.value.content_commitment
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length is None
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    (dirname,) = san.value.get_values_for_type(x509.DirectoryName)
    assert dirname.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == JPKI_SERVICE
    assert dirname.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "JP"
    cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert cdp[0].full_name is not None
    assert cdp[0].full_name[0] == x509.UniformResourceIdentifier(urls.root_crl(ca.ca_id))
    assert cdp[0].full_name[1] == x509.DirectoryName(cert.subject)
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert ski.value == x509.SubjectKeyIdentifier.from_public_key(key)


@pytest.mark.parametrize("hierarchy", list(Hierarchy))
def test_root_mirrors_the_real_jlis_root(
    hierarchy: Hierarchy, sign_ca: CaIdentity, auth_ca: CaIdentity
) -> None:
    path = JLIS_ROOTS / f"{hierarchy.value}_ca_2023.pem"
    if not path.exists():
        pytest.skip(f"{path} not available")
    real = x509.load_pem_x509_certificate(path.read_bytes())
    ours = (sign_ca if hierarchy is Hierarchy.SIGN else auth_ca).certificate
    # Same extensions, same order, same criticality.
    assert ext_layout(ours) == ext_layout(real)
    # Same DN shape: attribute types, order and ASN.1 string types (C PrintableString, the
    # rest UTF8String); only O and the operator OU differ (never J-LIS).
    assert der_string_types(ours.subject) == der_string_types(real.subject)
    real_attrs = [a.value for a in real.subject]
    our_attrs = [a.value for a in ours.subject]
    assert our_attrs[0] == real_attrs[0] == "JP"
    assert our_attrs[2] == real_attrs[2]  # the kind's OU
    assert our_attrs[1] != real_attrs[1] and our_attrs[3] != real_attrs[3]
    real_alt = real.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    our_alt = ours.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    (real_dn,) = real_alt.get_values_for_type(x509.DirectoryName)
    (our_dn,) = our_alt.get_values_for_type(x509.DirectoryName)
    assert der_string_types(our_dn) == der_string_types(real_dn)
    assert [a.value for a in our_dn][:3] == [a.value for a in real_dn][:3]
    assert real.signature_algorithm_oid == ours.signature_algorithm_oid


def test_naming_refuses_to_be_jlis() -> None:
    with pytest.raises(ValueError, match="J-LIS"):
        Naming(organization="JPKI")
    with pytest.raises(ValueError, match="J-LIS"):
        Naming(operator="Japan Agency for Local Authority Information Systems")


# --- end entities -------------------------------------------------------------------------------

EE_LAYOUT_AUTH = [
    (ExtensionOID.KEY_USAGE.dotted_string, True),
    (ExtensionOID.CERTIFICATE_POLICIES.dotted_string, True),
    (ExtensionOID.ISSUER_ALTERNATIVE_NAME.dotted_string, False),
    (ExtensionOID.CRL_DISTRIBUTION_POINTS.dotted_string, False),
    (ExtensionOID.FRESHEST_CRL.dotted_string, False),
    (ExtensionOID.AUTHORITY_INFORMATION_ACCESS.dotted_string, False),
    (ExtensionOID.AUTHORITY_KEY_IDENTIFIER.dotted_string, False),
    (ExtensionOID.SUBJECT_KEY_IDENTIFIER.dotted_string, False),
]
EE_LAYOUT_SIGN = [
    *EE_LAYOUT_AUTH[:2],
    (ExtensionOID.SUBJECT_ALTERNATIVE_NAME.dotted_string, False),
    *EE_LAYOUT_AUTH[2:],
]


@pytest.mark.parametrize(
    ("kind", "policy"),
    [
        (CertKind.CARD_SIGN, "1.2.392.200149.8.5.1.1.20"),
        (CertKind.PHONE_SIGN, "1.2.392.200149.8.5.1.1.40"),
    ],
)
def test_signing_profile(
    kind: CertKind,
    policy: str,
    sign_ca: CaIdentity,
    urls: PublicUrls,
    new_key: Callable[[], rsa.RSAPrivateKey],
    facts: BasicFourFacts,
    locality: Locality,
) -> None:
    key = new_key()
    cert = ee(sign_ca, urls, kind, key, facts, locality)
    assert ext_layout(cert) == EE_LAYOUT_SIGN
    # Subject: C, L=prefecture, L=city, CN, in that order.
    assert [(a.oid, a.value) for a in cert.subject] == [
        (NameOID.COUNTRY_NAME, "JP"),
        (NameOID.LOCALITY_NAME, "Tokyo"),
        (NameOID.LOCALITY_NAME, "Chiyoda-ku"),
        (NameOID.COMMON_NAME, "8A3F00C2D1E4"),
    ]
    assert cert.issuer == sign_ca.certificate.subject
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.content_commitment
    assert not (ku.key_encipherment or ku.data_encipherment or ku.key_agreement)
    assert not (ku.key_cert_sign or ku.crl_sign)
    policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    assert [p.policy_identifier.dotted_string for p in policies] == [
        policy,
        "1.2.392.200149.8.5.1.0.20",
    ]
    assert all(p.policy_qualifiers is None for p in policies)
    assert read_facts(cert) == facts
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [o.type_id.dotted_string for o in san.get_values_for_type(x509.OtherName)] == [
        f"1.2.392.200149.8.5.5.{i}" for i in range(1, 7)
    ]
    assert len(list(san)) == 6
    _common_ee_checks(cert, sign_ca, urls, key)


@pytest.mark.parametrize(
    ("kind", "policy"),
    [
        (CertKind.CARD_AUTH, "1.2.392.200149.8.5.1.3.30"),
        (CertKind.PHONE_AUTH, "1.2.392.200149.8.5.1.3.40"),
    ],
)
def test_auth_profile(
    kind: CertKind,
    policy: str,
    auth_ca: CaIdentity,
    urls: PublicUrls,
    new_key: Callable[[], rsa.RSAPrivateKey],
) -> None:
    key = new_key()
    cert = ee(auth_ca, urls, kind, key)
    assert ext_layout(cert) == EE_LAYOUT_AUTH  # no SAN: no personal data
    assert [(a.oid, a.value) for a in cert.subject] == [
        (NameOID.COUNTRY_NAME, "JP"),
        (NameOID.COMMON_NAME, "8A3F00C2D1E4"),
    ]
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and not ku.content_commitment and not ku.key_encipherment
    policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    assert policies[0].policy_identifier.dotted_string == policy
    _common_ee_checks(cert, auth_ca, urls, key)


def _common_ee_checks(
    cert: x509.Certificate, ca: CaIdentity, urls: PublicUrls, key: rsa.RSAPrivateKey
) -> None:
    assert cert.version is x509.Version.v3
    assert cert.signature_algorithm_oid == x509.SignatureAlgorithmOID.RSA_WITH_SHA256
    assert cert.serial_number == 0x0102030405060708
    assert cert.not_valid_before_utc == NOW
    ian = cert.extensions.get_extension_for_class(x509.IssuerAlternativeName).value
    (dirname,) = ian.get_values_for_type(x509.DirectoryName)
    assert [(a.oid, a.value) for a in dirname][:2] == [
        (NameOID.COUNTRY_NAME, "JP"),
        (NameOID.ORGANIZATION_NAME, JPKI_SERVICE),
    ]
    root_alt = ca.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert [dirname] == root_alt.value.get_values_for_type(x509.DirectoryName)
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert [(d.access_method, d.access_location.value) for d in aia] == [
        (AuthorityInformationAccessOID.OCSP, urls.ocsp(ca.hierarchy))
    ]
    cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert cdp[0].full_name == [x509.UniformResourceIdentifier(urls.crl(ca.ca_id, 7))]
    assert (cdp[0].reasons, cdp[0].crl_issuer, len(cdp)) == (None, None, 1)
    fresh = cert.extensions.get_extension_for_class(x509.FreshestCRL).value
    assert fresh[0].full_name == [x509.UniformResourceIdentifier(urls.delta_crl(ca.ca_id, 7))]
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    root_ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert aki.key_identifier == root_ski.value.digest
    assert aki.authority_cert_issuer is None and aki.authority_cert_serial_number is None
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    assert cert.public_key() == key.public_key()


def test_policy_oids_are_configurable(
    sign_ca: CaIdentity,
    urls: PublicUrls,
    new_key: Callable[[], rsa.RSAPrivateKey],
    facts: BasicFourFacts,
    locality: Locality,
) -> None:
    custom = oids.PolicyOids(
        phone_sign=x509.ObjectIdentifier("1.2.392.200149.8.5.1.1.99"), test_hierarchy=None
    )
    issuer = Issuer(sign_ca, urls, policy_oids=custom)
    req = IssuanceRequest(
        kind=CertKind.PHONE_SIGN,
        subject_public_key=new_key().public_key(),
        serial=5,
        subject_id="A",
        not_before=NOW,
        not_after=NOW + dt.timedelta(days=1),
        shard=0,
        facts=facts,
        locality=locality,
    )
    policies = issuer.issue(req).extensions.get_extension_for_class(x509.CertificatePolicies)
    assert [p.policy_identifier.dotted_string for p in policies.value] == [
        "1.2.392.200149.8.5.1.1.99"
    ]
    with pytest.raises(ValueError, match="own policy OID"):
        oids.PolicyOids(phone_sign=oids.POLICY_CARD_SIGN)


def test_unknown_sex_code_is_configurable_per_issuer(
    sign_ca: CaIdentity,
    urls: PublicUrls,
    new_key: Callable[[], rsa.RSAPrivateKey],
    facts: BasicFourFacts,
    locality: Locality,
) -> None:
    unknown = replace(facts, sex=Sex.UNKNOWN)
    issuer = Issuer(sign_ca, urls, unknown_sex_code="3")
    req = IssuanceRequest(
        kind=CertKind.CARD_SIGN,
        subject_public_key=new_key().public_key(),
        serial=6,
        subject_id="A",
        not_before=NOW,
        not_after=NOW + dt.timedelta(days=1),
        shard=0,
        facts=unknown,
        locality=locality,
    )
    cert = issuer.issue(req)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    sex = [o for o in san.get_values_for_type(x509.OtherName) if o.type_id == oids.FACT_SEX]
    assert core.UTF8String.load(sex[0].value).native == "3"
    assert read_facts(cert).sex is Sex.UNKNOWN
