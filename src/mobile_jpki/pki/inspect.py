"""Reading a JPKI certificate's kind and issuer key from the certificate alone."""

from __future__ import annotations

from cryptography import x509

from mobile_jpki.pki import oids
from mobile_jpki.pki.model import CertKind


def policy_oids_of(cert: x509.Certificate) -> list[x509.ObjectIdentifier]:
    """The certificate's policy OIDs, in order (empty without certificatePolicies)."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    except x509.ExtensionNotFound:
        return []
    return [info.policy_identifier for info in ext]


def cert_kind(
    cert: x509.Certificate, policy_oids: oids.PolicyOids = oids.DEFAULT_POLICIES
) -> CertKind | None:
    """The JPKI kind named by the certificate's policy OID (RFC 5280 §4.2.1.4), or ``None`` for a
    certificate that is no JPKI end-entity certificate (a root, an OCSP responder, a stranger)."""
    kinds = {policy_oids.kind_of(oid) for oid in policy_oids_of(cert)} - {None}
    if len(kinds) != 1:
        return None  # none, or contradictory policies: refuse to guess
    return kinds.pop()


def is_phone(cert: x509.Certificate, policy_oids: oids.PolicyOids = oids.DEFAULT_POLICIES) -> bool:
    """Whether the certificate is a smartphone (スマホ用) certificate."""
    kind = cert_kind(cert, policy_oids)
    return kind is not None and kind.on_phone


def ca_key_id(cert: x509.Certificate) -> bytes | None:
    """The key identifier of the CA that issued ``cert`` (its AKI keyIdentifier), or for a
    self-signed root its own SKI. Root generations share one DN, so this — not the issuer
    name — selects the issuing generation."""
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        if aki.key_identifier is not None:
            return aki.key_identifier
    except x509.ExtensionNotFound:
        pass
    if cert.issuer == cert.subject:
        try:
            return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        except x509.ExtensionNotFound:
            return None
    return None


def subject_key_id(cert: x509.Certificate) -> bytes | None:
    """The certificate's own SKI, if any."""
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return None
