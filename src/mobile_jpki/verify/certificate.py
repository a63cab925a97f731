"""Is this JPKI certificate acceptable, at this time, for this use? A typed verdict with every
reason it is not.

JPKI hierarchies are one level deep (JPKI-FACTS.md): a self-signed root per kind and generation
issues end-entity certificates directly, so path building is choosing the anchor whose key
identifier matches the certificate's authorityKeyIdentifier (generations share one DN, RFC 5280
§4.2.1.1) and checking its signature. Trust anchors are handed in: our own roots, and optionally
the real J-LIS roots bundled in ``anchors/`` (:func:`jlis_anchors`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import ExtensionOID

from mobile_jpki.pki import oids
from mobile_jpki.pki.identity import BasicFourFacts, ProfileError, read_facts
from mobile_jpki.pki.inspect import cert_kind
from mobile_jpki.pki.model import CertKind, Hierarchy, utc
from mobile_jpki.verify.fetch import Fetcher
from mobile_jpki.verify.revocation import check_embedded, check_revocation
from mobile_jpki.verify.revocation_model import (
    DEFAULT_POLICY,
    Evidence,
    FailMode,
    RevocationPolicy,
    RevocationResult,
    RevocationStatus,
)


class Failure(StrEnum):
    """Every reason a certificate (or a signature resting on it) is refused."""

    EXPIRED = "expired"
    NOT_YET_VALID = "not-yet-valid"
    UNTRUSTED_ISSUER = "untrusted-issuer"
    BAD_SIGNATURE = "bad-signature"
    WRONG_USAGE = "wrong-usage"
    NOT_JPKI = "not-jpki"
    UNSUPPORTED_CRITICAL_EXTENSION = "unsupported-critical-extension"
    REVOKED = "revoked"
    HELD = "held"
    UNKNOWN_TO_RESPONDER = "unknown-to-responder"
    REVOCATION_UNAVAILABLE = "revocation-unavailable"


@dataclass(frozen=True)
class Problem:
    failure: Failure
    message: str

    def __str__(self) -> str:
        return f"{self.failure.value}: {self.message}"


class Usage(StrEnum):
    """What the relying party wants the certificate for (RFC 5280 §4.2.1.3 keyUsage)."""

    SIGNING = "signing"  # 署名用: a document signature, needs nonRepudiation
    AUTHENTICATION = "authentication"  # 利用者証明用: login, digitalSignature


# The extensions our profiles and the J-LIS ones mark critical (RFC 5280 §4.2: a certificate
# with a critical extension the verifier does not process must be rejected).
_UNDERSTOOD_CRITICAL = {
    ExtensionOID.KEY_USAGE,
    ExtensionOID.BASIC_CONSTRAINTS,
    ExtensionOID.CERTIFICATE_POLICIES,
    ExtensionOID.EXTENDED_KEY_USAGE,
    ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
    ExtensionOID.ISSUER_ALTERNATIVE_NAME,
}


@dataclass(frozen=True)
class TrustAnchors:
    """Root certificates trusted to issue JPKI certificates."""

    certificates: tuple[x509.Certificate, ...]

    @classmethod
    def from_pem(cls, *pem_blobs: bytes) -> TrustAnchors:
        certs: list[x509.Certificate] = []
        for blob in pem_blobs:
            certs.extend(x509.load_pem_x509_certificates(blob))
        return cls(tuple(certs))

    @classmethod
    def from_files(cls, paths: Iterable[str | Path]) -> TrustAnchors:
        return cls.from_pem(*(Path(p).read_bytes() for p in paths))

    def __add__(self, other: TrustAnchors) -> TrustAnchors:
        return TrustAnchors(self.certificates + other.certificates)

    def issuer_of(self, cert: x509.Certificate) -> x509.Certificate | None:
        """The anchor whose key identifier (or, without AKI, whose name) names ``cert``'s
        issuer and whose key verifies its signature."""
        aki = _aki(cert)
        for anchor in self.certificates:
            if anchor.subject != cert.issuer:
                continue
            ski = _ski(anchor)
            if aki is not None and ski is not None and aki != ski:
                continue
            try:
                cert.verify_directly_issued_by(anchor)
            except (InvalidSignature, ValueError, TypeError):
                continue
            return anchor
        return None

    def named_issuers(self, cert: x509.Certificate) -> list[x509.Certificate]:
        """Anchors with the issuer's DN and key identifier (signature not checked)."""
        aki = _aki(cert)
        return [
            a
            for a in self.certificates
            if a.subject == cert.issuer and (aki is None or _ski(a) in (None, aki))
        ]


