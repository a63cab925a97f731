"""An RFC 3161 time-stamp authority: parse TimeStampReq, build signed TimeStampResp. Pure: the
time, the serial number and the key are handed in.

The token is a CMS SignedData (RFC 5652) over a TSTInfo (RFC 3161 §2.4.2) with the signed
attributes contentType = id-ct-TSTInfo, messageDigest and ESS signingCertificateV2
(RFC 5816 §2.2.1, which RFC 3161 §2.4.1 requires to identify the TSA certificate). The TSA
certificate must carry extKeyUsage id-kp-timeStamping, critical and alone (RFC 3161 §2.3); the
CA issues it, this module refuses any other.

Our TSA policy OID is a UUID OID (ITU-T X.667, arc ``2.25``): a self-allocated identifier that
cannot collide with J-LIS's or anyone's registered arc. Override it per deployment.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from enum import StrEnum

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID

from mobile_jpki.pki.model import utc

#: mobile-jpki's TSA policy: 2.25.<UUID as an integer> (X.667 §6.3).
TSA_POLICY = "2.25.22529421754060489241780572204202235763"

#: Message-imprint hashes we accept, with their digest lengths (RFC 3161 §2.4.1: a TSA must
#: refuse an unknown hash algorithm with badAlg, and a wrong-length imprint with badDataFormat).
HASH_LENGTHS = {"sha256": 32, "sha384": 48, "sha512": 64}


class FailureInfo(StrEnum):
    """PKIFailureInfo bits (RFC 3161 §2.4.2) we answer with."""

    BAD_ALG = "bad_alg"
    BAD_REQUEST = "bad_request"
    BAD_DATA_FORMAT = "bad_data_format"
    UNACCEPTED_POLICY = "unaccepted_policy"
    SYSTEM_FAILURE = "system_failure"


class TsaError(Exception):
    """A request we refuse; answered as a ``rejection`` with ``failure``."""

    def __init__(self, failure: FailureInfo, message: str) -> None:
        super().__init__(message)
        self.failure = failure
        self.message = message


@dataclass(frozen=True)
class TimeStampRequest:
    hash_algorithm: str
    message_imprint: bytes
    nonce: int | None = None
    cert_req: bool = False
    policy: str | None = None


@dataclass(frozen=True)
class TimeStampAuthority:
    """The TSA's certificate and key (any ``cryptography`` private key: software or PKCS#11),
    its chain to include on certReq, its policy and accuracy."""

    certificate: x509.Certificate
    key: CertificateIssuerPrivateKeyTypes
    chain: tuple[x509.Certificate, ...] = ()
    policy: str = TSA_POLICY
    accuracy: dt.timedelta = dt.timedelta(seconds=1)
    _der: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            eku = self.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
        except x509.ExtensionNotFound:
            raise ValueError("a TSA certificate needs extKeyUsage id-kp-timeStamping") from None
        if not eku.critical or list(eku.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
            raise ValueError("RFC 3161 §2.3: the only EKU must be id-kp-timeStamping, critical")
        pub = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        cert_pub = self.certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if pub != cert_pub:
            raise ValueError("the TSA key does not belong to the TSA certificate")
        object.__setattr__(self, "_der", self.certificate.public_bytes(serialization.Encoding.DER))


def parse_request(der: bytes) -> TimeStampRequest:
    try:
        req = tsp.TimeStampReq.load(der)
        req.native  # noqa: B018 - force a full parse so malformed input fails here
    except (ValueError, TypeError) as exc:
        raise TsaError(FailureInfo.BAD_DATA_FORMAT, f"not a TimeStampReq: {exc}") from None
    if req["version"].native != "v1":
        raise TsaError(FailureInfo.BAD_REQUEST, "only TimeStampReq version 1 exists")
    imprint = req["message_imprint"]
    alg = imprint["hash_algorithm"]["algorithm"].native
    digest = bytes(imprint["hashed_message"].native)
    if alg not in HASH_LENGTHS:
        raise TsaError(FailureInfo.BAD_ALG, f"hash algorithm {alg} is not accepted")
    if len(digest) != HASH_LENGTHS[alg]:
        raise TsaError(
            FailureInfo.BAD_DATA_FORMAT, f"a {alg} imprint has {HASH_LENGTHS[alg]} bytes"
        )
    if req["extensions"].native:
        # RFC 3161 §2.4.1: unrecognised extensions must be refused (we support none).
        raise TsaError(FailureInfo.BAD_REQUEST, "request extensions are not supported")
    policy = req["req_policy"].dotted if req["req_policy"].native is not None else None
    return TimeStampRequest(
        hash_algorithm=alg,
        message_imprint=digest,
        nonce=req["nonce"].native,
        cert_req=bool(req["cert_req"].native),
        policy=policy,
    )


class _RejectionResp(core.Sequence):  # type: ignore[misc]
    """TimeStampResp without a token. asn1crypto declares timeStampToken mandatory, but
    RFC 3161 §2.4.2 makes it OPTIONAL (absent unless granted)."""

    _fields = [("status", tsp.PKIStatusInfo)]  # noqa: RUF012 - asn1crypto's schema attribute


class _AnyResp(core.Sequence):  # type: ignore[misc]
    _fields = [  # noqa: RUF012 - asn1crypto's schema attribute
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


@dataclass(frozen=True)
class TimeStampReply:
    """A TimeStampResp as a client reads it."""

    status: str  # granted, granted_with_mods, rejection, waiting, ...
    failures: frozenset[str]
    text: str
    token: bytes | None  # DER ContentInfo (SignedData over TSTInfo)

    @property
    def granted(self) -> bool:
        return self.status in ("granted", "granted_with_mods") and self.token is not None


def read_response(der: bytes) -> TimeStampReply:
    try:
        resp = _AnyResp.load(der)
        status = resp["status"]
        token = resp["time_stamp_token"]
        return TimeStampReply(
            status=status["status"].native,
            failures=frozenset(status["fail_info"].native or ()),
            text=" ".join(status["status_string"].native or ()),
            token=None if token.native is None else bytes(token.dump()),
        )
    except (ValueError, TypeError) as exc:
        raise TsaError(FailureInfo.BAD_DATA_FORMAT, f"not a TimeStampResp: {exc}") from None


def error_response(failure: FailureInfo, text: str) -> bytes:
    return bytes(
        _RejectionResp(
            {
                "status": {
                    "status": "rejection",
                    "status_string": [text],
                    "fail_info": tsp.PKIFailureInfo({failure.value}),
                }
            }
        ).dump()
    )


def _sign(key: CertificateIssuerPrivateKeyTypes, data: bytes) -> tuple[str, bytes]:
    if isinstance(key, rsa.RSAPrivateKey):
        return "sha256_rsa", key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "sha256_ecdsa", key.sign(data, ec.ECDSA(hashes.SHA256()))
    raise TypeError(f"unsupported TSA key type {type(key).__name__}")


def build_response(
    request: TimeStampRequest, *, tsa: TimeStampAuthority, now: dt.datetime, serial: int
) -> bytes:
    """A granted TimeStampResp whose token says ``request``'s imprint existed at ``now``.

    ``serial`` must be unique per TSA (RFC 3161 §2.4.2: up to 160 bits); the caller allocates it.
    """
    if request.policy is not None and request.policy != tsa.policy:
        return error_response(FailureInfo.UNACCEPTED_POLICY, f"we time-stamp under {tsa.policy}")
    cert = ax509.Certificate.load(tsa._der)
    seconds = int(tsa.accuracy.total_seconds())
    millis = tsa.accuracy.microseconds // 1000
    accuracy: dict[str, int] = {}
    if seconds:
        accuracy["seconds"] = seconds
    if millis:
        accuracy["millis"] = millis
    info: dict[str, object] = {
        "version": "v1",
        "policy": tsa.policy,
        "message_imprint": {
            "hash_algorithm": {"algorithm": request.hash_algorithm},
            "hashed_message": request.message_imprint,
        },
        "serial_number": serial,
        "gen_time": utc(now),
        "accuracy": accuracy,
        "tsa": ax509.GeneralName(name="directory_name", value=cert.subject),
    }
    if request.nonce is not None:
        info["nonce"] = request.nonce  # RFC 3161 §2.4.2: MUST echo the request's nonce
    tst = tsp.TSTInfo(info)
    tst_der = tst.dump()
    signed_attrs = cms.CMSAttributes(
        [
            {"type": "content_type", "values": ["tst_info"]},
            {"type": "message_digest", "values": [hashlib.sha256(tst_der).digest()]},
            {
                "type": "signing_certificate_v2",
                "values": [
                    {
                        "certs": [
                            {
                                "cert_hash": hashlib.sha256(tsa._der).digest(),
                                "issuer_serial": {
                                    "issuer": [
                                        ax509.GeneralName(name="directory_name", value=cert.issuer)
                                    ],
                                    "serial_number": cert.serial_number,
                                },
                            }
                        ]
                    }
                ],
            },
        ]
    )
    # RFC 5652 §5.4: the signature covers the DER of the attributes with the SET OF tag.
    sig_alg, signature = _sign(tsa.key, signed_attrs.dump())
    certs = [cert] + [
        ax509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in tsa.chain
    ]
    signed_data = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
            "encap_content_info": {
                "content_type": "tst_info",
                "content": core.ParsableOctetString(tst_der),
            },
            "certificates": certs if request.cert_req else None,
            "signer_infos": [
                {
                    "version": "v1",
                    "sid": cms.SignerIdentifier(
                        name="issuer_and_serial_number",
                        value={"issuer": cert.issuer, "serial_number": cert.serial_number},
                    ),
                    "digest_algorithm": {"algorithm": "sha256"},
                    "signed_attrs": signed_attrs,
                    "signature_algorithm": {"algorithm": sig_alg},
                    "signature": signature,
                }
            ],
        }
    )
    token = cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
    return bytes(
        tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token}).dump()
    )


def respond(der: bytes, *, tsa: TimeStampAuthority, now: dt.datetime, serial: int) -> bytes:
    """Parse and answer in one step; refusals become ``rejection`` responses, never errors."""
    try:
        request = parse_request(der)
    except TsaError as exc:
        return error_response(exc.failure, exc.message)
    return build_response(request, tsa=tsa, now=now, serial=serial)


def build_request(
    data_digest: bytes,
    *,
    hash_algorithm: str = "sha256",
    nonce: int | None = None,
    cert_req: bool = True,
) -> bytes:
    """A TimeStampReq for a digest (clients: the CMS and PDF signers, tests)."""
    req: dict[str, object] = {
        "version": "v1",
        "message_imprint": {
            "hash_algorithm": {"algorithm": hash_algorithm},
            "hashed_message": data_digest,
        },
        "cert_req": cert_req,
    }
    if nonce is not None:
        req["nonce"] = nonce
    return bytes(tsp.TimeStampReq(req).dump())
