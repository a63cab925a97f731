"""The portal's :class:`~.ports.DocumentVerifier` over the relying-party kit's CMS verifier
(:func:`mobile_jpki.verify.cms.verify_cms`, RFC 5652).

Only the signature is judged here (message digest, signed attributes, the signature value by
the included signer certificate). Whose certificate it is, its chain and its status are judged
by the portal against its own database, which is authoritative and current to the transaction
(a revocation committed a millisecond ago counts), so the kit's certificate verdict is not used.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from mobile_jpki.clock import Clock
from mobile_jpki.verify.certificate import TrustAnchors
from mobile_jpki.verify.cms import verify_cms
from mobile_jpki.verify.errors import VerifyError

from .errors import SignatureInvalid
from .ports import SignedDocument


class CmsDocumentVerifier:
    def __init__(self, anchors: Callable[[], TrustAnchors], clock: Clock) -> None:
        self._anchors = anchors
        self._clock = clock

    def verify(self, cms_der: bytes) -> SignedDocument:
        if not cms_der:
            raise SignatureInvalid("empty CMS")
        try:
            verdict = verify_cms(
                None, cms_der, anchors=self._anchors(), now=self._clock.now(), usage=None
            )
        except (VerifyError, ValueError, TypeError) as exc:
            raise SignatureInvalid(f"not a CMS SignedData: {type(exc).__name__}") from None
        if verdict.signer is None or verdict.problems:
            raise SignatureInvalid(f"the signature does not verify: {verdict.summary()}")
        return SignedDocument(verdict.content, verdict.signer)


def cms_document_signer(
    clock: Clock,
) -> Callable[..., bytes]:
    """``sign_document(content, key, certificate)`` for the app: encapsulated CMS with
    signingTime from ``clock`` (made by :func:`mobile_jpki.signing.cms.sign_cms`)."""
    from mobile_jpki.signing.cms import sign_cms

    def sign(content: bytes, key: object, certificate: object) -> bytes:
        when: dt.datetime = clock.now()
        return sign_cms(content, key, certificate, signing_time=when, detached=False)  # type: ignore[arg-type]

    return sign