def jlis_anchors() -> TrustAnchors:
    """The public J-LIS roots (2015 and 2023 generations, signing and user authentication), for
    verifying *real* My Number Card certificates. Never mix them up with this project's CA,
    which is a test hierarchy and never claims to be J-LIS."""
    folder = resources.files("mobile_jpki.verify") / "anchors"
    blobs = [f.read_bytes() for f in folder.iterdir() if f.name.endswith(".pem")]
    return TrustAnchors.from_pem(*sorted(blobs))


def _aki(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(
            x509.AuthorityKeyIdentifier
        ).value.key_identifier
    except x509.ExtensionNotFound:
        return None


def _ski(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return None


@dataclass(frozen=True)
class RevocationCheck:
    """How to find out about revocation: an online fetcher, evidence carried with the
    signature, or both (evidence first). ``None`` everywhere means: do not check (never for
    production use; the verdict then says so through ``revocation is None``)."""

    fetcher: Fetcher | None = None
    evidence: Evidence = field(default_factory=Evidence)
    policy: RevocationPolicy = DEFAULT_POLICY


@dataclass(frozen=True)
class CertificateVerdict:
    certificate: x509.Certificate
    at: dt.datetime
    issuer: x509.Certificate | None
    kind: CertKind | None
    facts: BasicFourFacts | None
    revocation: RevocationResult | None
    problems: tuple[Problem, ...]
    warnings: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return not self.problems

    @property
    def failures(self) -> tuple[Failure, ...]:
        return tuple(p.failure for p in self.problems)

    @property
    def subject_id(self) -> str:
        """The holder's opaque identifier, the subject CN (JPKI-FACTS.md)."""
        cns = self.certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        return str(cns[0].value) if cns else ""

    def summary(self) -> str:
        if self.valid:
            return "valid"
        return "; ".join(str(p) for p in self.problems)


def _key_usage_problem(cert: x509.Certificate, usage: Usage | None) -> Problem | None:
    if usage is None:
        return None
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return Problem(Failure.WRONG_USAGE, "no keyUsage extension")
    if not ku.digital_signature:
        return Problem(Failure.WRONG_USAGE, "keyUsage lacks digitalSignature")
    if usage is Usage.SIGNING and not ku.content_commitment:
        # 署名用 certificates carry nonRepudiation (contentCommitment, RFC 5280 §4.2.1.3);
        # a user-authentication certificate must not be accepted for a document signature.
        return Problem(Failure.WRONG_USAGE, "not a signing certificate (no nonRepudiation)")
    return None


def _revocation_problems(
    result: RevocationResult, policy: RevocationPolicy
) -> tuple[list[Problem], list[str]]:
    status = result.status
    if status is RevocationStatus.GOOD:
        return [], []
    detail = result.describe()
    if status is RevocationStatus.REVOKED:
        return [Problem(Failure.REVOKED, detail)], []
    if status is RevocationStatus.HELD:
        return [Problem(Failure.HELD, detail)], []
    if status is RevocationStatus.UNKNOWN:
        return [Problem(Failure.UNKNOWN_TO_RESPONDER, detail)], []
    if policy.fail is FailMode.SOFT:
        return [], [f"revocation not checked (soft fail): {detail}"]
    return [Problem(Failure.REVOCATION_UNAVAILABLE, detail)], []


def verify_certificate(
    cert: x509.Certificate,
    *,
    anchors: TrustAnchors,
    now: dt.datetime,
    at: dt.datetime | None = None,
    usage: Usage | None = None,
    expect: Sequence[CertKind] | None = None,
    revocation: RevocationCheck | None = None,
    policy_oids: oids.PolicyOids = oids.DEFAULT_POLICIES,
) -> CertificateVerdict:
    """Verify ``cert`` as of ``at`` (default ``now``: the current time).

    ``at`` earlier than ``now`` asks "was it good when it signed": validity and revocation are
    judged at ``at``, with revocation evidence that must postdate ``at`` — the caller vouches
    for ``at`` (a verified time-stamp, or a time the relying party itself recorded).
    ``expect`` restricts the acceptable kinds (e.g. phone only); ``None`` accepts any JPKI kind.
    """
    now = utc(now)
    at = utc(at) if at is not None else now
    historical = at < now
    problems: list[Problem] = []
    warnings: list[str] = []

    if at < cert.not_valid_before_utc:
        problems.append(
            Problem(Failure.NOT_YET_VALID, f"valid only from {cert.not_valid_before_utc}")
        )
    if at > cert.not_valid_after_utc:
        problems.append(Problem(Failure.EXPIRED, f"expired {cert.not_valid_after_utc}"))

    issuer = anchors.issuer_of(cert)
    if issuer is None:
        if anchors.named_issuers(cert):
            problems.append(
                Problem(Failure.BAD_SIGNATURE, "the issuer's key does not verify the certificate")
            )
        else:
            problems.append(
                Problem(
                    Failure.UNTRUSTED_ISSUER, f"no trusted root for {cert.issuer.rfc4514_string()}"
                )
            )
    elif not issuer.not_valid_before_utc <= at <= issuer.not_valid_after_utc:
        problems.append(Problem(Failure.EXPIRED, "the issuing root is not valid at that time"))

    for ext in cert.extensions:
        if ext.critical and ext.oid not in _UNDERSTOOD_CRITICAL:
            problems.append(Problem(Failure.UNSUPPORTED_CRITICAL_EXTENSION, ext.oid.dotted_string))

    kind = cert_kind(cert, policy_oids)
    if kind is None:
        problems.append(Problem(Failure.NOT_JPKI, "no JPKI certificate policy"))
    elif expect is not None and kind not in expect:
        problems.append(Problem(Failure.WRONG_USAGE, f"a {kind.value} certificate is not accepted"))
    elif usage is not None and (kind.hierarchy is Hierarchy.SIGN) != (usage is Usage.SIGNING):
        problems.append(
            Problem(Failure.WRONG_USAGE, f"a {kind.value} certificate cannot be used for {usage}")
        )
    ku_problem = _key_usage_problem(cert, usage)
    if ku_problem is not None:
        problems.append(ku_problem)

    facts = None
    if kind is not None and kind.hierarchy is Hierarchy.SIGN:
        try:
            facts = read_facts(cert)
        except ProfileError as exc:
            warnings.append(f"basic four facts unreadable: {exc}")

    result: RevocationResult | None = None
    if revocation is not None and issuer is not None:
        policy = revocation.policy
        result = check_embedded(
            cert,
            issuer,
            revocation.evidence,
            now=now,
            at=at if historical else None,
            policy=policy,
        )
        if result.status is RevocationStatus.UNAVAILABLE and revocation.fetcher is not None:
            online = check_revocation(cert, issuer, revocation.fetcher, now=now, policy=policy)
            if historical and online.status in (RevocationStatus.REVOKED, RevocationStatus.HELD):
                # Current evidence about the past: a revocation dated after ``at`` leaves the
                # signature made at ``at`` standing (RFC 5280 §5.3.2 revocationDate). A hold is
                # only known now, so it counts only if it began before ``at``.
                if online.revoked_at is not None and online.revoked_at > at:
                    online = RevocationResult(
                        RevocationStatus.GOOD,
                        online.source,
                        online.reason_code,
                        online.revoked_at,
                        online.this_update,
                        online.next_update,
                        online.evidence,
                        (*online.notes, f"revoked after {at.isoformat()}"),
                    )
            result = online
        more, warn = _revocation_problems(result, policy)
        problems.extend(more)
        warnings.extend(warn)
    elif revocation is None:
        warnings.append("revocation not checked")

    return CertificateVerdict(
        certificate=cert,
        at=at,
        issuer=issuer,
        kind=kind,
        facts=facts,
        revocation=result,
        problems=tuple(problems),
        warnings=tuple(warnings),
    )
