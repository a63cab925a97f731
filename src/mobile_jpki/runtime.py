"""A data directory turned into a running system: the CA, the portal service, the HTTP app.

Both ``mobile-jpki serve`` and ``mobile-jpki demo`` start here, so the demo leaves exactly the
state that ``serve`` serves. Keys the portal needs besides the CA's live beside them:

- ``portal/instruction-key.pem`` — the service's key for the signed management instructions it
  sends to phone secure elements (deletion after a model change, password reset); ECDSA P-256,
  encrypted with the CA passphrase (docs/apdu.md "Signed management instructions").
- ``portal/card-issuer-key.pem`` — the municipal offices' key for card instructions (unblock).
- ``devices/manufacturer/root.pem`` — the emulated secure-element manufacturer whose
  attestation root the portal trusts (:func:`reader.emulated.load_or_create_manufacturer`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    PrivateFormat,
    load_pem_private_key,
)
from fastapi import FastAPI

from mobile_jpki.api.app import create_app
from mobile_jpki.api.portal import PortalContext, install
from mobile_jpki.clock import Clock
from mobile_jpki.reader.emulated import load_or_create_manufacturer
from mobile_jpki.service.authority import CertificateAuthority
from mobile_jpki.service.bootstrap import open_ca
from mobile_jpki.service.keystore import write_private
from mobile_jpki.service.portal.errors import SignatureInvalid
from mobile_jpki.service.portal.ports import SignedDocument
from mobile_jpki.service.portal.service import PortalConfig, PortalService
from mobile_jpki.settings import Settings
from mobile_jpki.verify.certificate import TrustAnchors, Usage
from mobile_jpki.verify.cms import verify_cms
from mobile_jpki.verify.errors import MalformedInput


class CmsDocumentVerifier:
    """The portal's :class:`~mobile_jpki.service.portal.ports.DocumentVerifier` on the
    relying-party kit: the CMS signature must verify (RFC 5652 §5.6); the chain, validity and
    revocation of the signer are then the portal's own checks (with its precise problem codes),
    so certificate-level findings of the kit are not repeated here."""

    def __init__(self, roots: list[x509.Certificate], clock: Clock) -> None:
        self._anchors = TrustAnchors(tuple(roots))
        self._clock = clock

    def verify(self, cms_der: bytes) -> SignedDocument:
        try:
            verdict = verify_cms(
                None, cms_der, anchors=self._anchors, now=self._clock.now(), usage=Usage.SIGNING
            )
        except MalformedInput as exc:
            raise SignatureInvalid(f"not a CMS SignedData: {exc}") from exc
        if verdict.signer is None or verdict.problems:
            reasons = "; ".join(str(p) for p in verdict.problems) or "no signer certificate"
            raise SignatureInvalid(reasons)
        return SignedDocument(content=verdict.content, signer=verdict.signer)


def _ec_key(path: Path, passphrase: bytes) -> ec.EllipticCurvePrivateKey:
    """Load the EC key at ``path``, creating it (encrypted PKCS#8, mode 0600) on first use."""
    if path.exists():
        key = load_pem_private_key(path.read_bytes(), passphrase)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{path} is not an EC private key")
        return key
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(passphrase))
    write_private(path, pem)
    return key


@dataclass
class System:
    """One running mobile-jpki: CA, portal, and the HTTP app that serves both."""

    settings: Settings
    clock: Clock
    ca: CertificateAuthority
    portal: PortalService
    context: PortalContext
    app: FastAPI
    card_issuer_key: ec.EllipticCurvePrivateKey

    def client(self) -> httpx.Client:
        """An HTTP client into the app in this process (the demo's and the tests' path)."""
        from mobile_jpki.phone.transport import in_process_client

        return in_process_client(self.app, base_url=self.settings.base_url)

    def close(self) -> None:
        self.ca.db.dispose()


def open_system(
    settings: Settings,
    clock: Clock,
    *,
    migrate: bool = True,
    config: PortalConfig | None = None,
    now: dt.datetime | None = None,
) -> System:
    """Wire the data directory of ``settings`` into a :class:`System` (the CA must exist:
    ``mobile-jpki ca init`` or :func:`~mobile_jpki.service.bootstrap.init_data_dir`)."""
    ca = open_ca(settings, migrate=migrate)
    passphrase = settings.ca_passphrase()
    portal_dir = settings.data_dir / "portal"
    instruction_key = _ec_key(portal_dir / "instruction-key.pem", passphrase)
    card_issuer_key = _ec_key(portal_dir / "card-issuer-key.pem", passphrase)
    manufacturer = load_or_create_manufacturer(settings.data_dir, now=now or clock.now())
    roots = [summary.certificate for summary in ca.cas()]
    portal = PortalService(
        ca.db,
        authority=ca,
        verifier=CmsDocumentVerifier(roots, clock),
        instruction_key=instruction_key,
        manufacturer_roots=[manufacturer.root],
        config=config or PortalConfig(),
    )
    context = PortalContext(service=portal, clock=clock)
    app = create_app(ca, clock=clock)
    install(app, context)
    return System(settings, clock, ca, portal, context, app, card_issuer_key)
