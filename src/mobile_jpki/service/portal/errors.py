"""The portal's refusals: one hierarchy under :class:`PortalError`, the portal's one root
exception. Each carries data only: a stable ``code`` the app can show (also stored as an
application's ``failure_code``), a ``detail`` and extra members (``retry_after``, …).

How a refusal is answered over HTTP (status, title, headers) is the edge's business:
``api.problems.PORTAL_PROBLEMS`` maps each type to its status in one table, and the answer is
RFC 7807 problem+json with ``type`` ``urn:mobile-jpki:problem:<code>``. docs/portal.md lists
every code.
"""

from __future__ import annotations

from typing import Any, ClassVar


class PortalError(Exception):
    """Base of every refusal of the portal service."""

    code: ClassVar[str] = "bad-request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class Unauthenticated(PortalError):
    """Missing or wrong operator API key or device credential."""

    code = "unauthenticated"


class Forbidden(PortalError):
    code = "forbidden"


class NoSuchObject(PortalError):
    code = "not-found"


class Conflict(PortalError):
    code = "conflict"


class DeviceEnrolled(Conflict):
    """The element is enrolled already and has applied: its credential is not handed out
    again on a public attestation certificate. ``device_id`` in ``extra``."""

    code = "device-enrolled"


class RateLimited(PortalError):
    """``retry_after`` (seconds) in ``extra``."""

    code = "rate-limited"


class RequestInvalid(PortalError):
    code = "invalid-request"


# --- signed documents -------------------------------------------------------------------
class SignatureInvalid(PortalError):
    code = "signature-invalid"


class CardCertificateUnknown(PortalError):
    code = "card-certificate-unknown"


class CardCertificateRevoked(PortalError):
    code = "card-certificate-revoked"


class CardCertificateHeld(PortalError):
    code = "card-certificate-held"


class CardCertificateExpired(PortalError):
    code = "card-certificate-expired"


class NonceUnknown(PortalError):
    code = "nonce-unknown"


class NonceExpired(PortalError):
    code = "nonce-expired"


class NonceUsed(PortalError):
    code = "nonce-used"


class StaleSignature(PortalError):
    code = "stale-signature"


# --- applications -------------------------------------------------------------------------
class TermsOutdated(PortalError):
    """``current`` (the terms version in force) in ``extra``."""

    code = "terms-outdated"


class AttestationInvalid(PortalError):
    code = "attestation-invalid"


class NotEligible(PortalError):
    code = "not-eligible"


class ConsentRequired(PortalError):
    """Another phone holds certificates: the app asks 旧スマホ用電子証明書は失効されます."""

    code = "revoke-consent-required"


class ApplicationInProgress(Conflict):
    code = "application-in-progress"


class DeviceMismatch(PortalError):
    code = "device-mismatch"


class InstructionExpired(PortalError):
    code = "instruction-expired"


class RegistrationProofInvalid(PortalError):
    code = "installation-proof-invalid"
