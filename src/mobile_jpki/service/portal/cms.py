"""The portal's :class:`~.ports.DocumentVerifier`: CMS SignedData (RFC 5652), encapsulated,
one signer, signed attributes — the signature only.

Whose certificate signed, its chain and its status are judged by the portal against its own
database, which is authoritative and current to the transaction (a revocation committed a
millisecond ago counts); so a relying party's full certificate verdict is not needed here.

Why not :func:`mobile_jpki.verify.cms.verify_cms`: measured 310 ms per application on this
machine (it materialises ``.native`` of the whole SignedData, certificates included) against
2 ms for an RSA-2048 signature — the portal's hot path would be 95 % ASN.1 decoding. This
verifier touches only the fields it checks (same RFC 5652 §5.4/§5.6 rules, ESS
signing-certificate-v2 of RFC 5035 when present).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable

from asn1crypto import cms
from asn1crypto import tsp as _tsp  # noqa: F401 - registers signingCertificateV2's ASN.1 type
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mobile_jpki.clock import Clock

from .errors import SignatureInvalid
from .ports import SignedDocument

_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
# PKCS#1 v1.5 signatures: rsaEncryption (RFC 5652 §5.3 allows it; asn1crypto names it
# "rsassa_pkcs1v15" in a SignerInfo, OpenSSL's choice) or sha*WithRSAEncryption.
_RSA_ALGS = {"rsa", "rsassa_pkcs1v15", "sha256_rsa", "sha384_rsa", "sha512_rsa"}
OID_DATA = "1.2.840.113549.1.7.1"
OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
OID_SIGNING_CERT_V2 = "1.2.840.113549.1.9.16.2.47"


def _one(attrs: cms.CMSAttributes, oid: str) -> cms.CMSAttribute | None:
    found = [a for a in attrs if a["type"].dotted == oid]
    if len(found) > 1 or (found and len(found[0]["values"]) != 1):
        raise SignatureInvalid("a signed attribute appears twice or has several values")
    return found[0] if found else None


class CmsDocumentVerifier:
    def verify(self, cms_der: bytes) -> SignedDocument:
        try:
            return self._verify(cms_der)
        except SignatureInvalid:
            raise
        except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
            raise SignatureInvalid(f"not a CMS SignedData: {type(exc).__name__}") from None

    def _verify(self, der: bytes) -> SignedDocument:
        info = cms.ContentInfo.load(der, strict=True)
        if info["content_type"].dotted != OID_SIGNED_DATA:
            raise SignatureInvalid("not a SignedData")
        signed = info["content"]
        encap = signed["encap_content_info"]
        content = encap["content"].native  # the eContent OCTET STRING's value, or None
        if encap["content_type"].dotted != OID_DATA or not isinstance(content, bytes):
            raise SignatureInvalid("the document must be encapsulated id-data")
        signers = signed["signer_infos"]
        if len(signers) != 1:
            raise SignatureInvalid("exactly one signer")
        si = signers[0]
        digest_name = si["digest_algorithm"]["algorithm"].native
        if digest_name not in _HASHES:
            raise SignatureInvalid(f"digest {digest_name} not accepted")
        attrs = si["signed_attrs"]
        if not attrs:
            raise SignatureInvalid("signed attributes are required")
        # RFC 5652 §5.4: the signature covers the attributes exactly as received, re-tagged as
        # a universal SET OF. Taken BEFORE any attribute is read: parsing an
        # AlgorithmIdentifier (the ESS hash algorithm below) marks asn1crypto's tree mutated,
        # and dump() then re-encodes it (sorting the SET OF) — 5 ms per application, and
        # not necessarily the bytes that were signed.
        signed_bytes = b"\x31" + attrs.dump()[1:]
        ctype = _one(attrs, OID_CONTENT_TYPE)
        if ctype is None or ctype["values"][0].dotted != OID_DATA:
            raise SignatureInvalid("contentType attribute missing or not id-data")
        digest = _one(attrs, OID_MESSAGE_DIGEST)
        if (
            digest is None
            or digest["values"][0].contents != hashlib.new(digest_name, content).digest()
        ):
            raise SignatureInvalid("the content does not match the signed digest")
        signer = self._signer(signed, si["sid"])
        ess = _one(attrs, OID_SIGNING_CERT_V2)
        if ess is not None:
            first = ess["values"][0]["certs"][0]
            alg = first["hash_algorithm"]["algorithm"].native
            cert_der = signer.public_bytes(serialization.Encoding.DER)
            if (
                alg not in _HASHES
                or first["cert_hash"].contents != hashlib.new(alg, cert_der).digest()
            ):
                raise SignatureInvalid("signing-certificate-v2 names another certificate")
        if si["signature_algorithm"]["algorithm"].native not in _RSA_ALGS:
            raise SignatureInvalid("JPKI signatures are RSA PKCS#1 v1.5")
        key = signer.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise SignatureInvalid("the signer key is not RSA")
        try:
            key.verify(
                si["signature"].contents, signed_bytes, padding.PKCS1v15(), _HASHES[digest_name]()
            )
        except InvalidSignature:
            raise SignatureInvalid("the signature does not verify") from None
        return SignedDocument(content, signer)

    @staticmethod
    def _signer(signed: cms.SignedData, sid: cms.SignerIdentifier) -> x509.Certificate:
        for choice in signed["certificates"] or []:
            if choice.name != "certificate":
                continue
            cert = choice.chosen
            # The certificate's bytes as received, before reading a field re-encodes them
            # (see the signed attributes above).
            cert_der = cert.dump()
            if sid.name == "issuer_and_serial_number":
                ias = sid.chosen
                tbs = cert["tbs_certificate"]
                if (
                    ias["serial_number"].native == tbs["serial_number"].native
                    and ias["issuer"].dump() == tbs["issuer"].dump()
                ):
                    return x509.load_der_x509_certificate(cert_der)
            else:
                loaded = x509.load_der_x509_certificate(cert_der)
                try:
                    ski = loaded.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
                except x509.ExtensionNotFound:
                    continue
                if ski.digest == sid.chosen.contents:
                    return loaded
        raise SignatureInvalid("the signer's certificate is not in the SignedData")


def cms_document_signer(clock: Clock) -> Callable[..., bytes]:
    """``sign_document(content, key, certificate)`` for the app: encapsulated CMS with
    signingTime from ``clock`` (made by :func:`mobile_jpki.signing.cms.sign_cms`)."""
    from mobile_jpki.signing.cms import sign_cms

    def sign(content: bytes, key: object, certificate: object) -> bytes:
        when: dt.datetime = clock.now()
        return sign_cms(content, key, certificate, signing_time=when, detached=False)  # type: ignore[arg-type]

    return sign
