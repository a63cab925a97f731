"""The portal's :class:`~.ports.DocumentVerifier` and document reader.

The signature checks are the relying-party kit's core (:mod:`mobile_jpki.verify.cms`: RFC 5652
§5.4/§5.6, ESS signing-certificate(-v2) of RFC 5035), run lazily so an application costs about
its RSA signature rather than the ASN.1 decoding of the whole SignedData. On top of it the
portal's rules: encapsulated id-data, exactly one signer, RSA PKCS#1 v1.5 (JPKI keys).

Whose certificate signed, its chain and its status are judged by the portal against its own
database, which is authoritative and current to the transaction (a revocation committed a
millisecond ago counts); so the kit's certificate verdict (:func:`~mobile_jpki.verify.cms.
verify_cms`) is not run here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TypeVar

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import BaseModel

from mobile_jpki.clock import Clock
from mobile_jpki.protocol import documents
from mobile_jpki.verify.cms import (
    OID_DATA,
    check_signer_info,
    find_signer,
    load_signed_data,
)
from mobile_jpki.verify.errors import MalformedInput

from .errors import RequestInvalid, SignatureInvalid
from .ports import SignedDocument

T = TypeVar("T", bound=BaseModel)

# PKCS#1 v1.5 signatures: rsaEncryption (RFC 5652 §5.3 allows it; asn1crypto names it
# "rsassa_pkcs1v15" in a SignerInfo, OpenSSL's choice) or sha*WithRSAEncryption.
_RSA_ALGS = {"rsa", "rsassa_pkcs1v15", "sha256_rsa", "sha384_rsa", "sha512_rsa"}


class CmsDocumentVerifier:
    def verify(self, cms_der: bytes) -> SignedDocument:
        try:
            return self._verify(cms_der)
        except SignatureInvalid:
            raise
        except MalformedInput as exc:
            raise SignatureInvalid(exc.detail) from None
        except (
            ValueError,
            TypeError,
            KeyError,
            IndexError,
            OverflowError,
            UnsupportedAlgorithm,
        ) as exc:
            raise SignatureInvalid(f"not a CMS SignedData: {type(exc).__name__}") from None

    def _verify(self, der: bytes) -> SignedDocument:
        signed = load_signed_data(der, strict=True)
        encap = signed["encap_content_info"]
        content = encap["content"].native  # the eContent OCTET STRING's value, or None
        if encap["content_type"].dotted != OID_DATA or not isinstance(content, bytes):
            raise SignatureInvalid("the document must be encapsulated id-data")
        signers = signed["signer_infos"]
        if len(signers) != 1:
            raise SignatureInvalid("exactly one signer")
        si = signers[0]
        signer = find_signer(signed, si["sid"])
        if signer is None:
            raise SignatureInvalid("the signer's certificate is not in the SignedData")
        problems = check_signer_info(si, signer, content, OID_DATA)
        if problems:
            raise SignatureInvalid(problems[0].message)
        if si["signature_algorithm"]["algorithm"].native not in _RSA_ALGS or not isinstance(
            signer.public_key(), rsa.RSAPublicKey
        ):
            raise SignatureInvalid("JPKI signatures are RSA PKCS#1 v1.5")
        return SignedDocument(content, signer)


def read_document(model: type[T], content: bytes) -> T:
    """A verified content read as the document ``model`` (:mod:`mobile_jpki.protocol.documents`),
    or the portal's ``invalid-request`` refusal."""
    try:
        return documents.parse(model, content)
    except documents.DocumentError as exc:
        raise RequestInvalid(str(exc)) from None


def cms_document_signer(clock: Clock) -> Callable[..., bytes]:
    """``sign_document(content, key, certificate)`` for the app: encapsulated CMS with
    signingTime from ``clock`` (made by :func:`mobile_jpki.signing.cms.sign_cms`)."""
    from mobile_jpki.signing.cms import sign_cms

    def sign(content: bytes, key: object, certificate: object) -> bytes:
        when: dt.datetime = clock.now()
        return sign_cms(content, key, certificate, signing_time=when, detached=False)  # type: ignore[arg-type]

    return sign
