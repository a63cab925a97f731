"""Registration (登録): the certificates issued for a device, and the element's proof that
each one's key is installed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mobile_jpki.pki.model import CertKind
from mobile_jpki.store.portal import ApplicationStatus, ItemStatus

from . import errors as E
from . import repo as Q
from .context import Context, need

REGISTRATION_CONTEXT = b"mobile-jpki registration v1\x00"


def registration_message(item_id: str, challenge: bytes) -> bytes:
    return REGISTRATION_CONTEXT + item_id.encode("ascii") + b"\x00" + challenge


@dataclass(frozen=True)
class Registration:
    item_id: str
    application_id: str
    kind: CertKind
    certificate: x509.Certificate
    challenge: bytes

    def message(self) -> bytes:
        """What the newly installed key signs to prove the installation."""
        return registration_message(self.item_id, self.challenge)


def registrations(ctx: Context, device_id: str) -> list[Registration]:
    """Certificates ready to be written into this device's element."""
    with ctx.db.transaction(write=False) as s:
        return [
            Registration(
                item.id,
                item.application_id,
                CertKind(item.kind),
                x509.load_der_x509_certificate(cert.der),
                bytes.fromhex(item.install_challenge),
            )
            for item, cert in Q.ready_registrations(s, device_id)
        ]


def complete_registration(
    ctx: Context, device_id: str, item_id: str, signature: bytes, *, now: dt.datetime
) -> str:
    """The element proves the certificate's key is installed: the key signs the item's
    challenge (PKCS#1 v1.5, SHA-256, as COMPUTE DIGITAL SIGNATURE does). Returns the
    application's status afterwards."""
    with ctx.db.transaction() as s:
        item = Q.item(s, item_id)
        app = Q.application(s, item.application_id) if item else None
        if item is None or app is None or app.device_id != device_id:
            raise E.NoSuchObject("no such registration for this device")
        ctx.lock_person(s, app.person_id)
        if item.status == ItemStatus.INSTALLED.value:
            return app.status  # idempotent: a repeated proof changes nothing
        if item.status != ItemStatus.READY.value or item.cert_serial is None:
            raise E.Conflict(f"this certificate is {item.status}, not ready to register")
        cert = need(Q.certificate(s, item.cert_serial))
        key = x509.load_der_x509_certificate(cert.der).public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise E.Conflict("not an RSA certificate")
        try:
            key.verify(
                signature,
                registration_message(item.id, bytes.fromhex(item.install_challenge)),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature:
            raise E.RegistrationProofInvalid(
                "the signature is not by the issued certificate's key"
            ) from None
        item.status, item.installed_at = ItemStatus.INSTALLED.value, now
        if Q.uninstalled_item(s, app.id) is None:
            app.status = ApplicationStatus.REGISTERED.value
        app.updated_at = now
        ctx.audit.record(
            s,
            at=now,
            actor=f"device:{device_id}",
            action="portal.registration.complete",
            obj=f"certificate:{item.cert_serial}",
        )
        return app.status
