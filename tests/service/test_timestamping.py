"""The data directory's TSA: certified by the signing root, reused, and served at /tsa."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from mobile_jpki.api.app import create_app
from mobile_jpki.phone.transport import in_process_client
from mobile_jpki.pki import tsa as tsa_codec
from mobile_jpki.service.ca.bootstrap import init_data_dir, open_ca
from mobile_jpki.service.ca.timestamping import load_or_create_tsa

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
