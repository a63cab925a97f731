"""Value objects shared by every part of the PKI: kinds, hierarchies, CA identities, URLs.

JPKI runs two one-level hierarchies (JPKI-FACTS.md "Certificates"): a self-signed root per kind
issues end-entity certificates directly. Each root key generation (2015, 2019, 2023 in the real
service) keeps the same DN, so a CA is identified here by ``ca_id`` (hierarchy + generation) and
matched in certificates by key identifier, never by name alone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes


class Hierarchy(StrEnum):
    """The two JPKI hierarchies: 署名用 (signing) and 利用者証明用 (user authentication)."""

    SIGN = "sign"
    AUTH = "auth"


class CertKind(StrEnum):
    """End-entity certificate kinds. Phone certificates carry their own policy OIDs so a
    relying party can tell a card's certificate from a phone's."""

    CARD_SIGN = "card-sign"
    CARD_AUTH = "card-auth"
    PHONE_SIGN = "phone-sign"
    PHONE_AUTH = "phone-auth"

    @property
    def hierarchy(self) -> Hierarchy:
        signing = self in (CertKind.CARD_SIGN, CertKind.PHONE_SIGN)
        return Hierarchy.SIGN if signing else Hierarchy.AUTH

    @property
    def on_phone(self) -> bool:
        return self in (CertKind.PHONE_SIGN, CertKind.PHONE_AUTH)


@dataclass(frozen=True)
class PublicUrls:
    """Where relying parties fetch revocation data; written into AIA and CDP extensions.

    Layout (served by ``mobile-jpki serve``):
    - OCSP: ``{base}/ocsp/{hierarchy}`` (POST) and ``{base}/ocsp/{hierarchy}/{base64 request}``
      (GET, RFC 6960 Appendix A.1)
    - full CRL of a shard: ``{base}/crl/{ca_id}/{shard}.crl``
    - delta CRL of a shard: ``{base}/crl/{ca_id}/{shard}.delta.crl``
    - CRL of the root's own CA certificates (ARL): ``{base}/crl/{ca_id}/root.crl``
    """

    base_url: str = "http://127.0.0.1:8000"

    def _base(self) -> str:
        return self.base_url.rstrip("/")

    def ocsp(self, hierarchy: Hierarchy) -> str:
        return f"{self._base()}/ocsp/{hierarchy.value}"

    def crl(self, ca_id: str, shard: int) -> str:
        return f"{self._base()}/crl/{ca_id}/{shard}.crl"

    def delta_crl(self, ca_id: str, shard: int) -> str:
        return f"{self._base()}/crl/{ca_id}/{shard}.delta.crl"

    def root_crl(self, ca_id: str) -> str:
        return f"{self._base()}/crl/{ca_id}/root.crl"


@dataclass(frozen=True)
class CaIdentity:
    """One generation of one hierarchy's root: its certificate and a signing key.

    ``key`` is any ``cryptography`` private key object: a software key or a PKCS#11 key from
    :mod:`mobile_jpki.keys` — issuance code never knows which.
    """

    ca_id: str
    hierarchy: Hierarchy
    generation: int
    certificate: x509.Certificate
    key: CertificateIssuerPrivateKeyTypes

    @staticmethod
    def make_id(hierarchy: Hierarchy, generation: int) -> str:
        return f"{hierarchy.value}-{generation}"


def utc(value: dt.datetime) -> dt.datetime:
    """Normalise to timezone-aware UTC whole seconds, refusing naive datetimes."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: every time in mobile-jpki is timezone-aware")
    return value.astimezone(dt.UTC).replace(microsecond=0)
