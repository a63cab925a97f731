"""The project's time-stamping authority (RFC 3161), as a part of the CA.

Relying parties need a trusted time to validate a signature made before a later revocation
(PAdES B-T/B-LT, CMS signature time-stamps). JPKI itself runs no TSA; ours is a service of this
sandbox, certified by the active signing root so one trust anchor covers both. Its key and
certificate live beside the CA's: ``ca/tsa.key.pem`` (encrypted PKCS#8, the CA passphrase) and
``ca/tsa.pem``; they are made on first use and reused after (several ``serve`` workers may race:
the writes are atomic, and every worker re-reads the files it keeps).
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from mobile_jpki.files import atomic_write
from mobile_jpki.keys.software import generate_rsa_key, load_key, save_key
from mobile_jpki.keys.source import SecretSource
from mobile_jpki.pki.issuance import build_tsa_certificate, new_serial
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.pki.tsa import TimeStampAuthority
from mobile_jpki.service.ca import CertificateAuthority
from mobile_jpki.settings import Settings, passphrase_source


def load_or_create_tsa(
    settings: Settings, ca: CertificateAuthority, now: dt.datetime
) -> TimeStampAuthority:
    """The data directory's TSA, made on first use under the active signing root."""
    key_path = settings.ca_dir / "tsa.key.pem"
    cert_path = settings.ca_dir / "tsa.pem"
    passphrase: SecretSource = passphrase_source(settings)
    if key_path.is_file() and cert_path.is_file():
        key = load_key(key_path, passphrase)
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    else:
        active = next(s for s in ca.cas() if s.hierarchy is Hierarchy.SIGN and s.active)
        key = generate_rsa_key()
        cert = build_tsa_certificate(
            ca.identity(active.ca_id), key.public_key(), new_serial(), now, urls=ca.urls
        )
        save_key(key_path, key, passphrase)
        atomic_write(
            cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644, make_parents=True
        )
    issuer = next((s.certificate for s in ca.cas() if s.certificate.subject == cert.issuer), None)
    chain = (issuer,) if issuer is not None else ()
    return TimeStampAuthority(certificate=cert, key=key, chain=chain)
