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
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from asn1crypto import keys as akeys
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from mobile_jpki.pki.model import utc
from mobile_jpki.pki.revocation import Reason
from mobile_jpki.verify.errors import FetchError, RevocationCheckError
from mobile_jpki.verify.fetch import CrlFetcher, Fetcher, OcspFetcher


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

_FLAG_CODES: dict[x509.ReasonFlags, int] = {
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
_REMOVE = 8


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

    def describe(self) -> str:
        """One line for people: ``revoked (superseded: replaced, ...) at 2026-04-01T09:00:00Z
        [ocsp]``."""
        text = self.status.value
        if self.reason_word is not None:
            text += f" ({self.reason_word}: {self.reason_meaning})"
        if self.revoked_at is not None:
            text += f" at {self.revoked_at.isoformat().replace('+00:00', 'Z')}"
        if self.source is not None:
            text += f" [{self.source.value}]"
        if self.status is RevocationStatus.UNAVAILABLE and self.notes:
            text += ": " + "; ".join(self.notes)
        return text


# --- helpers ------------------------------------------------------------------------------------


def _spki_bits(cert: x509.Certificate) -> bytes:
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # RFC 6960 §4.1.1: the hash of the BIT STRING value, without tag, length and unused-bits byte.
    return bytes(akeys.PublicKeyInfo.load(spki)["public_key"].contents[1:])


def _digest(alg: hashes.HashAlgorithm, data: bytes) -> bytes:
    h = hashes.Hash(alg)
    h.update(data)
    return h.finalize()


def _ski(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return None


def _aki(obj: x509.Certificate | x509.CertificateRevocationList) -> bytes | None:
    try:
        return obj.extensions.get_extension_for_class(
            x509.AuthorityKeyIdentifier
        ).value.key_identifier
    except x509.ExtensionNotFound:
        return None


def verify_signature(
    public_key: object, signature: bytes, data: bytes, algorithm: hashes.HashAlgorithm | None
) -> bool:
    """RSA PKCS#1 v1.5 or ECDSA signature check; False rather than an exception."""
    if algorithm is None:
        return False
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(algorithm))
        else:
            return False
    except InvalidSignature:
        return False
    return True


def ocsp_urls(cert: x509.Certificate) -> list[str]:
    """OCSP responder URLs from authorityInfoAccess (RFC 5280 §4.2.2.1)."""
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return []
    return [
        d.access_location.value
        for d in aia
        if d.access_method == AuthorityInformationAccessOID.OCSP
        and isinstance(d.access_location, x509.UniformResourceIdentifier)
    ]


def _dp_uris(points: x509.CRLDistributionPoints | x509.FreshestCRL) -> list[str]:
    return [
        name.value
        for point in points
        for name in point.full_name or []
        if isinstance(name, x509.UniformResourceIdentifier)
    ]


def crl_urls(cert: x509.Certificate) -> list[str]:
    """CRL URLs from cRLDistributionPoints (RFC 5280 §4.2.1.13)."""
    try:
        return _dp_uris(cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value)
    except x509.ExtensionNotFound:
        return []


def delta_crl_urls(cert: x509.Certificate | x509.CertificateRevocationList) -> list[str]:
    """Delta CRL URLs from freshestCRL (RFC 5280 §4.2.1.15 / §5.2.6)."""
    try:
        return _dp_uris(cert.extensions.get_extension_for_class(x509.FreshestCRL).value)
    except x509.ExtensionNotFound:
        return []


def _check_fresh(
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


def _status_at(
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
            **common,  # type: ignore[arg-type]
        )
    status = RevocationStatus.HELD if reason_code == _HOLD else RevocationStatus.REVOKED
    return RevocationResult(status, source, reason_code, revoked_at, **common)  # type: ignore[arg-type]


# --- OCSP ---------------------------------------------------------------------------------------


def build_ocsp_request(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    *,
    policy: RevocationPolicy = DEFAULT_POLICY,
    nonce: bytes | None = None,
) -> bytes:
    """A DER OCSPRequest for one certificate (RFC 6960 §4.1.1), with ``nonce`` (RFC 8954) if
    given."""
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, policy.cert_id_hash())
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def _ocsp_signer(resp: ocsp.OCSPResponse, issuer: x509.Certificate) -> x509.Certificate:
    """The certificate whose key must have signed ``resp``: the issuer itself, or a delegated
    responder issued by it (RFC 6960 §4.2.2.2)."""

    def names(cert: x509.Certificate) -> bool:
        if resp.responder_key_hash is not None:
            # ResponderID byKey is SHA-1 by definition (RFC 6960 §4.2.1), not a choice of ours.
            key_hash = _digest(hashes.SHA1(), _spki_bits(cert))  # noqa: S303
            return resp.responder_key_hash == key_hash
        return resp.responder_name == cert.subject

    if names(issuer):
        return issuer
    for cand in resp.certificates:
        if not names(cand):
            continue
        try:
            cand.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            raise RevocationCheckError(
                Source.OCSP, "the responder certificate is not issued by the certificate's issuer"
            ) from None
        ski, aki = _ski(issuer), _aki(cand)
        if ski is not None and aki is not None and ski != aki:
            raise RevocationCheckError(
                Source.OCSP, "the responder certificate is issued by another issuer key"
            )
        try:
            eku = cand.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            eku = x509.ExtendedKeyUsage([])
        if ExtendedKeyUsageOID.OCSP_SIGNING not in eku:
            raise RevocationCheckError(
                Source.OCSP, "the responder certificate lacks extKeyUsage id-kp-OCSPSigning"
            )
        produced = resp.produced_at_utc
        if not cand.not_valid_before_utc <= produced <= cand.not_valid_after_utc:
            raise RevocationCheckError(
                Source.OCSP, "the responder certificate was not valid when the response was made"
            )
        return cand
    raise RevocationCheckError(Source.OCSP, "response signed by an unknown responder")


def verify_ocsp_response(
    der: bytes,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    *,
    now: dt.datetime,
    at: dt.datetime | None = None,
    policy: RevocationPolicy = DEFAULT_POLICY,
    nonce: bytes | None = None,
) -> RevocationResult:
    """Check a DER OCSPResponse about ``cert`` (issued by ``issuer``) and read its status.

    ``nonce``: what we sent; a response echoing another nonce is refused (a replayed or
    mis-cached answer), one echoing none is refused only under ``policy.require_nonce``.
    Raises :class:`RevocationCheckError` when the response cannot be relied on.
    """
    now = utc(now)
    try:
        resp = ocsp.load_der_ocsp_response(der)
    except ValueError as exc:
        raise RevocationCheckError(Source.OCSP, f"not an OCSP response: {exc}") from None
    if resp.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise RevocationCheckError(
            Source.OCSP, f"responder answered {resp.response_status.name.lower()}"
        )
    signer = _ocsp_signer(resp, issuer)
    if not verify_signature(
        signer.public_key(), resp.signature, resp.tbs_response_bytes, resp.signature_hash_algorithm
    ):
        raise RevocationCheckError(Source.OCSP, "bad signature on the OCSP response")
    if nonce is not None:
        try:
            ext = resp.extensions.get_extension_for_class(x509.OCSPNonce)
            echoed: bytes | None = ext.value.nonce
        except x509.ExtensionNotFound:
            echoed = None
        if echoed is not None and echoed != nonce:
            raise RevocationCheckError(Source.OCSP, "the response echoes another request's nonce")
        if echoed is None and policy.require_nonce:
            raise RevocationCheckError(Source.OCSP, "the response does not echo our nonce")
    name_bytes = cert.issuer.public_bytes()
    key_bits = _spki_bits(issuer)
    for single in resp.responses:
        alg = single.hash_algorithm
        if (
            single.serial_number == cert.serial_number
            and single.issuer_name_hash == _digest(alg, name_bytes)
            and single.issuer_key_hash == _digest(alg, key_bits)
        ):
            break
    else:
        raise RevocationCheckError(Source.OCSP, "the response is about another certificate")
    this_update, next_update = single.this_update_utc, single.next_update_utc
    _check_fresh(Source.OCSP, this_update, next_update, now=now, at=at, policy=policy)
    common = {
        "this_update": this_update,
        "next_update": next_update,
        "evidence": Evidence(ocsp_responses=(der,)),
    }
    status = single.certificate_status
    if status is ocsp.OCSPCertStatus.GOOD:
        return RevocationResult(RevocationStatus.GOOD, Source.OCSP, **common)  # type: ignore[arg-type]
    if status is ocsp.OCSPCertStatus.UNKNOWN:
        return RevocationResult(RevocationStatus.UNKNOWN, Source.OCSP, **common)  # type: ignore[arg-type]
    revoked_at = single.revocation_time_utc
    assert revoked_at is not None  # noqa: S101 - REVOKED always carries revocationTime
    flag = single.revocation_reason
    code = _FLAG_CODES[flag] if flag is not None else None
    return _status_at(Source.OCSP, code, revoked_at, at, **common)


def check_ocsp(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    fetcher: OcspFetcher,
    *,
    now: dt.datetime,
    policy: RevocationPolicy = DEFAULT_POLICY,
    randbytes: Callable[[int], bytes] = secrets.token_bytes,
) -> RevocationResult:
    """Ask the responder named in the certificate's AIA."""
    urls = ocsp_urls(cert)
    if not urls:
        raise RevocationCheckError(Source.OCSP, "the certificate names no OCSP responder")
    nonce = randbytes(32) if policy.send_nonce else None
    request = build_ocsp_request(cert, issuer, policy=policy, nonce=nonce)
    errors = []
    for url in urls:
        try:
            der = fetcher.fetch_ocsp(url, request)
            return verify_ocsp_response(der, cert, issuer, now=now, policy=policy, nonce=nonce)
        except (FetchError, RevocationCheckError) as exc:
            errors.append(str(exc))
    raise RevocationCheckError(Source.OCSP, "; ".join(errors))


# --- CRL ----------------------------------------------------------------------------------------


def _load_crl(der: bytes, what: str) -> x509.CertificateRevocationList:
    try:
        return x509.load_der_x509_crl(der)
    except ValueError:
        try:
            return x509.load_pem_x509_crl(der)
        except ValueError as exc:
            raise RevocationCheckError(Source.CRL, f"{what} is not a CRL: {exc}") from None


def _der(blob: bytes) -> bytes:
    """DER of a CRL given as DER or PEM."""
    if blob[:1] == b"\x30":
        return blob
    return _load_crl(blob, "the CRL").public_bytes(serialization.Encoding.DER)


def _crl_number(crl: x509.CertificateRevocationList) -> int | None:
    try:
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        return None


def _idp(crl: x509.CertificateRevocationList) -> x509.IssuingDistributionPoint | None:
    try:
        return crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint).value
    except x509.ExtensionNotFound:
        return None


