"""pki.ocsp_rfc5019: the byte-wise matcher accepts a subset of what the full parser accepts, with
the same CertID, for requests made by cryptography and by hand, and for mutations of them."""

from __future__ import annotations

import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp as x509_ocsp
from hypothesis import given, settings
from hypothesis import strategies as st

from mobile_jpki.pki import ocsp
from mobile_jpki.pki.ocsp_rfc5019 import match

serials = st.integers(min_value=0, max_value=(1 << 159) - 1)
hashes20 = st.binary(min_size=20, max_size=20)


def _request(
    name_hash: bytes,
    key_hash: bytes,
    serial: int,
    algorithm: hashes.HashAlgorithm | None = None,
    nonce: bytes | None = None,
) -> bytes:
    algorithm = algorithm or hashes.SHA1()  # noqa: S303 - RFC 5019 CertID
    size = algorithm.digest_size
    builder = x509_ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        name_hash[:size].ljust(size, b"\0"), key_hash[:size].ljust(size, b"\0"), serial, algorithm
    )
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def _full(der: bytes) -> ocsp.OcspRequest | None:
    try:
        return ocsp.parse_request(der)
    except ocsp.OcspError:
        return None


@given(hashes20, hashes20, serials)
def test_an_rfc5019_request_matches_with_the_full_parsers_cert_id(
    name_hash: bytes, key_hash: bytes, serial: int
) -> None:
    der = _request(name_hash, key_hash, serial)
    found = match(der)
    assert found == ocsp.CertId(ocsp.HashAlgorithm.SHA1, name_hash, key_hash, serial)
    full = _full(der)
    assert full is not None and full.nonce is None
    assert full.cert_ids == (found,)
    assert ocsp.rfc5019_cert_id(der) == found


@given(hashes20, hashes20, serials, st.binary(min_size=1, max_size=32))
def test_a_nonce_or_sha256_is_left_to_the_full_parser(
    name_hash: bytes, key_hash: bytes, serial: int, nonce: bytes
) -> None:
    assert match(_request(name_hash, key_hash, serial, nonce=nonce)) is None
    assert match(_request(name_hash, key_hash, serial, algorithm=hashes.SHA256())) is None


def test_absent_algorithm_parameters_are_accepted_as_rfc_5754_allows() -> None:
    name_hash, key_hash = os.urandom(20), os.urandom(20)
    with_null = _request(name_hash, key_hash, 0x1234)
    # Drop the NULL (05 00) and shorten every enclosing length by two.
    at = with_null.index(bytes.fromhex("0605 2b0e03021a 0500"))
    body = with_null[: at - 2] + b"\x30\x07" + with_null[at : at + 7] + with_null[at + 9 :]
    lengths = bytearray(body)
    for i in (1, 3, 5, 7, 9):
        lengths[i] -= 2
    der = bytes(lengths)
    expected = ocsp.CertId(ocsp.HashAlgorithm.SHA1, name_hash, key_hash, 0x1234)
    assert match(der) == expected
    full = _full(der)
    assert full is not None and full.cert_ids == (expected,)


def test_two_certificates_are_left_to_the_full_parser() -> None:
    h = os.urandom(20)
    one = _request(h, h, 7)
    single = one[6:]  # the Request: 30 L CertID
    # requestList with the same Request twice
    der = _sequence(_sequence(_sequence(single * 2)))
    assert match(der) is None
    full = _full(der)
    assert full is not None and len(full.cert_ids) == 2


def test_non_minimal_and_negative_serials_are_refused() -> None:
    h = os.urandom(20)
    good = _request(h, h, 0x7F)
    assert match(good) is not None
    at = good.rindex(b"\x02\x01\x7f")
    padded = good[:at] + b"\x02\x02\x00\x7f"
    padded_der = _relength(padded)
    assert match(padded_der) is None
    negative = good[:at] + b"\x02\x01\x80"
    assert match(negative) is None


def _sequence(content: bytes) -> bytes:
    """DER SEQUENCE (X.690 §8.1.3: short form below 128, else 81/82 and the length)."""
    size = len(content)
    if size < 0x80:
        return b"\x30" + bytes([size]) + content
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return b"\x30" + bytes([0x80 | len(octets)]) + octets + content


def _relength(der_without_lengths_fixed: bytes) -> bytes:
    """Fix the five enclosing lengths after the serial grew by one octet."""
    data = bytearray(der_without_lengths_fixed)
    for i in (1, 3, 5, 7, 9):
        data[i] += 1
    return bytes(data)


@settings(max_examples=300)
@given(
    hashes20,
    hashes20,
    serials,
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), min_size=1, max_size=3),
    st.integers(0, 4),
)
def test_mutations_never_match_what_the_full_parser_reads_differently(
    name_hash: bytes,
    key_hash: bytes,
    serial: int,
    edits: list[tuple[int, int]],
    cut: int,
) -> None:
    data = bytearray(_request(name_hash, key_hash, serial))
    for position, value in edits:
        data[position % len(data)] = value
    der = bytes(data[: len(data) - cut])
    found = match(der)
    if found is None:
        return
    full = _full(der)
    assert full is not None, "matched bytes the full parser refuses"
    assert full.nonce is None
    assert full.cert_ids == (found,)
