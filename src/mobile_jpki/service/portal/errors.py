"""The portal's refusals: one hierarchy, each carrying a stable ``code`` the app can show.

``api`` turns every :class:`PortalError` into RFC 7807 problem+json in one place: ``type`` is
``urn:mobile-jpki:problem:<code>``, ``status`` the HTTP status, ``code`` repeated as an
extension member. docs/portal.md lists every code.
"""

from __future__ import annotations

from typing import Any, ClassVar


class PortalError(Exception):
    """Base of every refusal of the portal service."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "The request was refused"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def problem(self) -> dict[str, Any]:
        return {
            "type": f"urn:mobile-jpki:problem:{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            **self.extra,
        }


class Unauthenticated(PortalError):
    """Missing or wrong operator API key or device credential."""

    status, code, title = 401, "unauthenticated", "Authentication required"


class Forbidden(PortalError):
    status, code, title = 403, "forbidden", "Not allowed for this caller"


class NoSuchObject(PortalError):
    status, code, title = 404, "not-found", "No such object"


class Conflict(PortalError):
    status, code, title = 409, "conflict", "Conflicts with the current state"


class RateLimited(PortalError):
    status, code, title = 429, "rate-limited", "Too many attempts; try again later"


class RequestInvalid(PortalError):
    status, code, title = 422, "invalid-request", "The request is malformed"


# The CA's refusals of the same HTTP meaning are service.authority.NotFound and InvalidRequest
# (their problem types are derived from those names). service/portal/service.py, being split
# into a package by another change and edited here in its import lines only, still says
# E.NotFound / E.InvalidRequest: these two aliases go when that split lands.
NotFound = NoSuchObject
InvalidRequest = RequestInvalid


# --- signed documents -------------------------------------------------------------------
class SignatureInvalid(PortalError):
    status, code, title = 422, "signature-invalid", "The signature does not verify"


class CardCertificateUnknown(PortalError):
    status, code, title = 422, "card-certificate-unknown", "The card certificate is not ours"


class CardCertificateRevoked(PortalError):
    status, code, title = 422, "card-certificate-revoked", "The card certificate is revoked"


class CardCertificateHeld(PortalError):
    status, code, title = 422, "card-certificate-held", "The card certificate is suspended"


class CardCertificateExpired(PortalError):
    status, code, title = 422, "card-certificate-expired", "The card certificate is expired"


class NonceUnknown(PortalError):
    status, code, title = 422, "nonce-unknown", "The nonce was not issued to this device"


class NonceExpired(PortalError):
    status, code, title = 422, "nonce-expired", "The nonce has expired; ask for a new one"


class NonceUsed(PortalError):
    status, code, title = 409, "nonce-used", "The nonce was already used (replay)"


class StaleSignature(PortalError):
    status, code, title = 422, "stale-signature", "The signing time is too far from now"


# --- applications -------------------------------------------------------------------------
class TermsOutdated(PortalError):
    status, code, title = 422, "terms-outdated", "The terms accepted are not the current ones"


class AttestationInvalid(PortalError):
    status, code, title = 422, "attestation-invalid", "The key was not attested by this device"


class NotEligible(PortalError):
    status, code, title = 422, "not-eligible", "Not eligible (signing certificates from age 15)"


class ConsentRequired(PortalError):
    status, code, title = 409, "revoke-consent-required", "旧スマホ用電子証明書は失効されます"


class ApplicationInProgress(Conflict):
    code, title = "application-in-progress", "Another application of this person is in progress"


class DeviceMismatch(PortalError):
    status, code, title = 403, "device-mismatch", "The document names another device"


class InstructionExpired(PortalError):
    status, code, title = 410, "instruction-expired", "The instruction is no longer valid"


class RegistrationProofInvalid(PortalError):
    status, code, title = 422, "installation-proof-invalid", "The installation proof is wrong"