def _der_header(der: bytes, at: int) -> tuple[int, int]:
    """(offset of the contents, length of the contents) of the DER TLV at ``at`` (X.690 §8.1)."""
    if at + 2 > len(der):
        raise ValueError("truncated DER")
    first = der[at + 1]
    if first < 0x80:
        return at + 2, first
    n = first & 0x7F
    if n == 0 or n > 4 or at + 2 + n > len(der):
        raise ValueError("unsupported DER length")
    return at + 2 + n, int.from_bytes(der[at + 2 : at + 2 + n], "big")


def tbs_certlist(der: bytes) -> bytes:
    """The tbsCertList TLV of a DER CRL, sliced from the received bytes.

    Measured: cryptography's ``CertificateRevocationList.tbs_certlist_bytes`` (and with it
    ``is_signature_valid``) re-encodes the list: 2.5 s for 300,000 entries, against 0.03 s to
    hash and verify the slice. JPKI CRLs reach millions of entries (``benchmarks/verify_crl.py``).
    The signature is over exactly these bytes (RFC 5280 §5.1.1.3), so the slice is also the
    more faithful check.
    """
    if not der or der[0] != 0x30:
        raise ValueError("not a DER SEQUENCE")
    contents, _ = _der_header(der, 0)
    if der[contents] != 0x30:
        raise ValueError("tbsCertList is not a SEQUENCE")
    inner, length = _der_header(der, contents)
    if inner + length > len(der):
        raise ValueError("truncated tbsCertList")
    return der[contents : inner + length]


