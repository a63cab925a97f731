"""The one BER-TLV / DER length codec (X.690 §8.1.3, §10.1), checked against asn1crypto."""

from __future__ import annotations

import pytest
from asn1crypto import core
from hypothesis import given
from hypothesis import strategies as st

from mobile_jpki.protocol import tlv


@pytest.mark.parametrize(
    ("n", "encoded"),
    [(0, "00"), (127, "7f"), (128, "8180"), (255, "81ff"), (256, "820100"), (70_000, "83011170")],
)
def test_length_forms(n: int, encoded: str) -> None:
    assert tlv.encode_length(n).hex() == encoded


def test_negative_length_refused() -> None:
    with pytest.raises(ValueError):
        tlv.encode_length(-1)
    with pytest.raises(ValueError):
        tlv.header(0x30, -1)


@given(st.binary(max_size=70_000))
def test_encode_matches_asn1crypto_and_parses_back(value: bytes) -> None:
    element = tlv.encode(0x04, value)
    assert element == core.OctetString(value).dump()
    assert tlv.header(0x04, len(value)) + value == element
    assert tlv.parse(element) == [tlv.Element(0x04, value, element)]
    assert tlv.read_header(element) == (0x04, len(value), len(element) - len(value))


def test_minimal_long_form_parses() -> None:
    element = bytes.fromhex("808181") + bytes(0x81)
    assert tlv.parse(element) == [tlv.Element(0x80, bytes(0x81), element)]


@pytest.mark.parametrize(
    ("hexa", "why"),
    [
        ("80", "truncated"),
        ("80817f" + "00" * 0x7F, "non-minimal"),  # 81 7F: 127 needs no long form
        ("8082007f" + "00" * 0x7F, "non-minimal"),
        ("8080", "indefinite"),
        ("808400000001" + "00", "oversized"),
        ("9f0100", "multi-byte"),
        ("8005aabb", "past the end"),
    ],
)
def test_malformed_is_refused(hexa: str, why: str) -> None:
    with pytest.raises(tlv.TlvError, match=why):
        tlv.parse(bytes.fromhex(hexa))


def test_relaxed_header_reads_a_non_minimal_length() -> None:
    """A certificate file read off a card: the host only needs its size."""
    assert tlv.read_header(bytes.fromhex("30820010"), strict=False) == (0x30, 0x10, 4)
    with pytest.raises(tlv.TlvError):
        tlv.read_header(bytes.fromhex("30820010"))


def test_unique_refuses_unknown_and_repeated_tags() -> None:
    elements = tlv.parse(tlv.encode(0x81, b"a") + tlv.encode(0x82, b"b"))
    assert tlv.unique(elements, {0x81, 0x82}) == {0x81: b"a", 0x82: b"b"}
    with pytest.raises(tlv.TlvError, match="unexpected tag 82"):
        tlv.unique(elements, {0x81})
    with pytest.raises(tlv.TlvError, match="unexpected tag 81"):
        tlv.unique(elements + elements[:1], {0x81, 0x82})
