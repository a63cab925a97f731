from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given
from hypothesis import strategies as st

from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.protocol.apdu import build_apdu
from mobile_jpki.protocol.constants import EF
from mobile_jpki.protocol.digest_info import digest_info
from mobile_jpki.reader.commands import JpkiClient, der_total_length
from mobile_jpki.reader.connection import InProcessConnection, TracingConnection
from mobile_jpki.reader.errors import (
    ApduError,
    FileNotFound,
    InvalidSecret,
    SecretBlocked,
    SecurityStatusNotSatisfied,
    WrongSecret,
    error_for,
)
from mobile_jpki.reader.key import ApduRSAPrivateKey, KeyNotExtractable
from mobile_jpki.reader.passwords import normalise_sign_password, validate_auth_pin

from .reader_fakes import FakeApplet
from .reader_fixtures import make_cert


@pytest.fixture
def cert(rsa_key: rsa.RSAPrivateKey, ca_key: rsa.RSAPrivateKey) -> x509.Certificate:
    return make_cert("holder", rsa_key.public_key(), ca_key, "ca")


@pytest.fixture
def applet(cert: x509.Certificate, rsa_key: rsa.RSAPrivateKey) -> FakeApplet:
    files = {
        0x000A: cert.public_bytes(Encoding.DER),
        0x0006: b"JPKIAPICCTOKEN2".ljust(32, b" "),
        0x0008: b"\x8f\x8f\x00",
    }
    return FakeApplet(files, sign_key=rsa_key)


def test_short_and_extended_apdu_encodings() -> None:
    # ISO 7816-4 §5.1: the four cases, short and extended.
    assert build_apdu(0, 0x44, 0, 0) == bytes.fromhex("00440000")
    assert build_apdu(0, 0xB0, 0, 0, le=256) == bytes.fromhex("00B0000000")
    assert build_apdu(0, 0xA4, 2, 0x0C, b"\x00\x0a") == bytes.fromhex("00A4020C02000A")
    assert build_apdu(0x80, 0x2A, 0, 0x80, b"\x01", le=256) == bytes.fromhex("802A0080010100")
    assert build_apdu(0, 0xB0, 0, 0, le=257) == bytes.fromhex("00B00000000101")
    assert build_apdu(0, 0xB0, 0, 0, le=65536) == bytes.fromhex("00B00000000000")
    long = bytes(300)
    assert build_apdu(0, 0xD6, 0, 0, long) == bytes.fromhex("00D6000000012C") + long
    assert build_apdu(0, 0x46, 0, 0, long, le=65536)[-2:] == b"\x00\x00"


@given(st.binary(min_size=0, max_size=70000))
def test_der_length_of_any_size(payload: bytes) -> None:
    from mobile_jpki.protocol import tlv

    element = tlv.encode(0x30, payload)
    assert der_total_length(element[:5]) == len(element)
    assert tlv.parse(element) == [tlv.Element(0x30, payload, element)]


def test_read_file_reads_header_then_rest_and_matches(
    applet: FakeApplet, cert: x509.Certificate
) -> None:
    conn = TracingConnection(InProcessConnection(applet))
    client = JpkiClient(conn)
    assert client.read_certificate(Hierarchy.AUTH) == cert
    apdus = [a for a, _, _ in conn.log]
    assert apdus[0] == bytes.fromhex("00A4040C0A") + bytes.fromhex("D392F000260100000001")
    assert apdus[1] == bytes.fromhex("00A4020C02000A")
    assert apdus[2] == bytes.fromhex("00B0000004")  # the DER header first
    assert all(len(a) == 5 for a in apdus[2:])  # short Le throughout by default


def test_read_file_extended_length_in_one_go(applet: FakeApplet, cert: x509.Certificate) -> None:
    client = JpkiClient(InProcessConnection(applet), extended_length=True)
    applet.max_short = 65536
    assert client.read_file(EF.AUTH_CERT) == cert.public_bytes(Encoding.DER)
    reads = [a for a in applet.apdus if a[1] == 0xB0]
    assert len(reads) == 2


def test_get_response_chaining_is_followed(applet: FakeApplet, cert: x509.Certificate) -> None:
    applet.max_short = 100  # every long answer comes back as 61 XX + GET RESPONSE
    client = JpkiClient(InProcessConnection(applet))
    assert client.read_file(EF.AUTH_CERT) == cert.public_bytes(Encoding.DER)
    assert any(a[1] == 0xC0 for a in applet.apdus)


def test_token_label_and_presence(applet: FakeApplet) -> None:
    client = JpkiClient(InProcessConnection(applet))
    assert client.token_label() == "JPKIAPICCTOKEN2"
    assert client.presence() == {Hierarchy.SIGN: True, Hierarchy.AUTH: True}


def test_missing_file_raises_file_not_found(applet: FakeApplet) -> None:
    client = JpkiClient(InProcessConnection(applet))
    with pytest.raises(FileNotFound) as info:
        client.read_file(EF.SIGN_CERT)
    assert info.value.sw == 0x6A82


def test_verify_upper_cases_and_counts(applet: FakeApplet) -> None:
    client = JpkiClient(InProcessConnection(applet))
    assert client.tries_left(Hierarchy.SIGN) == 5
    with pytest.raises(WrongSecret) as info:
        client.verify(EF.SIGN_PASSWORD, "WRONG1")
    assert info.value.tries_left == 4
    assert info.value.sw == 0x63C4
    client.verify(Hierarchy.SIGN, "abc123")  # lower-case typed, upper-cased as the apps do
    assert applet.apdus[-1][5:] == b"ABC123"
    assert client.tries_left(Hierarchy.SIGN) == 5


