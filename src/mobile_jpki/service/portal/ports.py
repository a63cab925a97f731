"""What the portal needs from the outside beyond the CA: the CMS verifier (DESIGN.md "one
small interface per I/O edge"). The CA itself is
:class:`~mobile_jpki.service.ca.CertificateAuthority`, whose use cases take the
portal's ``Session`` so that issuing to the new phone and revoking the old phone's
certificates, with their pre-signed OCSP answers, commit or roll back together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from cryptography import x509


@dataclass(frozen=True)
class SignedDocument:
    """What a verified CMS SignedData carried: the content and the signer's certificate."""

    content: bytes
    signer: x509.Certificate


class DocumentVerifier(Protocol):
    """Verifies an encapsulated CMS SignedData (RFC 5652) signature; the signer certificate is
    taken from the SignedData. Chain and status are the portal's business, not the verifier's.
    Raises :class:`~mobile_jpki.service.portal.errors.SignatureInvalid`."""

    def verify(self, cms_der: bytes) -> SignedDocument: ...
