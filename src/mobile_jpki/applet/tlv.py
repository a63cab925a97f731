"""Minimal BER-TLV (ISO/IEC 7816-4 §5.2, X.690 §8.1) for the applet's own structures.

Only single-byte tags and definite lengths up to 65535 are needed: the instruction and the
key-generation response use tags 80-83, 9E, A0, C1, C2.
"""

from __future__ import annotations


class TlvError(ValueError):
    """Malformed BER-TLV."""


def encode_length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    if n <= 0xFF:
        return bytes((0x81, n))
    if n <= 0xFFFF:
        return b"\x82" + n.to_bytes(2, "big")
    raise TlvError("length too large")


def tlv(tag: int, value: bytes) -> bytes:
    return bytes((tag,)) + encode_length(len(value)) + value


def parse(data: bytes) -> list[tuple[int, bytes, bytes]]:
    """Split ``data`` into (tag, value, whole element) triples; the whole element is kept
    because the instruction signature covers the encoded A0 element byte for byte."""
    out: list[tuple[int, bytes, bytes]] = []
    i = 0
    while i < len(data):
        start = i
        tag = data[i]
        if tag & 0x1F == 0x1F:
            raise TlvError("multi-byte tags are not used here")
        i += 1
        if i >= len(data):
            raise TlvError("missing length")
        first = data[i]
        i += 1
        if first < 0x80:
            length = first
        elif first in (0x81, 0x82):
            n = first - 0x80
            if i + n > len(data):
                raise TlvError("truncated length")
            length = int.from_bytes(data[i : i + n], "big")
            # DER-style minimal lengths: anything else is a different encoding of the same
            # value, which would let two byte strings carry one signed body.
            if (n == 1 and length < 0x80) or (n == 2 and length <= 0xFF):
                raise TlvError("non-minimal length")
            i += n
        else:
            raise TlvError("unsupported length form")
        if i + length > len(data):
            raise TlvError("truncated value")
        out.append((tag, bytes(data[i : i + length]), bytes(data[start : i + length])))
        i += length
    return out


def unique(elements: list[tuple[int, bytes, bytes]], allowed: set[int]) -> dict[int, bytes]:
    """Map tag → value, refusing unknown or repeated tags."""
    result: dict[int, bytes] = {}
    for tag, value, _ in elements:
        if tag not in allowed or tag in result:
            raise TlvError(f"unexpected tag {tag:02X}")
        result[tag] = value
    return result
