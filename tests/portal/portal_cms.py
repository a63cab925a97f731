"""A small CMS SignedData maker and verifier (RFC 5652 §5) for the portal tests: the test
double of ``signing/cms.py`` and ``verify/cms.py`` until they land. Signed attributes
contentType + messageDigest; sha256WithRSAEncryption via any cryptography key's ``sign``."""

from __future__ import annotations

import hashlib

from asn1crypto import algos, cms
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mobile_jpki.service.portal.errors import SignatureInvalid
from mobile_jpki.service.portal.ports import SignedDocument


def sign_cms(content: bytes, key: rsa.RSAPrivateKey, cert: x509.Certificate) -> bytes:
    acert = ax509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    attrs = cms.CMSAttributes(
        [
            cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
            cms.CMSAttribute(
                {"type": "message_digest", "values": [hashlib.sha256(content).digest()]}
            ),
        ]
    )
    signature = key.sign(attrs.dump(), padding.PKCS1v15(), hashes.SHA256())
    signer = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                        {"issuer": acert.issuer, "serial_number": acert.serial_number}
                    )
                }
            ),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
            "signed_attrs": attrs,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"}),
            "signature": signature,
        }
    )
    signed = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
            "encap_content_info": {"content_type": "data", "content": content},
            "certificates": [acert],
            "signer_infos": [signer],
        }
    )
    return cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump()


class CmsVerifierDouble:
    def verify(self, cms_der: bytes) -> SignedDocument:
        try:
            info = cms.ContentInfo.load(cms_der, strict=True)
            signed = info["content"]
            content = signed["encap_content_info"]["content"].native
            signer = signed["signer_infos"][0]
            sid = signer["sid"].chosen
            certs = [c.chosen for c in signed["certificates"]]
            match = [
                c
                for c in certs
                if c.serial_number == sid["serial_number"].native and c.issuer == sid["issuer"]
            ]
            cert = x509.load_der_x509_certificate(match[0].dump())
            attrs = signer["signed_attrs"]
            digest = next(
                a["values"][0].native for a in attrs if a["type"].native == "message_digest"
            )
            if digest != hashlib.sha256(content).digest():
                raise SignatureInvalid("message digest mismatch")
            key = cert.public_key()
            if not isinstance(key, rsa.RSAPublicKey):
                raise SignatureInvalid("not an RSA signer")
            key.verify(
                signer["signature"].native,
                _set_of(attrs),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except SignatureInvalid:
            raise
        except (
            ValueError,
            KeyError,
            IndexError,
            TypeError,
            StopIteration,
            InvalidSignature,
        ) as exc:
            raise SignatureInvalid(f"CMS does not verify: {type(exc).__name__}") from None
        return SignedDocument(content, cert)


def _set_of(attrs: cms.CMSAttributes) -> bytes:
    # The signature covers the DER of the attributes with an explicit SET OF tag (RFC 5652
    # §5.4), not the [0] IMPLICIT tag they carry inside SignerInfo.
    return cms.CMSAttributes(list(attrs)).dump(force=True)
