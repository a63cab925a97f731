"""Minimal BER-TLV (ISO 7816-4 §5.2 / ITU-T X.690 §8.1) for the few responses we parse.

Only single-byte tags and definite lengths appear in the JPKI responses (docs/apdu.md), so this
refuses anything else rather than guessing.
"""

from __future__ import annotations


class TlvError(ValueError):
    """Malformed or truncated BER-TLV."""


def encode_length(n: int) -> bytes:
    """DER definite length (X.690 §8.1.3): short form below 128, else 81/82/83 + big-endian."""
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def encode(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + encode_length(len(value)) + value


def parse_header(data: bytes, offset: int = 0) -> tuple[int, int, int]:
    """Return (tag, value length, header length) of the TLV at ``offset``."""
    if len(data) < offset + 2:
        raise TlvError("truncated TLV header")
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise TlvError("multi-byte tags are not used by JPKI")
    first = data[offset + 1]
    if first < 0x80:
        return tag, first, 2
    n = first & 0x7F
    if n == 0 or n > 3:
        raise TlvError("indefinite or oversized length")
    if len(data) < offset + 2 + n:
        raise TlvError("truncated TLV length")
    length = int.from_bytes(data[offset + 2 : offset + 2 + n], "big")
    return tag, length, 2 + n


def parse(data: bytes) -> dict[int, bytes]:
    """Parse a flat sequence of TLVs into {tag: value}; duplicate tags are refused."""
    out: dict[int, bytes] = {}
    offset = 0
    while offset < len(data):
        tag, length, header = parse_header(data, offset)
        start = offset + header
        end = start + length
        if end > len(data):
            raise TlvError("TLV value runs past the end")
        if tag in out:
            raise TlvError(f"duplicate tag {tag:02X}")
        out[tag] = data[start:end]
        offset = end
    return out
