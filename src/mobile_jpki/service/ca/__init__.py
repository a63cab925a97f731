"""The certificate authority (docs/ca.md): its use cases over the store, its TSA, and the
wiring of a data directory into a running CA. Callers import the public names from here."""

from mobile_jpki.service.ca.authority import (
    SYSTEM,
    AlreadyInitialised,
    CaServiceError,
    CaSummary,
    CertificateAuthority,
    CertificateInfo,
    InvalidRequest,
    InvalidTransition,
    IssueOrder,
    NotFound,
    OcspAnswer,
)

__all__ = [
    "SYSTEM",
    "AlreadyInitialised",
    "CaServiceError",
    "CaSummary",
    "CertificateAuthority",
    "CertificateInfo",
    "InvalidRequest",
    "InvalidTransition",
    "IssueOrder",
    "NotFound",
    "OcspAnswer",
]
