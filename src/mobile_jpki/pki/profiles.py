"""Certificate profiles: which extensions each JPKI certificate carries, with what values and
criticality (JPKI-FACTS.md "Certificates"; the roots mirror /work/shared/jlis-roots, compared in
docs/profiles.md).

Every function here returns ready ``x509.Extension`` objects so :mod:`issuance` can precompute
the per-issuer ones once and hand the builder a finished list.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from mobile_jpki.pki import names, oids
from mobile_jpki.pki.identity import ProfileError
from mobile_jpki.pki.model import CertKind, Hierarchy, PublicUrls

#: JPKI keys (JPKI-FACTS.md): RSA-2048, e = 65537; the law asks RSA ≥ 2048.
RSA_KEY_SIZE = 2048
RSA_PUBLIC_EXPONENT = 65537


def _ext(value: x509.ExtensionType, critical: bool) -> x509.Extension[x509.ExtensionType]:
    return x509.Extension(value.oid, critical, value)


def check_subject_key(key: object) -> rsa.RSAPublicKey:
    """Refuse anything but RSA ≥ 2048 with e = 65537 (JPKI-FACTS.md "Certificates")."""
    if not isinstance(key, rsa.RSAPublicKey):
        raise ProfileError(f"JPKI keys are RSA, not {type(key).__name__}")
    if key.key_size < RSA_KEY_SIZE:
        raise ProfileError(f"RSA-{key.key_size} is below the RSA-{RSA_KEY_SIZE} JPKI requires")
    if key.public_numbers().e != RSA_PUBLIC_EXPONENT:
        raise ProfileError(f"public exponent {key.public_numbers().e}; JPKI uses 65537")
    return key


def subject_key_identifier(key: rsa.RSAPublicKey) -> x509.Extension[x509.ExtensionType]:
    """SKI, RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING — the form
    the real roots use (20 octets). Non-critical (MUST, §4.2.1.2)."""
    return _ext(x509.SubjectKeyIdentifier.from_public_key(key), False)


def authority_key_identifier(ski: bytes) -> x509.Extension[x509.ExtensionType]:
    """AKI with keyIdentifier only (RFC 5280 §4.2.1.1). Root generations share one DN, so the
    key identifier is what picks the right generation; issuer+serial would add nothing."""
    return _ext(x509.AuthorityKeyIdentifier(ski, None, None), False)


def issuer_alt_name(
    hierarchy: Hierarchy, naming: names.Naming = names.DEFAULT_NAMING
) -> x509.Extension[x509.ExtensionType]:
    """issuerAltName DirName ``C=JP/O=公的個人認証サービス…`` (RFC 5280 §4.2.1.7, non-critical)."""
    dirname = x509.DirectoryName(names.alt_directory_name(hierarchy, naming))
    return _ext(x509.IssuerAlternativeName([dirname]), False)


def root_extensions(
    *,
    hierarchy: Hierarchy,
    ca_id: str,
    public_key: rsa.RSAPublicKey,
    urls: PublicUrls,
    naming: names.Naming = names.DEFAULT_NAMING,
) -> list[x509.Extension[x509.ExtensionType]]:
    """The root's extensions in the order and criticality of the real J-LIS roots: keyUsage
    (critical), subjectAltName, basicConstraints (critical), CRL distribution points, SKI.

    The real roots' CDP names a directory entry (their own DN, fetched over LDAP); ours gives an
    HTTP URI first (RFC 5280 §4.2.1.13: all names of one fullName refer to the same CRL) and
    keeps the DirName after it, so both the shape and a fetchable location are there.
    """
    ku = x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
    alt = x509.DirectoryName(names.alt_directory_name(hierarchy, naming))
    cdp = x509.DistributionPoint(
        full_name=[
            x509.UniformResourceIdentifier(urls.root_crl(ca_id)),
            x509.DirectoryName(names.root_name(hierarchy, naming)),
        ],
        relative_name=None,
        reasons=None,
        crl_issuer=None,
    )
    return [
        _ext(ku, True),
        _ext(x509.SubjectAlternativeName([alt]), False),
        # No pathLen, like the real roots: the hierarchy is one level by practice, not encoding.
        _ext(x509.BasicConstraints(ca=True, path_length=None), True),
        _ext(x509.CRLDistributionPoints([cdp]), False),
        subject_key_identifier(public_key),
    ]


def ee_key_usage(kind: CertKind) -> x509.Extension[x509.ExtensionType]:
    """keyUsage, critical: signing = digitalSignature + nonRepudiation (contentCommitment),
    auth = digitalSignature (JPKI-FACTS.md)."""
    signing = kind.hierarchy is Hierarchy.SIGN
    return _ext(
        x509.KeyUsage(
            digital_signature=True,
            content_commitment=signing,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=False,
            crl_sign=False,
            encipher_only=False,
            decipher_only=False,
        ),
        True,
    )


def policies(
    kind: CertKind, policy_oids: oids.PolicyOids = oids.DEFAULT_POLICIES
) -> x509.Extension[x509.ExtensionType]:
    """certificatePolicies, critical (JPKI-FACTS.md): the kind's OID first, then the
    test-hierarchy OID when configured. No qualifiers (the OID alone identifies the CP)."""
    infos = [x509.PolicyInformation(policy_oids.for_kind(kind), None)]
    if policy_oids.test_hierarchy is not None:
        infos.append(x509.PolicyInformation(policy_oids.test_hierarchy, None))
    return _ext(x509.CertificatePolicies(infos), True)


def aia(hierarchy: Hierarchy, urls: PublicUrls) -> x509.Extension[x509.ExtensionType]:
    """authorityInfoAccess with the hierarchy's OCSP responder (RFC 5280 §4.2.2.1,
    non-critical)."""
    ocsp = x509.AccessDescription(
        AuthorityInformationAccessOID.OCSP,
        x509.UniformResourceIdentifier(urls.ocsp(hierarchy)),
    )
    return _ext(x509.AuthorityInformationAccess([ocsp]), False)


def shard_crl_names(urls: PublicUrls, ca_id: str, shard: int) -> list[x509.GeneralName]:
    """The distribution-point fullName of a shard's full CRL. The CRL's own
    issuingDistributionPoint must carry exactly this name (RFC 5280 §5.2.5, §6.3.3 (b)(2)),
    so :mod:`pki.crl` builds its IDP from this function, never from its own string."""
    return [x509.UniformResourceIdentifier(urls.crl(ca_id, shard))]


def shard_delta_crl_names(urls: PublicUrls, ca_id: str, shard: int) -> list[x509.GeneralName]:
    """The fullName of a shard's delta CRL (freshestCRL, RFC 5280 §4.2.1.15)."""
    return [x509.UniformResourceIdentifier(urls.delta_crl(ca_id, shard))]