def _check_crl_signed(
    crl: x509.CertificateRevocationList, der: bytes, issuer: x509.Certificate, what: str
) -> None:
    if crl.issuer != issuer.subject:
        raise RevocationCheckError(Source.CRL, f"{what} is issued by another CA")
    ski, aki = _ski(issuer), _aki(crl)
    if ski is not None and aki is not None and ski != aki:
        # Same DN, other generation's key (RFC 5280 §5.2.1).
        raise RevocationCheckError(Source.CRL, f"{what} is signed by another generation's key")
    if not verify_signature(
        issuer.public_key(), crl.signature, tbs_certlist(der), crl.signature_hash_algorithm
    ):
        raise RevocationCheckError(Source.CRL, f"bad signature on the {what}")


def _check_scope(
    crl: x509.CertificateRevocationList, cert: x509.Certificate, what: str
) -> x509.IssuingDistributionPoint | None:
    """RFC 5280 §6.3.3 (b): the CRL's scope must cover the certificate."""
    idp = _idp(crl)
    if idp is None:
        return None  # a complete CRL for everything the issuer issued
    if idp.indirect_crl or idp.only_some_reasons is not None:
        raise RevocationCheckError(Source.CRL, f"{what}: partitioned or indirect CRLs unsupported")
    if idp.only_contains_ca_certs or idp.only_contains_attribute_certs:
        raise RevocationCheckError(Source.CRL, f"{what} does not cover end-entity certificates")
    if idp.full_name is not None:
        cdp = set(crl_urls(cert))
        names = {n.value for n in idp.full_name if isinstance(n, x509.UniformResourceIdentifier)}
        if not cdp & names:
            raise RevocationCheckError(
                Source.CRL, f"{what} is for another shard than the certificate's distribution point"
            )
    return idp


