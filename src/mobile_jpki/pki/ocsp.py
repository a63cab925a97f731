"""OCSP (RFC 6960) request parsing and response building. Pure: no I/O, time is an argument.

Responses are built with asn1crypto rather than cryptography's ``OCSPResponseBuilder`` because
that builder holds a single SingleResponse and we answer several certificates per request
(RFC 6960 §4.1.1 ``requestList``). The signature is made through ``key.sign(...)`` of any
``cryptography`` private key object, so a PKCS#11 key works unchanged.

Responses are signed by a delegated responder (RFC 6960 §4.2.2.2: a certificate issued by the
CA with extKeyUsage id-kp-OCSPSigning), included in ``certs`` and named byKey
(RFC 6960 §4.2.1 ResponderID, SHA-1 of the responder's public key BIT STRING).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

from asn1crypto import algos, core, keys, ocsp
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509 import ocsp as x509_ocsp

from mobile_jpki.pki.model import utc
from mobile_jpki.pki.revocation import Reason
from mobile_jpki.protocol.tlv import encode as _tlv

# RFC 8954 §2.1: Nonce ::= OCTET STRING (SIZE(1..32)).
NONCE_MIN, NONCE_MAX = 1, 32


class OcspError(Exception):
    """A request we refuse; ``status`` is the OCSPResponseStatus to answer with."""

    def __init__(self, message: str, status: ResponseStatus) -> None:
        super().__init__(message)
        self.status = status


class MalformedRequest(OcspError):
    def __init__(self, message: str) -> None:
        super().__init__(message, ResponseStatus.MALFORMED_REQUEST)


class Unauthorized(OcspError):
    """RFC 6960 §2.3: the responder is not authoritative for (one of) the certificates."""

    def __init__(self, message: str) -> None:
        super().__init__(message, ResponseStatus.UNAUTHORIZED)


class ResponseStatus(IntEnum):
    """OCSPResponseStatus, RFC 6960 §4.2.1."""

    SUCCESSFUL = 0
    MALFORMED_REQUEST = 1
    INTERNAL_ERROR = 2
    TRY_LATER = 3
    SIG_REQUIRED = 5
    UNAUTHORIZED = 6


class HashAlgorithm(StrEnum):
    """CertID hash algorithms we accept (RFC 6960 §4.1.1; SHA-1 is what RFC 5019 clients
    send, SHA-256 what newer ones do)."""

    SHA1 = "sha1"
    SHA256 = "sha256"

    def digest(self, data: bytes) -> bytes:
        return hashlib.new(self.value, data).digest()


class CertStatus(StrEnum):
    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class CertId:
    """RFC 6960 §4.1.1 CertID."""

    hash_algorithm: HashAlgorithm
    issuer_name_hash: bytes
    issuer_key_hash: bytes
    serial: int

    @property
    def issuer_key(self) -> tuple[HashAlgorithm, bytes, bytes]:
        return (self.hash_algorithm, self.issuer_name_hash, self.issuer_key_hash)


@dataclass(frozen=True)
class OcspRequest:
    cert_ids: tuple[CertId, ...]
    # The whole nonce extension value (RFC 8954), echoed verbatim; None without one.
    nonce: bytes | None = None


@dataclass(frozen=True)
class SingleAnswer:
    """One SingleResponse (RFC 6960 §4.2.1)."""

    cert_id: CertId
    status: CertStatus
    this_update: dt.datetime
    next_update: dt.datetime | None
    revoked_at: dt.datetime | None = None
    # Absent reasons are legal (RFC 6960 §4.2.1 revocationReason is OPTIONAL): omitted.
    reason: Reason | None = None


@dataclass(frozen=True)
class Responder:
    """A delegated responder: its certificate and its signing key."""

    certificate: x509.Certificate
    key: CertificateIssuerPrivateKeyTypes
    certificate_der: bytes = field(init=False, repr=False, compare=False)
    _key_hash: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        object.__setattr__(self, "certificate_der", der)
        object.__setattr__(self, "_key_hash", public_key_hash(self.certificate, HashAlgorithm.SHA1))

    @property
    def key_hash(self) -> bytes:
        return self._key_hash


# --- identifiers --------------------------------------------------------------------------


def public_key_hash(cert: x509.Certificate, alg: HashAlgorithm) -> bytes:
    """Hash of the subjectPublicKey BIT STRING value (RFC 6960 §4.1.1 issuerKeyHash, excluding
    tag, length and unused-bits octet)."""
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    bits = keys.PublicKeyInfo.load(spki)["public_key"].contents[1:]
    return alg.digest(bits)


def issuer_key(cert: x509.Certificate, alg: HashAlgorithm) -> tuple[HashAlgorithm, bytes, bytes]:
    """The (algorithm, issuerNameHash, issuerKeyHash) a CertID names ``cert`` as issuer by."""
    return (alg, alg.digest(cert.subject.public_bytes()), public_key_hash(cert, alg))


def cert_id(cert: x509.Certificate, issuer: x509.Certificate, alg: HashAlgorithm) -> CertId:
    _, name_hash, key_hash = issuer_key(issuer, alg)
    return CertId(alg, name_hash, key_hash, cert.serial_number)


# --- requests -----------------------------------------------------------------------------


def parse_request(der: bytes) -> OcspRequest:
    """Parse an OCSPRequest (RFC 6960 §4.1.1). Raises :class:`MalformedRequest`.

    The common single-certificate request goes through cryptography's Rust parser (about 10x
    faster than asn1crypto, measured in benchmarks/ocsp.py); requests it declines (several
    certificates) or rejects are decided by the asn1crypto parser below.
    """
    fast = _parse_single(der)
    if fast is not None:
        return fast
    try:
        req = ocsp.OCSPRequest.load(der, strict=True)
        tbs = req["tbs_request"]
        ids = tuple(_parse_cert_id(r["req_cert"]) for r in tbs["request_list"])
        nonce = _parse_nonce(tbs)
    except MalformedRequest:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise MalformedRequest(f"not a DER OCSPRequest: {exc}") from exc
    if not ids:
        raise MalformedRequest("empty requestList")
    return OcspRequest(cert_ids=ids, nonce=nonce)


def rfc5019_cert_id(der: bytes) -> CertId | None:
    """The CertID of a request in the RFC 5019 §2.1 profile — one certificate, SHA-1 CertID, no
    nonce — which is the request a pre-signed response can answer; ``None`` for anything else,
    malformed input included (:func:`parse_request` then decides the error). Never raises."""
    try:
        request = _parse_single(der)
    except MalformedRequest:
        return None
    if request is None or request.cert_ids[0].hash_algorithm is not HashAlgorithm.SHA1:
        return None
    return request.cert_ids[0]


_FAST_HASHES = {"sha1": HashAlgorithm.SHA1, "sha256": HashAlgorithm.SHA256}


def _parse_single(der: bytes) -> OcspRequest | None:
    try:
        req = x509_ocsp.load_der_ocsp_request(der)
        alg = _FAST_HASHES.get(req.hash_algorithm.name)
        extensions = list(req.extensions)
        cid = (req.issuer_name_hash, req.issuer_key_hash, req.serial_number)
    except (ValueError, TypeError, NotImplementedError, UnsupportedAlgorithm):
        # NotImplementedError: several certificates in one request.
        return None
    if alg is None or any(e.oid.dotted_string == _NONCE_OID for e in extensions):
        return None  # unusual algorithm or a nonce: the strict parser checks the details
    size = hashlib.new(alg.value).digest_size
    if len(cid[0]) != size or len(cid[1]) != size:
        raise MalformedRequest("CertID hash length does not match its algorithm")
    return OcspRequest(cert_ids=(CertId(alg, cid[0], cid[1], cid[2]),))


_NONCE_OID = "1.3.6.1.5.5.7.48.1.2"


def _parse_cert_id(value: ocsp.CertId) -> CertId:
    name = value["hash_algorithm"]["algorithm"].native
    try:
        alg = HashAlgorithm(name)
    except ValueError as exc:
        raise MalformedRequest(f"unsupported CertID hash algorithm {name}") from exc
    name_hash = value["issuer_name_hash"].native
    key_hash = value["issuer_key_hash"].native
    size = hashlib.new(alg.value).digest_size
    if len(name_hash) != size or len(key_hash) != size:
        raise MalformedRequest("CertID hash length does not match its algorithm")
    return CertId(alg, name_hash, key_hash, int(value["serial_number"].native))


def _parse_nonce(tbs: ocsp.TBSRequest) -> bytes | None:
    exts = tbs["request_extensions"]
    if not exts.native:
        return None
    for ext in exts:
        if ext["extn_id"].dotted != "1.3.6.1.5.5.7.48.1.2":
            continue
        raw = ext["extn_value"].contents
        try:
            inner = core.OctetString.load(raw, strict=True).native
        except ValueError as exc:
            raise MalformedRequest("nonce is not an OCTET STRING (RFC 8954 §2.1)") from exc
        if not NONCE_MIN <= len(inner) <= NONCE_MAX:
            raise MalformedRequest(f"nonce of {len(inner)} octets; RFC 8954 allows 1 to 32")
        return bytes(raw)
    return None


# --- responses ----------------------------------------------------------------------------


def error_response(status: ResponseStatus) -> bytes:
    """An unsigned error response (RFC 6960 §2.3): only responseStatus, no responseBytes."""
    if status is ResponseStatus.SUCCESSFUL:
        raise ValueError("a successful response needs responseBytes")
    return bytes(ocsp.OCSPResponse({"response_status": int(status)}).dump())


def build_response(
    *,
    responder: Responder,
    answers: Sequence[SingleAnswer],
    produced_at: dt.datetime,
    nonce: bytes | None = None,
) -> bytes:
    """A signed BasicOCSPResponse (RFC 6960 §4.2.1) with one SingleResponse per answer."""
    if not answers:
        raise ValueError("an OCSP response needs at least one SingleResponse")
    tbs = response_data_der(responder.key_hash, answers, produced_at, nonce)
    algorithm, signature = _sign(responder.key, tbs)
    # The envelope is concatenated from DER parts instead of asn1crypto objects: re-encoding
    # the embedded responder certificate through asn1crypto cost ~100 ms per response
    # (measured, benchmarks/issue.py), the signing itself ~1 ms.
    basic = _tlv(
        0x30,
        tbs
        + _algorithm_der(algorithm)
        + _tlv(0x03, b"\x00" + signature)  # BIT STRING, no unused bits
        + _tlv(0xA0, _tlv(0x30, responder.certificate_der)),  # certs [0] EXPLICIT SEQUENCE OF
    )
    # OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED 0, responseBytes [0] EXPLICIT
    #   SEQUENCE { responseType id-pkix-ocsp-basic, response OCTET STRING } } (RFC 6960 §4.2.1)
    return _tlv(0x30, _SUCCESSFUL + _tlv(0xA0, _tlv(0x30, _BASIC_OID + _tlv(0x04, basic))))


@functools.lru_cache(maxsize=8)
def _algorithm_der(name: str) -> bytes:
    # signatureAlgorithm is one of two constants: encoding it through asn1crypto on every
    # response cost ~30-60 us (measured), run under the GIL beside the pool's signatures.
    return bytes(algos.SignedDigestAlgorithm({"algorithm": name}).dump())


_SUCCESSFUL = bytes.fromhex("0a0100")
_BASIC_OID = core.ObjectIdentifier("1.3.6.1.5.5.7.48.1.1").dump()


def response_data_der(
    key_hash: bytes,
    answers: Sequence[SingleAnswer],
    produced_at: dt.datetime,
    nonce: bytes | None = None,
) -> bytes:
    """DER of ResponseData (RFC 6960 §4.2.1), concatenated from parts.

    Measured: asn1crypto's ResponseData encoding was ~3x the RSA signature it precedes
    (benchmarks/issue.py), and issuance pre-signs one response per certificate. Kept byte for
    byte equal to :func:`response_data_reference` (asn1crypto) by tests/pki/test_ocsp_der.py.
    version is v1, the DEFAULT, so omitted (X.690 §11.5)."""
    body = (
        _tlv(0xA2, _tlv(0x04, key_hash))  # responderID byKey [2] EXPLICIT KeyHash
        + _gt_der(produced_at)
        + _tlv(0x30, b"".join(_single_der(a) for a in answers))
    )
    if nonce is not None:
        # responseExtensions [1] EXPLICIT; the request's nonce extension value echoed byte for
        # byte (RFC 8954 §2.1); critical FALSE is the DEFAULT, so omitted.
        body += _tlv(0xA1, _tlv(0x30, _tlv(0x30, _NONCE_OID_DER + _tlv(0x04, nonce))))
    return _tlv(0x30, body)


def response_data_reference(
    key_hash: bytes,
    answers: Sequence[SingleAnswer],
    produced_at: dt.datetime,
    nonce: bytes | None = None,
) -> bytes:
    """The same ResponseData through asn1crypto: the reference the DER-parts encoder is
    tested against."""
    data: dict[str, object] = {
        "responder_id": ocsp.ResponderId(name="by_key", value=key_hash),
        "produced_at": _gt(produced_at),
        "responses": [_single(a) for a in answers],
    }
    if nonce is not None:
        data["response_extensions"] = [
            {"extn_id": "nonce", "critical": False, "extn_value": core.OctetString.load(nonce)}
        ]
    return bytes(ocsp.ResponseData(data).dump())


_NONCE_OID_DER = core.ObjectIdentifier(_NONCE_OID).dump()
_HASH_ALG_DER = {a: algos.DigestAlgorithm({"algorithm": a.value}).dump() for a in HashAlgorithm}


def cert_id_der(cid: CertId) -> bytes:
    """DER of a CertID (RFC 6960 §4.1.1)."""
    return _tlv(
        0x30,
        _HASH_ALG_DER[cid.hash_algorithm]
        + _tlv(0x04, cid.issuer_name_hash)
        + _tlv(0x04, cid.issuer_key_hash)
        + _tlv(0x02, _int_content(cid.serial)),
    )


def _single_der(a: SingleAnswer) -> bytes:
    if a.status is CertStatus.GOOD:
        status = b"\x80\x00"  # good [0] IMPLICIT NULL
    elif a.status is CertStatus.UNKNOWN:
        status = b"\x82\x00"  # unknown [2] IMPLICIT UnknownInfo (NULL)
    else:
        if a.revoked_at is None:
            raise ValueError("a revoked answer needs revocationTime")
        info = _gt_der(a.revoked_at)
        if a.reason is not None:
            # revocationReason [0] EXPLICIT CRLReason (ENUMERATED)
            info += _tlv(0xA0, _tlv(0x0A, _int_content(int(a.reason))))
        status = _tlv(0xA1, info)  # revoked [1] IMPLICIT RevokedInfo
    body = cert_id_der(a.cert_id) + status + _gt_der(a.this_update)
    if a.next_update is not None:
        body += _tlv(0xA0, _gt_der(a.next_update))  # nextUpdate [0] EXPLICIT
    return _tlv(0x30, body)


def _gt_der(value: dt.datetime) -> bytes:
    """GeneralizedTime YYYYMMDDHHMMSSZ: UTC whole seconds (``utc`` truncates), as RFC 5280
    §4.1.2.5.2 asks of certificates and OCSP clients expect (X.690 §11.7)."""
    return _tlv(0x18, utc(value).strftime("%Y%m%d%H%M%SZ").encode("ascii"))


def _int_content(n: int) -> bytes:
    """Content octets of a non-negative INTEGER: minimal two's complement (X.690 §8.3.2)."""
    if n < 0:
        raise ValueError("negative INTEGER")
    return n.to_bytes(n.bit_length() // 8 + 1, "big")


def _single(a: SingleAnswer) -> ocsp.SingleResponse:
    cid = a.cert_id
    status: ocsp.CertStatus
    if a.status is CertStatus.GOOD:
        status = ocsp.CertStatus(name="good", value=core.Null())
    elif a.status is CertStatus.UNKNOWN:
        status = ocsp.CertStatus(name="unknown", value=core.Null())
    else:
        if a.revoked_at is None:
            raise ValueError("a revoked answer needs revocationTime")
        info: dict[str, object] = {"revocation_time": _gt(a.revoked_at)}
        if a.reason is not None:
            info["revocation_reason"] = ocsp.CRLReason(int(a.reason))
        status = ocsp.CertStatus(name="revoked", value=ocsp.RevokedInfo(info))
    single: dict[str, object] = {
        "cert_id": {
            "hash_algorithm": {"algorithm": cid.hash_algorithm.value},
            "issuer_name_hash": cid.issuer_name_hash,
            "issuer_key_hash": cid.issuer_key_hash,
            "serial_number": cid.serial,
        },
        "cert_status": status,
        "this_update": _gt(a.this_update),
    }
    if a.next_update is not None:
        single["next_update"] = _gt(a.next_update)
    return ocsp.SingleResponse(single)


def _gt(value: dt.datetime) -> core.GeneralizedTime:
    return core.GeneralizedTime(utc(value))


def _sign(key: CertificateIssuerPrivateKeyTypes, tbs: bytes) -> tuple[str, bytes]:
    if isinstance(key, rsa.RSAPrivateKey):
        return "sha256_rsa", key.sign(tbs, padding.PKCS1v15(), hashes.SHA256())
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "sha256_ecdsa", key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    raise TypeError(f"unsupported responder key type {type(key).__name__}")


# --- reading responses (for tests, the CLI and the relying-party kit) ------------------------


@dataclass(frozen=True)
class ParsedResponse:
    status: ResponseStatus
    answers: tuple[SingleAnswer, ...] = ()
    produced_at: dt.datetime | None = None
    nonce: bytes | None = None


def parse_response(der: bytes) -> ParsedResponse:
    """Decode a response without verifying its signature (the relying-party kit verifies)."""
    resp = ocsp.OCSPResponse.load(der)
    status = ResponseStatus(int(resp["response_status"]))
    if status is not ResponseStatus.SUCCESSFUL:
        return ParsedResponse(status)
    data = resp.basic_ocsp_response["tbs_response_data"]
    answers = []
    for single in data["responses"]:
        cid = single["cert_id"]
        kind = single["cert_status"].name
        revoked_at = reason = None
        if kind == "revoked":
            info = single["cert_status"].chosen
            revoked_at = info["revocation_time"].native
            raw_reason = info["revocation_reason"]
            if raw_reason.native is not None:
                reason = Reason(int(raw_reason))
        answers.append(
            SingleAnswer(
                cert_id=_parse_cert_id(cid),
                status=CertStatus(kind),
                this_update=single["this_update"].native,
                next_update=single["next_update"].native,
                revoked_at=revoked_at,
                reason=reason,
            )
        )
    nonce = None
    for ext in data["response_extensions"] or []:
        if ext["extn_id"].dotted == "1.3.6.1.5.5.7.48.1.2":
            nonce = bytes(ext["extn_value"].contents)
    return ParsedResponse(status, tuple(answers), data["produced_at"].native, nonce)


def unique_issuers(ids: Iterable[CertId]) -> set[tuple[HashAlgorithm, bytes, bytes]]:
    return {c.issuer_key for c in ids}
