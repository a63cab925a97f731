"""BER-TLV and DER lengths, written once (ITU-T X.690 §8.1, §10.1; ISO/IEC 7816-4 §5.2).

The one place that encodes and decodes a definite length: the applet's own structures (key
generation responses, management instructions), the reader's parsing of them and of certificate
headers, and ``pki``'s hand-written DER (CRLs, OCSP responses, UTF8Strings) all use it. Only
single-byte tags occur in the JPKI structures, so multi-byte tags are refused rather than
guessed. This module imports nothing from ``mobile_jpki``: it is the bottom of the stack.
"""

from __future__ import annotations

from typing import NamedTuple

# The longest long-form length accepted on input: 3 octets (16 MiB), far above any JPKI element.
MAX_LENGTH_OCTETS = 3


class TlvError(ValueError):
    """Malformed or truncated BER-TLV."""


class Element(NamedTuple):
    """One TLV: its tag, its value, and the whole encoded element (a signature may cover it
    byte for byte, as the management instruction's body is)."""

    tag: int
    value: bytes
    encoded: bytes


def encode_length(n: int) -> bytes:
    """Definite length octets in the shortest form (X.690 §10.1): one octet below 128, else
    ``80 | k`` followed by k big-endian octets."""
    if n < 0x80:
        if n < 0:
            raise ValueError(f"negative length {n}")
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def header(tag: int, length: int) -> bytes:
    """Identifier and length octets of an element whose value is ``length`` octets long."""
    if 0 <= length < 0x80:
        return bytes((tag, length))
    return bytes((tag,)) + encode_length(length)


def encode(tag: int, value: bytes) -> bytes:
    """One TLV with a single-byte tag and a minimal definite length."""
    n = len(value)
    if n < 0x80:
        return bytes((tag, n)) + value
    return bytes((tag,)) + encode_length(n) + value


def read_header(
    data: bytes, offset: int = 0, *, strict: bool = True, max_octets: int = MAX_LENGTH_OCTETS
) -> tuple[int, int, int]:
    """(tag, value length, header length) of the element at ``offset``.

    ``max_octets`` bounds the length's own size: 3 (16 MiB) for the card's files and APDUs;
    a relying party's CRL of millions of entries needs 4.

    ``strict`` refuses a length not in its shortest form: two encodings of one value would let
    two byte strings carry one signed body. Certificate headers read off a card are DER, so a
    host reading its files may relax it.
    """
    if len(data) < offset + 2:
        raise TlvError("truncated TLV header")
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise TlvError("multi-byte tags are not used by JPKI")
    first = data[offset + 1]
    if first < 0x80:
        return tag, first, 2
    k = first & 0x7F
    if k == 0 or k > max_octets:
        raise TlvError("indefinite or oversized length")
    if len(data) < offset + 2 + k:
        raise TlvError("truncated TLV length")
    length = int.from_bytes(data[offset + 2 : offset + 2 + k], "big")
    if strict and encode_length(length) != data[offset + 1 : offset + 2 + k]:
        raise TlvError("non-minimal length")
    return tag, length, 2 + k


def parse(data: bytes) -> list[Element]:
    """Split a flat sequence of TLVs (strict lengths) into elements, in order."""
    out: list[Element] = []
    offset = 0
    while offset < len(data):
        tag, length, head = read_header(data, offset)
        end = offset + head + length
        if end > len(data):
            raise TlvError("TLV value runs past the end")
        out.append(Element(tag, bytes(data[offset + head : end]), bytes(data[offset:end])))
        offset = end
    return out


def unique(elements: list[Element], allowed: set[int]) -> dict[int, bytes]:
    """Map tag → value, refusing unknown or repeated tags."""
    result: dict[int, bytes] = {}
    for element in elements:
        if element.tag not in allowed or element.tag in result:
            raise TlvError(f"unexpected tag {element.tag:02X}")
        result[element.tag] = element.value
    return result
