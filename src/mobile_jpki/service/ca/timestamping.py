"""The project's time-stamping authority (RFC 3161), as a part of the CA.

Relying parties need a trusted time to validate a signature made before a later revocation
(PAdES B-T/B-LT, CMS signature time-stamps). JPKI itself runs no TSA; ours is a service of this
sandbox, certified by the active signing root so one trust anchor covers both. Its key and
certificate live beside the CA's: ``ca/tsa.key.pem`` (encrypted PKCS#8, the CA passphrase) and
``ca/tsa.pem``; they are made on first use and reused after. Several ``serve`` workers start
together: making or replacing them happens under ``ca/tsa.lock`` (an exclusive ``flock``), so
all workers end with the same certificate, which each registers with its OCSP responder.

Revocation checking (docs/security.md "What strict validators see"): the TSA certificate
names the signing hierarchy's OCSP responder in its authorityInfoAccess, and the responder
answers "good" for it.
A data directory made before that has a TSA certificate without the AIA, which a strict PAdES
validator refuses: it is re-issued (same key, new serial) the first time the data directory is
opened, and the old one is kept as ``ca/tsa.<serial>.pem``. The same happens when the base URL
changed, since the AIA names it.
"""

from __future__ import annotations

import datetime as dt
import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import AuthorityInformationAccessOID

from mobile_jpki.files import atomic_write
from mobile_jpki.keys.software import generate_rsa_key, load_key, save_key
from mobile_jpki.keys.source import SecretSource
from mobile_jpki.pki.issuance import build_tsa_certificate, new_serial
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.pki.tsa import TimeStampAuthority
from mobile_jpki.service.ca import CertificateAuthority
from mobile_jpki.settings import Settings, passphrase_source


def ocsp_locations(cert: x509.Certificate) -> list[str]:
    """The OCSP URLs of ``cert``'s authorityInfoAccess (RFC 5280 §4.2.2.1)."""
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return []
    return [
        str(d.access_location.value)
        for d in aia
        if d.access_method == AuthorityInformationAccessOID.OCSP
    ]


@contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def load_or_create_tsa(
    settings: Settings, ca: CertificateAuthority, now: dt.datetime
) -> TimeStampAuthority:
    """The data directory's TSA, made on first use under the active signing root, re-issued
    when its certificate does not name our OCSP responder, and registered with ``ca``'s
    responder so its status is "good" rather than "unknown"."""
    key_path = settings.ca_dir / "tsa.key.pem"
    cert_path = settings.ca_dir / "tsa.pem"
    passphrase: SecretSource = passphrase_source(settings)
    wanted_ocsp = ca.urls.ocsp(Hierarchy.SIGN)
    with _exclusive(settings.ca_dir / "tsa.lock"):
        if key_path.is_file() and cert_path.is_file():
            key = load_key(key_path, passphrase)
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            if wanted_ocsp not in ocsp_locations(cert):
                retired = settings.ca_dir / f"tsa.{cert.serial_number:x}.pem"
                atomic_write(retired, cert_path.read_bytes(), mode=0o644)
                cert = _issue(ca, key, cert_path, now)
        else:
            key = generate_rsa_key()
            save_key(key_path, key, passphrase)
            cert = _issue(ca, key, cert_path, now)
    issuer = next((s.certificate for s in ca.cas() if s.certificate.subject == cert.issuer), None)
    chain = (issuer,) if issuer is not None else ()
    ca.add_service_certificate(cert)
    return TimeStampAuthority(certificate=cert, key=key, chain=chain)


def _issue(
    ca: CertificateAuthority, key: rsa.RSAPrivateKey, cert_path: Path, now: dt.datetime
) -> x509.Certificate:
    active = next(s for s in ca.cas() if s.hierarchy is Hierarchy.SIGN and s.active)
    cert = build_tsa_certificate(
        ca.identity(active.ca_id), key.public_key(), new_serial(), now, urls=ca.urls
    )
    atomic_write(
        cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644, make_parents=True
    )
    return cert
