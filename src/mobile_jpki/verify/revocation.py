"""Revocation status of a JPKI certificate, from OCSP (RFC 6960) or CRLs (RFC 5280 §5, §6.3).

Pure checks (:func:`verify_ocsp_response`, :func:`verify_crls`) take DER and time and return a
:class:`RevocationResult`; :func:`check_revocation` adds the I/O through an injected fetcher and
applies the :class:`RevocationPolicy` (which sources, in what order, soft or hard fail).

Two questions are answered, chosen by ``at``:

- *current* status (``at is None``): the evidence must be fresh at ``now``
  (thisUpdate ≤ now + skew ≤ nextUpdate + 2·skew, RFC 6960 §4.2.2.1 / RFC 5280 §6.3.3 (a)(2));
- status *at a past instant* ``at`` (the signing time a time-stamp or the signature's own embedded
  evidence proves): the evidence must have been issued after ``at`` (ETSI EN 319 102-1 §5.2.5,
  "freshness" of revocation information relative to the time of interest), and a revocation
  dated after ``at`` does not affect it.

Signers are checked: an OCSP response is signed by the issuer itself or by a delegated responder
whose certificate carries id-kp-OCSPSigning and is issued by the same issuer key (RFC 6960
§4.2.2.2); a CRL is signed by the issuer key (JPKI roots sign their own CRLs). Root generations
share one DN (JPKI-FACTS.md), so key identifiers, not names, decide which key must have signed.

The vocabulary (status, policy, evidence, result) and the freshness rule are
:mod:`mobile_jpki.verify.revocation_model`; the two sources are
:mod:`mobile_jpki.verify.ocsp_check` and :mod:`mobile_jpki.verify.crl_check`. This module
composes them: the policy's sources in order, evidence carried with a signature, and the verdict.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Sequence
from dataclasses import replace

from cryptography import x509

from mobile_jpki.verify.crl_check import check_crl, load_crl, verify_crls
from mobile_jpki.verify.errors import RevocationCheckError
from mobile_jpki.verify.fetch import Fetcher
from mobile_jpki.verify.ocsp_check import check_ocsp, verify_ocsp_response
from mobile_jpki.verify.revocation_model import (
    DEFAULT_POLICY,
    Evidence,
    FailMode,
    RevocationPolicy,
    RevocationResult,
    RevocationStatus,
    Source,
)


def check_revocation(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    fetcher: Fetcher,
    *,
    now: dt.datetime,
    policy: RevocationPolicy = DEFAULT_POLICY,
    randbytes: Callable[[int], bytes] = secrets.token_bytes,
) -> RevocationResult:
    """Try ``policy.sources`` in order; the first usable answer wins (an OCSP ``unknown`` is an
    answer: the responder says it never issued that serial). If none answers, the result is
    UNAVAILABLE with each source's reason in ``notes``; whether that is acceptable is
    ``policy.fail``'s business (see :func:`acceptable`)."""
    errors: list[str] = []
    for source in policy.sources:
        try:
            if source is Source.OCSP:
                return check_ocsp(
                    cert, issuer, fetcher, now=now, policy=policy, randbytes=randbytes
                )
            if source is Source.CRL:
                return check_crl(cert, issuer, fetcher, now=now, policy=policy)
        except RevocationCheckError as exc:
            errors.append(str(exc))
    return RevocationResult(RevocationStatus.UNAVAILABLE, notes=tuple(errors))


def check_embedded(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    evidence: Evidence,
    *,
    now: dt.datetime,
    at: dt.datetime | None = None,
    policy: RevocationPolicy = DEFAULT_POLICY,
) -> RevocationResult:
    """Status from evidence carried with a signature (OCSP responses first, then CRLs; each
    delta CRL tried with each complete CRL). UNAVAILABLE if none of it is about ``cert`` and
    usable."""
    errors: list[str] = []
    for der in evidence.ocsp_responses:
        try:
            return verify_ocsp_response(der, cert, issuer, now=now, at=at, policy=policy)
        except RevocationCheckError as exc:
            errors.append(str(exc))
    fulls: list[bytes] = []
    deltas: list[bytes] = []
    for der in evidence.crls:
        try:
            crl = load_crl(der, "embedded CRL")
        except RevocationCheckError as exc:
            errors.append(str(exc))
            continue
        try:
            crl.extensions.get_extension_for_class(x509.DeltaCRLIndicator)
            deltas.append(der)
        except x509.ExtensionNotFound:
            fulls.append(der)
    for full in fulls:
        for delta in [*deltas, None]:
            try:
                return verify_crls(cert, issuer, full, delta, now=now, at=at, policy=policy)
            except RevocationCheckError as exc:
                errors.append(str(exc))
    return RevocationResult(RevocationStatus.UNAVAILABLE, notes=tuple(errors))


def acceptable(result: RevocationResult, policy: RevocationPolicy = DEFAULT_POLICY) -> bool:
    """Whether the status lets a verdict pass: GOOD always, UNAVAILABLE only when soft-failing."""
    if result.status is RevocationStatus.GOOD:
        return True
    return result.status is RevocationStatus.UNAVAILABLE and policy.fail is FailMode.SOFT


def with_policy(policy: RevocationPolicy, **changes: object) -> RevocationPolicy:
    """A copy of ``policy`` with ``changes`` (a convenience for CLIs and tests)."""
    return replace(policy, **changes)  # type: ignore[arg-type]


__all__: Sequence[str] = ["acceptable", "check_embedded", "check_revocation", "with_policy"]