def verify_crls(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    full_der: bytes,
    delta_der: bytes | None = None,
    *,
    now: dt.datetime,
    at: dt.datetime | None = None,
    policy: RevocationPolicy = DEFAULT_POLICY,
) -> RevocationResult:
    """Status of ``cert`` from its shard's complete CRL and, if given and applicable, the delta.

    The delta applies only when (RFC 5280 §5.2.4) it carries deltaCRLIndicator, has the same
    issuer, key and IssuingDistributionPoint as the complete CRL, names a base CRL number ≤ the
    complete CRL's number, and its own number is greater. An inapplicable delta is ignored with
    a note (the complete CRL alone still answers within its nextUpdate).
    """
    try:
        return _verify_crls(cert, issuer, full_der, delta_der, now=now, at=at, policy=policy)
    except (ValueError, KeyError) as exc:
        # cryptography parses a CRL lazily: a damaged extension or entry surfaces only when it
        # is read. Untrusted bytes from the network get a verdict, never a stray exception.
        raise RevocationCheckError(Source.CRL, f"malformed CRL: {exc}") from None


def _verify_crls(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    full_der: bytes,
    delta_der: bytes | None,
    *,
    now: dt.datetime,
    at: dt.datetime | None,
    policy: RevocationPolicy,
) -> RevocationResult:
    now = utc(now)
    full = _load_crl(full_der, "the CRL")
    try:
        full.extensions.get_extension_for_class(x509.DeltaCRLIndicator)
        raise RevocationCheckError(Source.CRL, "a delta CRL was given as the complete CRL")
    except x509.ExtensionNotFound:
        pass
    _check_crl_signed(full, _der(full_der), issuer, "CRL")
    full_idp = _check_scope(full, cert, "CRL")
    next_update = full.next_update_utc
    _check_fresh(Source.CRL, full.last_update_utc, next_update, now=now, at=at, policy=policy)
    evidence = Evidence(crls=(full_der,))
    notes: list[str] = []
    entry = full.get_revoked_certificate_by_serial_number(cert.serial_number)
    this_update = full.last_update_utc

    if delta_der is not None:
        try:
            delta = _load_crl(delta_der, "the delta CRL")
            try:
                base = delta.extensions.get_extension_for_class(x509.DeltaCRLIndicator).value
            except x509.ExtensionNotFound:
                raise RevocationCheckError(Source.CRL, "not a delta CRL") from None
            full_number, delta_number = _crl_number(full), _crl_number(delta)
            if full_number is None or delta_number is None:
                raise RevocationCheckError(Source.CRL, "a CRL without cRLNumber")
            if base.crl_number > full_number:
                raise RevocationCheckError(
                    Source.CRL,
                    f"delta is based on CRL {base.crl_number}, newer than ours ({full_number})",
                )
            if delta_number <= full_number:
                raise RevocationCheckError(Source.CRL, "delta is not newer than the complete CRL")
            _check_crl_signed(delta, _der(delta_der), issuer, "delta CRL")
            if _idp(delta) != full_idp:
                raise RevocationCheckError(Source.CRL, "delta has another scope (IDP)")
            _check_fresh(
                Source.CRL,
                delta.last_update_utc,
                delta.next_update_utc,
                now=now,
                at=at,
                policy=policy,
            )
        except RevocationCheckError as exc:
            notes.append(f"delta CRL ignored: {exc.detail}")
        else:
            evidence = evidence + Evidence(crls=(delta_der,))
            this_update, next_update = delta.last_update_utc, delta.next_update_utc
            delta_entry = delta.get_revoked_certificate_by_serial_number(cert.serial_number)
            if delta_entry is not None:
                # removeFromCRL (RFC 5280 §5.3.1): a released hold; otherwise the delta's newer
                # entry (e.g. hold → revoked) wins.
                entry = None if _entry_reason(delta_entry) == _REMOVE else delta_entry

    common = {
        "this_update": this_update,
        "next_update": next_update,
        "evidence": evidence,
        "notes": tuple(notes),
    }
    if entry is None:
        return RevocationResult(RevocationStatus.GOOD, Source.CRL, **common)  # type: ignore[arg-type]
    return _status_at(Source.CRL, _entry_reason(entry), entry.revocation_date_utc, at, **common)


