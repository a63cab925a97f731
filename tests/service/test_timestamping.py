"""The data directory's TSA: certified by the signing root, reused, and served at /tsa."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.ocsp import OCSPRequestBuilder
from cryptography.x509.oid import ExtendedKeyUsageOID

from mobile_jpki.api.app import create_app
from mobile_jpki.phone.transport import in_process_client
from mobile_jpki.pki import ocsp
from mobile_jpki.pki import tsa as tsa_codec
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.service.ca import CertificateAuthority
from mobile_jpki.service.ca.bootstrap import init_data_dir, open_ca
from mobile_jpki.service.ca.timestamping import load_or_create_tsa, ocsp_locations

NOW = dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC)


def test_tsa_is_made_once_under_the_signing_root_and_answers_over_http(tmp_path: Path) -> None:
    settings, _ = init_data_dir(tmp_path / "d", NOW)
    ca = open_ca(settings)
    try:
        first = load_or_create_tsa(settings, ca, NOW)
        again = load_or_create_tsa(settings, ca, NOW + dt.timedelta(days=1))
        assert again.certificate == first.certificate  # reused, not re-made
        sign_root = next(s.certificate for s in ca.cas() if s.hierarchy.value == "sign")
        first.certificate.verify_directly_issued_by(sign_root)
        eku = first.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
        assert eku.critical
        assert list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]

        app = create_app(ca, tsa=first)
        query = tsa_codec.build_request(hashlib.sha256(b"hello").digest(), nonce=42)
        with in_process_client(app) as http:
            reply = http.post(
                "/tsa", content=query, headers={"Content-Type": "application/timestamp-query"}
            )
            refused = http.post("/tsa", content=query, headers={"Content-Type": "text/plain"})
        assert reply.status_code == httpx.codes.OK
        parsed = tsa_codec.read_response(reply.content)
        assert parsed.status == "granted"
        assert refused.status_code == httpx.codes.UNSUPPORTED_MEDIA_TYPE
    finally:
        ca.db.dispose()


def _ocsp_status(ca: CertificateAuthority, cert: x509.Certificate, issuer: x509.Certificate) -> str:
    """What our responder says about ``cert``, asked as a relying party would (SHA-1 CertID,
    no nonce: the RFC 5019 request pyHanko and OpenSSL send)."""
    request = (
        OCSPRequestBuilder()
        .add_certificate(cert, issuer, hashes.SHA1())  # noqa: S303 - RFC 5019 CertID
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    answer = ca.ocsp_answer(request, NOW, hierarchy=Hierarchy.SIGN)
    [single] = ocsp.parse_response(answer.der).answers
    return single.status.value


def test_tsa_certificate_names_our_responder_which_answers_good(tmp_path: Path) -> None:
    settings, _ = init_data_dir(tmp_path / "d", NOW)
    ca = open_ca(settings)
    try:
        tsa = load_or_create_tsa(settings, ca, NOW)
        assert ocsp_locations(tsa.certificate) == [ca.urls.ocsp(Hierarchy.SIGN)]
        sign_root = next(s.certificate for s in ca.cas() if s.hierarchy is Hierarchy.SIGN)
        assert _ocsp_status(ca, tsa.certificate, sign_root) == "good"
    finally:
        ca.db.dispose()


def test_a_process_that_did_not_load_the_tsa_still_answers_unknown_for_strangers(
    tmp_path: Path,
) -> None:
    settings, _ = init_data_dir(tmp_path / "d", NOW)
    ca = open_ca(settings)
    try:
        tsa = load_or_create_tsa(settings, ca, NOW)
        other = open_ca(settings)  # no TSA registered in this one
        sign_root = next(s.certificate for s in ca.cas() if s.hierarchy is Hierarchy.SIGN)
        assert _ocsp_status(other, tsa.certificate, sign_root) == "unknown"
        other.db.dispose()
    finally:
        ca.db.dispose()


def test_a_tsa_certificate_without_the_responder_is_reissued_with_the_same_key(
    tmp_path: Path,
) -> None:
    """A data directory made before the TSA certificate carried its AIA."""
    settings, _ = init_data_dir(tmp_path / "d", NOW)
    ca = open_ca(settings)
    try:
        first = load_or_create_tsa(settings, ca, NOW)
        sign_id = next(s.ca_id for s in ca.cas() if s.hierarchy is Hierarchy.SIGN)
        root = ca.identity(sign_id)
        builder = (
            x509.CertificateBuilder()
            .subject_name(first.certificate.subject)
            .issuer_name(first.certificate.issuer)
            .public_key(first.certificate.public_key())
            .serial_number(4242)
            .not_valid_before(NOW)
            .not_valid_after(NOW + dt.timedelta(days=365))
        )
        for ext in first.certificate.extensions:
            if not isinstance(ext.value, x509.AuthorityInformationAccess):
                builder = builder.add_extension(ext.value, ext.critical)
        legacy = builder.sign(root.key, hashes.SHA256())
        cert_path = settings.ca_dir / "tsa.pem"
        cert_path.write_bytes(legacy.public_bytes(serialization.Encoding.PEM))

        again = load_or_create_tsa(settings, ca, NOW + dt.timedelta(days=1))
        assert again.certificate.serial_number != 4242
        assert ocsp_locations(again.certificate) == [ca.urls.ocsp(Hierarchy.SIGN)]
        assert again.certificate.public_key() == first.certificate.public_key()
        assert x509.load_pem_x509_certificate(cert_path.read_bytes()) == again.certificate
        kept = settings.ca_dir / f"tsa.{4242:x}.pem"
        assert x509.load_pem_x509_certificate(kept.read_bytes()) == legacy
        # And it is stable from then on.
        third = load_or_create_tsa(settings, ca, NOW + dt.timedelta(days=2))
        assert third.certificate == again.certificate
    finally:
        ca.db.dispose()
