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
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mobile_jpki.keys.software import generate_rsa_key, load_key, save_key
from mobile_jpki.keys.source import SecretSource
from mobile_jpki.pki.issuance import new_serial
from mobile_jpki.pki.model import CaIdentity, Hierarchy
from mobile_jpki.pki.tsa import TimeStampAuthority
from mobile_jpki.service.authority import CertificateAuthority
from mobile_jpki.service.keystore import write_private
from mobile_jpki.settings import Settings, passphrase_source

TSA_LIFETIME = dt.timedelta(days=5 * 365)


def tsa_certificate(
    ca: CaIdentity, public_key: rsa.RSAPublicKey, now: dt.datetime
) -> x509.Certificate:
    """A TSA certificate under ``ca``: the only EKU is id-kp-timeStamping, critical (RFC 3161
    §2.3); keyUsage digitalSignature (RFC 5280 §4.2.1.3); no longer than the root."""
    root = ca.certificate
    organisation = root.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(
                NameOID.ORGANIZATION_NAME,
                str(organisation[0].value) if organisation else "JPKI-TEST",
            ),
            x509.NameAttribute(NameOID.COMMON_NAME, "mobile-jpki Time-Stamping Authority"),
        ]
    )
    not_after = min(now + TSA_LIFETIME, root.not_valid_after_utc)
    ski = x509.SubjectKeyIdentifier.from_public_key(public_key)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(root.subject)
        .public_key(public_key)
        .serial_number(new_serial())
        .not_valid_before(now)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(
                root.public_key()  # type: ignore[arg-type]
            ),
            critical=False,
        )
        .sign(ca.key, hashes.SHA256())
    )


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
        identity = ca.identity(active.ca_id)
        key = generate_rsa_key()
        cert = tsa_certificate(identity, key.public_key(), now)
        save_key(key_path, key, passphrase)
        write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    issuer = next((s.certificate for s in ca.cas() if s.certificate.subject == cert.issuer), None)
    chain = (issuer,) if issuer is not None else ()
    return TimeStampAuthority(certificate=cert, key=key, chain=chain)
