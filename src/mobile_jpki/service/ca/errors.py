"""The CA service's refusals: one hierarchy, each error carrying its data (what was not found,
which certificate, in which state). What they mean to a caller is the edge's business:
``api.problems`` maps them to RFC 7807 answers, ``cli.ca`` to exit codes."""

from __future__ import annotations

from mobile_jpki.store.models import CertRecordStatus


class CaServiceError(Exception):
    """Base of the CA service errors."""


class NotFound(CaServiceError):
    """No ``what`` (a certificate, a CA, a CRL shard…) named ``key``."""

    def __init__(self, what: str, key: str) -> None:
        super().__init__(f"no {what} {key}")
        self.what = what
        self.key = key


class InvalidTransition(CaServiceError):
    """A status change the revocation state machine forbids (revoked is final)."""

    def __init__(self, serial: int, status: CertRecordStatus, action: str) -> None:
        super().__init__(f"certificate {serial:x} is {status.value}: cannot {action}")
        self.serial = serial
        self.current = status
        self.action = action


class AlreadyInitialised(CaServiceError):
    def __init__(self, ca_id: str) -> None:
        super().__init__(f"{ca_id} already exists")
        self.ca_id = ca_id


class InvalidRequest(CaServiceError):
    """A request the CA refuses as such (a reason that is not a revocation reason, a
    certificate listed twice)."""
