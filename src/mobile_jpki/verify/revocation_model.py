"""What a revocation check answers, and how it is asked: status, source, fail mode, policy,
evidence and result; and the two rules OCSP and CRLs share — when evidence is fresh enough, and
what a revocation dated before or after the time of interest means.

The checks are :mod:`mobile_jpki.verify.ocsp_check` and :mod:`mobile_jpki.verify.crl_check`;
:mod:`mobile_jpki.verify.revocation` composes them (and explains the two questions asked).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from mobile_jpki.pki.revocation import Reason
from mobile_jpki.verify.errors import RevocationCheckError


class RevocationStatus(StrEnum):
    GOOD = "good"
    REVOKED = "revoked"
    HELD = "held"  # certificateHold (一時利用停止): may come back
    UNKNOWN = "unknown"  # the responder does not know the certificate (RFC 6960 §2.2)
    UNAVAILABLE = "unavailable"  # no source gave a usable answer


class Source(StrEnum):
    OCSP = "ocsp"
    CRL = "crl"


class FailMode(StrEnum):
    """What an unavailable status means for the verdict: ``hard`` refuses, ``soft`` accepts with a
    warning (the browser default, unwise for signatures of legal weight)."""

    HARD = "hard"
    SOFT = "soft"


# RFC 5280 §5.3.1 CRLReason names, by code (7 is unused).
REASON_WORDS: dict[int, str] = {
    0: "unspecified",
    1: "keyCompromise",
    2: "cACompromise",
    3: "affiliationChanged",
    4: "superseded",
    5: "cessationOfOperation",
    6: "certificateHold",
    8: "removeFromCRL",
    9: "privilegeWithdrawn",
    10: "aACompromise",
}

# What each reason means for a JPKI relying party (JPKI-FACTS.md "Revocation reasons used").
REASON_MEANING: dict[int, str] = {
    0: "revoked without a stated reason",
    1: "the private key was compromised (loss or theft reported)",
    3: "the holder's name or address changed (異動)",
    4: "replaced, e.g. by a new phone at a model change (機種変更)",
    5: "no longer used (revoked by the holder, or the card was returned)",
    6: "temporarily suspended (一時利用停止) through the hotline",
}

FLAG_CODES: dict[x509.ReasonFlags, int] = {
    x509.ReasonFlags.unspecified: 0,
    x509.ReasonFlags.key_compromise: 1,
    x509.ReasonFlags.ca_compromise: 2,
    x509.ReasonFlags.affiliation_changed: 3,
    x509.ReasonFlags.superseded: 4,
    x509.ReasonFlags.cessation_of_operation: 5,
    x509.ReasonFlags.certificate_hold: 6,
    x509.ReasonFlags.remove_from_crl: 8,
    x509.ReasonFlags.privilege_withdrawn: 9,
    x509.ReasonFlags.aa_compromise: 10,
}
_HOLD = 6


@dataclass(frozen=True)
class RevocationPolicy:
    """How to check. Defaults: OCSP first, then the CRL (+ delta), hard fail, 5 minutes of clock
    skew, a fresh nonce in every OCSP request, no maximum age beyond nextUpdate."""

    sources: tuple[Source, ...] = (Source.OCSP, Source.CRL)
    fail: FailMode = FailMode.HARD
    clock_skew: dt.timedelta = dt.timedelta(minutes=5)
    #: Refuse evidence whose thisUpdate is older than this even within nextUpdate (None: no cap).
    #: Also the only freshness bound for OCSP answers without nextUpdate (RFC 6960 §4.2.2.1).
    max_age: dt.timedelta | None = None
    send_nonce: bool = True
    #: Refuse an OCSP response that does not echo our nonce. Off by default: pre-signed
    #: responses (RFC 5019 §2.1, Let's Encrypt) never echo one; a *wrong* nonce is always refused.
    require_nonce: bool = False
    use_delta_crl: bool = True
    #: CertID hash (RFC 6960 §4.1.1). SHA-1 is what RFC 5019 responders must accept.
    cert_id_hash: type[hashes.HashAlgorithm] = hashes.SHA1


DEFAULT_POLICY = RevocationPolicy()


@dataclass(frozen=True)
class Evidence:
    """The raw revocation data behind a result, DER, ready to embed (PAdES DSS, CAdES-LT)."""

    ocsp_responses: tuple[bytes, ...] = ()
    crls: tuple[bytes, ...] = ()

    def __add__(self, other: Evidence) -> Evidence:
        return Evidence(self.ocsp_responses + other.ocsp_responses, self.crls + other.crls)


@dataclass(frozen=True)
class RevocationResult:
    status: RevocationStatus
    source: Source | None = None
    reason_code: int | None = None
    revoked_at: dt.datetime | None = None
    this_update: dt.datetime | None = None
    next_update: dt.datetime | None = None
    evidence: Evidence = field(default_factory=Evidence)
    #: Why a source gave no answer (UNAVAILABLE), or what was ignored (an inapplicable delta).
    notes: tuple[str, ...] = ()
    #: The time of interest the status is for (a signature's time-stamp), when it is not now.
    checked_at: dt.datetime | None = None

    @property
    def revoked_later(self) -> bool:
        """Good at the time of interest, revoked after it: a signature made before stands
        (ETSI EN 319 102-1 §5.2.5), but the certificate is no longer usable."""
        return self.status is RevocationStatus.GOOD and self.revoked_at is not None

    @property
    def reason(self) -> Reason | None:
        """The reason as our enum, or None (absent, or a code JPKI does not use)."""
        if self.reason_code is None or self.reason_code not in Reason._value2member_map_:
            return None
        return Reason(self.reason_code)

    @property
    def reason_word(self) -> str | None:
        """The RFC 5280 §5.3.1 name, e.g. ``superseded``."""
        if self.reason_code is None:
            return None
        return REASON_WORDS.get(self.reason_code, f"reason {self.reason_code}")

    @property
    def reason_meaning(self) -> str | None:
        if self.reason_code is None:
            return None
        return REASON_MEANING.get(self.reason_code, REASON_WORDS.get(self.reason_code))

    def describe(self, *, when: str | None = None) -> str:
        """One line for people: ``revoked (superseded: replaced, ...) at 2026-04-01T09:00:00Z
        [ocsp]``. A certificate revoked after the time of interest reads ``valid when signed
        (time-stamp …); revoked later, at … (reason: meaning) [ocsp]``, not a bare "good"
        followed by a reason; ``when`` names that time (default ``at <checked_at>``)."""
        if self.revoked_later:
            assert self.revoked_at is not None  # noqa: S101 - revoked_later implies it
            label = when or (f"at {_iso(self.checked_at)}" if self.checked_at else "then")
            text = f"valid {label}; revoked later, at {_iso(self.revoked_at)}"
            if self.reason_word is not None:
                text += f" ({self.reason_word}: {self.reason_meaning})"
            if self.source is not None:
                text += f" [{self.source.value}]"
            return text
        text = self.status.value
        if self.reason_word is not None:
            text += f" ({self.reason_word}: {self.reason_meaning})"
        if self.revoked_at is not None:
            text += f" at {_iso(self.revoked_at)}"
        if self.source is not None:
            text += f" [{self.source.value}]"
        if self.status is RevocationStatus.UNAVAILABLE and self.notes:
            text += ": " + "; ".join(self.notes)
        return text


def _iso(value: dt.datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def check_fresh(
    what: Source,
    this_update: dt.datetime,
    next_update: dt.datetime | None,
    *,
    now: dt.datetime,
    at: dt.datetime | None,
    policy: RevocationPolicy,
) -> None:
    skew = policy.clock_skew
    if this_update > now + skew:
        raise RevocationCheckError(what, f"thisUpdate {this_update} is in the future")
    if at is not None:
        # Historical question: only evidence issued after the time of interest says anything
        # about the status at that time (ETSI EN 319 102-1 §5.2.5).
        if this_update < at - skew:
            raise RevocationCheckError(
                what, f"evidence of {this_update} predates the time of interest {at}"
            )
        return
    if next_update is not None and now > next_update + skew:
        raise RevocationCheckError(what, f"stale: nextUpdate {next_update} has passed")
    if policy.max_age is not None and now - this_update > policy.max_age:
        raise RevocationCheckError(what, f"older than the allowed {policy.max_age}")


def status_at(
    source: Source,
    reason_code: int | None,
    revoked_at: dt.datetime,
    at: dt.datetime | None,
    **common: object,
) -> RevocationResult:
    if at is not None and revoked_at > at:
        # Revoked, but after the time of interest: the signature made before stands.
        return RevocationResult(
            RevocationStatus.GOOD,
            source,
            reason_code,
            revoked_at,
            notes=(f"revoked after {at.isoformat()}",),
            checked_at=at,
            **common,  # type: ignore[arg-type]
        )
    status = RevocationStatus.HELD if reason_code == _HOLD else RevocationStatus.REVOKED
    return RevocationResult(status, source, reason_code, revoked_at, **common)  # type: ignore[arg-type]


__all__: Sequence[str] = [
    "DEFAULT_POLICY",
    "FLAG_CODES",
    "REASON_MEANING",
    "REASON_WORDS",
    "Evidence",
    "FailMode",
    "RevocationPolicy",
    "RevocationResult",
    "RevocationStatus",
    "Source",
    "check_fresh",
    "status_at",
]
