"""The certificate authority (docs/ca.md): its use cases over the store, its TSA, and the
wiring of a data directory into a running CA. Callers import the public names from here;
``bootstrap`` (open_ca, init_data_dir) and ``timestamping`` (the TSA) are imported from their
modules."""

from mobile_jpki.service.ca.authority import CertificateAuthority
from mobile_jpki.service.ca.errors import (
    AlreadyInitialised,
    CaServiceError,
    InvalidRequest,
    InvalidTransition,
    NotFound,
)
from mobile_jpki.service.ca.ocsp import PresignedAnswers
from mobile_jpki.service.ca.values import (
    SYSTEM,
    CaSummary,
    CertificateInfo,
    IssueOrder,
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
    "PresignedAnswers",
]