def test_malformed_secret_never_reaches_the_card(applet: FakeApplet) -> None:
    client = JpkiClient(InProcessConnection(applet))
    before = len(applet.apdus)
    full_width = "\uff21\uff22\uff23\uff11\uff12\uff13"
    for bad in ("ABCDEF", "123456", "AB12", "ABC-123", full_width, "A" * 16 + "1"):
        with pytest.raises(InvalidSecret):
            client.verify(Hierarchy.SIGN, bad)
    assert len(applet.apdus) == before
    assert applet.tries == 5


def test_blocked_secret(applet: FakeApplet) -> None:
    client = JpkiClient(InProcessConnection(applet))
    for _ in range(4):
        with pytest.raises(WrongSecret):
            client.verify(Hierarchy.SIGN, "WRONG1")
    with pytest.raises(SecretBlocked):
        client.verify(Hierarchy.SIGN, "WRONG1")
    assert client.tries_left(Hierarchy.SIGN) == 0
    with pytest.raises(SecretBlocked):
        client.verify(Hierarchy.SIGN, "ABC123")


def test_secret_formats() -> None:
    assert normalise_sign_password("abc123xyz") == "ABC123XYZ"
    assert validate_auth_pin("0123") == "0123"
    for bad in ("123", "12345", "\uff11\uff12\uff13\uff14", "12a4"):
        with pytest.raises(InvalidSecret):
            validate_auth_pin(bad)


def test_error_mapping_carries_sw() -> None:
    assert isinstance(error_for(0x6982), SecurityStatusNotSatisfied)
    err = error_for(0x63C2)
    assert isinstance(err, WrongSecret) and err.tries_left == 2
    other = error_for(0x6F00)
    assert type(other) is ApduError and other.sw == 0x6F00


def test_card_key_signs_like_a_software_key(applet: FakeApplet, rsa_key: rsa.RSAPrivateKey) -> None:
    client = JpkiClient(InProcessConnection(applet))
    key = ApduRSAPrivateKey(client, Hierarchy.SIGN, rsa_key.public_key())
    assert key.key_size == 2048
    with pytest.raises(SecurityStatusNotSatisfied):
        key.sign(b"doc", padding.PKCS1v15(), hashes.SHA256())
    client.verify(Hierarchy.SIGN, "ABC123")
    sig = key.sign(b"doc", padding.PKCS1v15(), hashes.SHA256())
    # The emulated applet's PKCS#1 v1.5 must be byte-identical to cryptography's (deterministic).
    assert sig == rsa_key.sign(b"doc", padding.PKCS1v15(), hashes.SHA256())
    digest = hashes.Hash(hashes.SHA384())
    digest.update(b"doc")
    pre = key.sign(digest.finalize(), padding.PKCS1v15(), utils.Prehashed(hashes.SHA384()))
    key.public_key().verify(pre, b"doc", padding.PKCS1v15(), hashes.SHA384())
    with pytest.raises(InvalidSignature):
        key.public_key().verify(pre, b"other", padding.PKCS1v15(), hashes.SHA384())


def test_card_key_refuses_what_needs_the_private_key(
    applet: FakeApplet, rsa_key: rsa.RSAPrivateKey
) -> None:
    key = ApduRSAPrivateKey(
        JpkiClient(InProcessConnection(applet)), Hierarchy.SIGN, rsa_key.public_key()
    )
    with pytest.raises(KeyNotExtractable):
        key.private_numbers()
    with pytest.raises(KeyNotExtractable):
        key.decrypt(b"x", padding.PKCS1v15())
    mgf = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    with pytest.raises(ValueError, match=r"PKCS#1 v1\.5"):
        key.sign(b"doc", mgf, hashes.SHA256())


def test_digest_info_is_rfc8017_prefix() -> None:
    d = bytes(32)
    assert digest_info(hashes.SHA256(), d).hex().startswith("3031300d0609608648016503040201")
    with pytest.raises(ValueError):
        digest_info(hashes.SHA256(), bytes(31))


def test_certificate_builder_accepts_the_card_key(
    applet: FakeApplet, rsa_key: rsa.RSAPrivateKey
) -> None:
    # cryptography 48 calls back into a Python RSAPrivateKey subclass: a card can sign X.509.
    client = JpkiClient(InProcessConnection(applet))
    client.verify(Hierarchy.SIGN, "ABC123")
    key = ApduRSAPrivateKey(client, Hierarchy.SIGN, rsa_key.public_key())
    cert = make_cert("self", rsa_key.public_key(), key)
    rsa_key.public_key().verify(
        cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA256()
    )


def test_no_digest_info_sends_the_caller_digest_info(
    applet: FakeApplet, rsa_key: rsa.RSAPrivateKey
) -> None:
    client = JpkiClient(InProcessConnection(applet))
    client.verify(Hierarchy.SIGN, "ABC123")
    key = ApduRSAPrivateKey(client, Hierarchy.SIGN, rsa_key.public_key())
    h = hashes.Hash(hashes.SHA256())
    h.update(b"doc")
    di = digest_info(hashes.SHA256(), h.finalize())
    assert key.sign(di, padding.PKCS1v15(), utils.NoDigestInfo()) == rsa_key.sign(
        b"doc", padding.PKCS1v15(), hashes.SHA256()
    )