def crl_distribution_points(
    urls: PublicUrls, ca_id: str, shard: int
) -> x509.Extension[x509.ExtensionType]:
    """The certificate's shard CRL (RFC 5280 §4.2.1.13, non-critical)."""
    point = x509.DistributionPoint(shard_crl_names(urls, ca_id, shard), None, None, None)
    return _ext(x509.CRLDistributionPoints([point]), False)


def freshest_crl(urls: PublicUrls, ca_id: str, shard: int) -> x509.Extension[x509.ExtensionType]:
    """freshestCRL: where the shard's delta CRL lives. MUST be non-critical (RFC 5280
    §4.2.1.15)."""
    point = x509.DistributionPoint(shard_delta_crl_names(urls, ca_id, shard), None, None, None)
    return _ext(x509.FreshestCRL([point]), False)


def signing_facts_san(other_names: list[x509.OtherName]) -> x509.Extension[x509.ExtensionType]:
    """The basic four facts as subjectAltName otherNames. Non-critical: the subject DN is not
    empty (RFC 5280 §4.2.1.6)."""
    return _ext(x509.SubjectAlternativeName(other_names), False)


# keyUsage of the CA's own service certificates (OCSP responder, TSA): they only sign.
DIGITAL_SIGNATURE_ONLY = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)


def ocsp_responder_extensions(
    *,
    hierarchy: Hierarchy,
    public_key: rsa.RSAPublicKey,
    issuer_ski: bytes,
    naming: names.Naming = names.DEFAULT_NAMING,
) -> list[x509.Extension[x509.ExtensionType]]:
    """A delegated OCSP responder (RFC 6960 §4.2.2.2): keyUsage digitalSignature (critical),
    EKU id-kp-OCSPSigning, id-pkix-ocsp-nocheck (§4.2.2.2.1; so no CDP/AIA of its own), AKI,
    SKI, and the issuerAltName every certificate of the hierarchy carries."""
    return [
        _ext(DIGITAL_SIGNATURE_ONLY, True),
        _ext(x509.ExtendedKeyUsage([oids.EKU_OCSP_SIGNING]), False),
        _ext(x509.OCSPNoCheck(), False),
        issuer_alt_name(hierarchy, naming),
        authority_key_identifier(issuer_ski),
        subject_key_identifier(public_key),
    ]


def tsa_extensions(
    *,
    hierarchy: Hierarchy,
    public_key: rsa.RSAPublicKey,
    issuer_ski: bytes,
    urls: PublicUrls,
    naming: names.Naming = names.DEFAULT_NAMING,
) -> list[x509.Extension[x509.ExtensionType]]:
    """The project's time-stamping authority (JPKI runs none): keyUsage digitalSignature
    (critical), EKU id-kp-timeStamping as the only purpose, critical (RFC 3161 §2.3), the
    hierarchy's OCSP responder in authorityInfoAccess, AKI, SKI and the hierarchy's
    issuerAltName.

    The AIA is what makes a time-stamp verifiable by a strict validator: the TSA certificate is
    on the path of every signature time-stamp, and a PAdES validator that requires revocation
    information for each non-anchor certificate (ETSI EN 319 102-1 §5.2.5; pyHanko's
    ``--force-revinfo``) refuses a certificate that names no OCSP or CRL location. Our
    responder answers for it (``service/ca/ocsp.py``, service certificates). No CDP: the shard
    CRLs are built from the end-entity rows, which the TSA certificate is not one of."""
    return [
        _ext(DIGITAL_SIGNATURE_ONLY, True),
        _ext(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), True),
        aia(hierarchy, urls),
        issuer_alt_name(hierarchy, naming),
        authority_key_identifier(issuer_ski),
        subject_key_identifier(public_key),
    ]