def _entry_reason(entry: x509.RevokedCertificate) -> int | None:
    try:
        flag = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    except x509.ExtensionNotFound:
        return None
    return _FLAG_CODES[flag]


def check_crl(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    fetcher: CrlFetcher,
    *,
    now: dt.datetime,
    policy: RevocationPolicy = DEFAULT_POLICY,
) -> RevocationResult:
    """Download the certificate's shard CRL (and its delta) and check it."""
    urls = crl_urls(cert)
    if not urls:
        raise RevocationCheckError(Source.CRL, "the certificate names no CRL distribution point")
    errors = []
    for url in urls:
        try:
            full_der = fetcher.fetch_crl(url)
        except FetchError as exc:
            errors.append(str(exc))
            continue
        delta_der = None
        if policy.use_delta_crl:
            delta_urls = delta_crl_urls(cert) or delta_crl_urls(_load_crl(full_der, "the CRL"))
            for delta_url in delta_urls:
                try:
                    delta_der = fetcher.fetch_crl(delta_url)
                    break
                except FetchError:
                    continue  # the complete CRL alone is still a valid answer
        try:
            return verify_crls(cert, issuer, full_der, delta_der, now=now, policy=policy)
        except RevocationCheckError as exc:
            errors.append(str(exc))
    raise RevocationCheckError(Source.CRL, "; ".join(errors))


# --- both ---------------------------------------------------------------------------------------


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
            crl = _load_crl(der, "embedded CRL")
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


__all__: Sequence[str] = [
    "DEFAULT_POLICY",
    "Evidence",
    "FailMode",
    "RevocationPolicy",
    "RevocationResult",
    "RevocationStatus",
    "Source",
    "acceptable",
    "build_ocsp_request",
    "check_crl",
    "check_embedded",
    "check_ocsp",
    "check_revocation",
    "verify_crls",
    "verify_ocsp_response",
]
