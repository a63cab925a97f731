"""CMS SignedData (RFC 5652) made with any ``cryptography`` private key — software, PKCS#11, or
a My Number Card / phone key whose ``sign`` sends COMPUTE DIGITAL SIGNATURE.

Signed attributes (RFC 5652 §11, CAdES baseline B-B, ETSI EN 319 122-1 §5.2): contentType,
messageDigest, signingTime (the signer's *claim*), and ESS signing-certificate-v2 (RFC 5035) so
the signer certificate cannot be swapped for another with the same key. With a
:class:`~mobile_jpki.signing.timestamp.Timestamper` the SignerInfo gets an unsigned
signature-time-stamp (RFC 3161 Appendix A; CAdES B-T) over the signature value: proof the
signature existed at that time, which is what lets a relying party accept a signature made
before the certificate was revoked (model change, 機種変更).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence

from asn1crypto import algos, cms, core
from asn1crypto import crl as acrl
from asn1crypto import ocsp as aocsp
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from mobile_jpki.pki.model import utc
from mobile_jpki.signing.timestamp import Timestamper

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def _asn1_cert(cert: x509.Certificate) -> ax509.Certificate:
    return ax509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def raw_sign(key: PrivateKeyTypes, data: bytes, digest: str = "sha256") -> tuple[str, bytes]:
    """Sign ``data`` with ``key.sign`` (PKCS#1 v1.5 for RSA — the only scheme the JPKI applet
    offers — or ECDSA); returns the asn1crypto signature algorithm name and the signature."""
    alg = _HASHES[digest]()
    if isinstance(key, rsa.RSAPrivateKey):
        return f"{digest}_rsa", key.sign(data, padding.PKCS1v15(), alg)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return f"{digest}_ecdsa", key.sign(data, ec.ECDSA(alg))
    raise TypeError(f"unsupported signing key type {type(key).__name__}")


def signing_certificate_v2(cert: x509.Certificate) -> dict[str, object]:
    """ESS SigningCertificateV2 (RFC 5035 §3) naming ``cert`` by SHA-256 hash and issuer/serial."""
    der = cert.public_bytes(serialization.Encoding.DER)
    acert = ax509.Certificate.load(der)
    return {
        "certs": [
            {
                "cert_hash": hashlib.sha256(der).digest(),
                "issuer_serial": {
                    "issuer": [ax509.GeneralName(name="directory_name", value=acert.issuer)],
                    "serial_number": acert.serial_number,
                },
            }
        ]
    }


def sign_cms(
    data: bytes,
    key: PrivateKeyTypes,
    certificate: x509.Certificate,
    *,
    signing_time: dt.datetime,
    chain: Sequence[x509.Certificate] = (),
    detached: bool = True,
    digest: str = "sha256",
    timestamper: Timestamper | None = None,
    ocsp_responses: Sequence[bytes] = (),
    crls: Sequence[bytes] = (),
) -> bytes:
    """A DER ContentInfo(SignedData) over ``data``; ``detached`` leaves ``data`` out
    (eContent absent, RFC 5652 §5.2), otherwise it is encapsulated.

    ``ocsp_responses`` and ``crls`` (DER) go into SignedData ``crls`` (RevocationInfoChoices,
    RFC 5652 §10.2.1; OCSP responses as id-ri-ocsp-response, RFC 5940 §2.1): the validation
    data that lets a relying party judge the signer's certificate later without the CA.
    """
    if digest not in _HASHES:
        raise ValueError(f"digest {digest} not supported")
    acert = _asn1_cert(certificate)
    when = signing_time
    message_digest = hashlib.new(digest, data).digest()
    signed_attrs = cms.CMSAttributes(
        [
            {"type": "content_type", "values": ["data"]},
            {"type": "message_digest", "values": [message_digest]},
            {"type": "signing_time", "values": [cms.Time(name="utc_time", value=utc(when))]},
            {"type": "signing_certificate_v2", "values": [signing_certificate_v2(certificate)]},
        ]
    )
    # RFC 5652 §5.4: the signature is over the DER of the attributes as a SET OF (tag 0x31).
    sig_alg, signature = raw_sign(key, signed_attrs.dump(), digest)
    signer: dict[str, object] = {
        "version": "v1",
        "sid": cms.SignerIdentifier(
            name="issuer_and_serial_number",
            value={"issuer": acert.issuer, "serial_number": acert.serial_number},
        ),
        "digest_algorithm": {"algorithm": digest},
        "signed_attrs": signed_attrs,
        "signature_algorithm": {"algorithm": sig_alg},
        "signature": signature,
    }
    if timestamper is not None:
        token = timestamper.timestamp(hashlib.new(digest, signature).digest(), digest)
        signer["unsigned_attrs"] = [
            {"type": "signature_time_stamp_token", "values": [cms.ContentInfo.load(token)]}
        ]
    encap: dict[str, object] = {"content_type": "data"}
    if not detached:
        encap["content"] = core.OctetString(data)
    revocation_info = [
        cms.RevocationInfoChoice(name="crl", value=acrl.CertificateList.load(c)) for c in crls
    ] + [
        cms.RevocationInfoChoice(
            name="other",
            value={
                "other_rev_info_format": "ocsp_response",
                "other_rev_info": aocsp.OCSPResponse.load(o),
            },
        )
        for o in ocsp_responses
    ]
    signed_data = cms.SignedData(
        {
            # RFC 5652 §5.1: "other" revocation info formats require version 5.
            "version": "v5" if ocsp_responses else "v1",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": digest})],
            "encap_content_info": encap,
            "certificates": [acert, *(_asn1_cert(c) for c in chain)],
            "signer_infos": [signer],
            "crls": revocation_info or None,
        }
    )
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump())
