"""A real My Number Card in a real reader (opt-in).

Run alone, with the system pcscd running and a card in the reader:
    MOBILE_JPKI_REAL_CARD=1 pytest -m realcard tests/reader/test_reader_realcard.py
Optionally MOBILE_JPKI_READER=<part of the reader name>. Reads only free files: no password is
sent, so no try is ever spent.
"""

from __future__ import annotations

import os

import pytest
from cryptography import x509

from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.reader.commands import JpkiClient
from mobile_jpki.reader.pcsc import PcscConnection

pytestmark = pytest.mark.realcard


@pytest.fixture
def real_client() -> JpkiClient:
    if os.environ.get("MOBILE_JPKI_REAL_CARD") != "1":
        pytest.skip("set MOBILE_JPKI_REAL_CARD=1 with a My Number Card in a reader")
    if "mobile-jpki-pcscd" in os.environ.get("PCSCLITE_CSOCK_NAME", ""):
        pytest.skip("a private test pcscd is active in this process: run realcard tests alone")
    return JpkiClient(PcscConnection(os.environ.get("MOBILE_JPKI_READER")))


def test_reads_the_auth_certificate_of_a_real_card(real_client: JpkiClient) -> None:
    assert real_client.token_label() == "JPKIAPICCTOKEN2"
    cert = real_client.read_certificate(Hierarchy.AUTH)
    ca = real_client.read_certificate(Hierarchy.AUTH, ca=True)
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COUNTRY_NAME)[0].value == "JP"
    cert.verify_directly_issued_by(ca)
    # Tries are read with an empty VERIFY, which never costs one.
    assert 0 <= real_client.tries_left(Hierarchy.AUTH) <= 3
    assert 0 <= real_client.tries_left(Hierarchy.SIGN) <= 5
