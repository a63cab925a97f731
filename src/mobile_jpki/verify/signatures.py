"""Is this signed by that key: the raw signature check and the key identifiers that OCSP, CRL,
CMS and login verification share. Root generations share one DN (JPKI-FACTS.md), so key
identifiers, not names, decide which key must have signed.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa


def subject_key_id(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return None


def authority_key_id(obj: x509.Certificate | x509.CertificateRevocationList) -> bytes | None:
    try:
        return obj.extensions.get_extension_for_class(
            x509.AuthorityKeyIdentifier
        ).value.key_identifier
    except x509.ExtensionNotFound:
        return None


def verify_signature(
    public_key: object, signature: bytes, data: bytes, algorithm: hashes.HashAlgorithm | None
) -> bool:
    """RSA PKCS#1 v1.5 or ECDSA signature check; False rather than an exception."""
    if algorithm is None:
        return False
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(algorithm))
        else:
            return False
    except InvalidSignature:
        return False
    return True


__all__: Sequence[str] = ["authority_key_id", "subject_key_id", "verify_signature"]
