"""What the CA's use cases take and give: plain frozen values, no session, no I/O."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from mobile_jpki.pki import ocsp
from mobile_jpki.pki.identity import BasicFourFacts, Locality
from mobile_jpki.pki.model import CertKind, Hierarchy, utc
from mobile_jpki.pki.revocation import Reason
from mobile_jpki.store.models import Certificate, CertRecordStatus

SYSTEM = "system"  # the actor of what the CA does on its own (responder rollover, init)


@dataclass(frozen=True)
class IssueOrder:
    """What a caller asks the CA to issue; the CA picks serial, shard and generation."""

    kind: CertKind
    subject_public_key: rsa.RSAPublicKey
    subject_id: str
    not_before: dt.datetime
    not_after: dt.datetime
    facts: BasicFourFacts | None = None
    locality: Locality | None = None
    person_id: str | None = None
    card_id: str | None = None
    device_id: str | None = None


@dataclass(frozen=True)
class CertificateInfo:
    serial: int
    ca_id: str
    kind: CertKind
    subject_id: str
    shard: int
    not_before: dt.datetime
    not_after: dt.datetime
    status: CertRecordStatus
    revoked_at: dt.datetime | None
    reason: Reason | None
    invalidity_date: dt.datetime | None
    der: bytes

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.der)


@dataclass(frozen=True)
class OcspAnswer:
    """An encoded OCSP response and what HTTP caching needs to know about it."""

    der: bytes
    status: ocsp.ResponseStatus
    produced_at: dt.datetime
    this_update: dt.datetime | None = None
    next_update: dt.datetime | None = None
    # False for nonce answers and errors: unique to one request, never shared by caches.
    cacheable: bool = False
    # A stored pre-signed answer (ocsp_cached): the instant from which it is no longer served
    # as it is but re-signed (nextUpdate - ocsp_refresh_before). None for everything else.
    served_until: dt.datetime | None = None


@dataclass(frozen=True)
class CaSummary:
    ca_id: str
    hierarchy: Hierarchy
    generation: int
    active: bool
    certificate: x509.Certificate


def reason_of(code: int | None) -> Reason | None:
    """The RFC 5280 reason of a stored code; ``None`` for none or one we do not know."""
    if code is None:
        return None
    try:
        return Reason(code)
    except ValueError:
        return None


def info_of(row: Certificate) -> CertificateInfo:
    return CertificateInfo(
        serial=int(row.serial, 16),
        ca_id=row.ca_id,
        kind=CertKind(row.kind),
        subject_id=row.subject_id,
        shard=row.shard,
        not_before=row.not_before,
        not_after=row.not_after,
        status=CertRecordStatus(row.status),
        revoked_at=row.revoked_at,
        reason=reason_of(row.reason),
        invalidity_date=row.invalidity_date,
        der=row.der,
    )


def iso(value: dt.datetime) -> str:
    """A time as audit payloads carry it."""
    return utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")
