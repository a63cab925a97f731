"""Minimal DER writers for the hand-encoded CRL (:mod:`mobile_jpki.pki.crl`).

DESIGN.md says never hand-write DER unless a measured bottleneck asks for it. The CRL encoder is
that case (cryptography's ``CertificateRevocationListBuilder`` is quadratic in the number of
entries), so this module holds the few DER primitives it needs and nothing else. Every output is
checked byte for byte against cryptography's builder in ``tests/pki/test_crl_golden.py``.
Identifier and length octets come from :mod:`mobile_jpki.protocol.tlv`, the one length encoder.

All encodings follow X.690 (DER) §8 / §10: definite lengths in the shortest form (§10.1),
minimal two's-complement INTEGER contents (§8.3.2), BOOLEAN TRUE as ``FF`` (§11.1).
"""

from __future__ import annotations

import datetime as dt

from mobile_jpki.protocol.tlv import encode, header

TAG_BOOLEAN = 0x01
TAG_INTEGER = 0x02
TAG_BIT_STRING = 0x03
TAG_OCTET_STRING = 0x04
TAG_OID = 0x06
TAG_UTC_TIME = 0x17
TAG_GENERALIZED_TIME = 0x18
TAG_SEQUENCE = 0x30
TAG_CONTEXT_0_CONSTRUCTED = 0xA0


def sequence(*parts: bytes) -> bytes:
    content = b"".join(parts)
    return header(TAG_SEQUENCE, len(content)) + content


def integer_content(value: int) -> bytes:
    """Minimal two's-complement contents (X.690 §8.3.2): a positive value whose top bit is set
    gets a leading ``00`` so it does not read as negative."""
    if value >= 0:
        return value.to_bytes((value.bit_length() + 8) // 8, "big")
    # ~value = -value - 1 has the magnitude bits a negative number needs (-128 fits one octet).
    return value.to_bytes(((~value).bit_length() + 8) // 8, "big", signed=True)


def integer(value: int) -> bytes:
    return encode(TAG_INTEGER, integer_content(value))


def oid(dotted: str) -> bytes:
    """OBJECT IDENTIFIER (X.690 §8.19): first two arcs packed as 40*a+b, then base-128 arcs."""
    arcs = [int(part) for part in dotted.split(".")]
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] >= 40):
        raise ValueError(f"invalid OID {dotted!r}")
    out = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return encode(TAG_OID, bytes(out))


def octet_string(content: bytes) -> bytes:
    return encode(TAG_OCTET_STRING, content)


def bit_string(content: bytes) -> bytes:
    """BIT STRING with no unused bits (signatures are whole octets)."""
    return encode(TAG_BIT_STRING, b"\x00" + content)


BOOLEAN_TRUE = bytes((TAG_BOOLEAN, 1, 0xFF))


def x509_time(when: dt.datetime) -> bytes:
    """RFC 5280 §4.1.2.5 / §5.1.2.4: UTCTime for dates through 2049, GeneralizedTime from 2050,
    always in UTC ("Z") and without fractional seconds."""
    if when.tzinfo is None:
        raise ValueError("naive datetime: X.509 times must be timezone-aware")
    when = when.astimezone(dt.UTC)
    if when.year < 1950:
        # UTCTime cannot say 19xx before 1950 and RFC 5280 forbids GeneralizedTime there.
        raise ValueError(f"X.509 time before 1950: {when.isoformat()}")
    if when.year < 2050:
        return encode(TAG_UTC_TIME, when.strftime("%y%m%d%H%M%SZ").encode("ascii"))
    return generalized_time(when)


def generalized_time(when: dt.datetime) -> bytes:
    """GeneralizedTime ``YYYYMMDDHHMMSSZ`` (RFC 5280 §4.1.2.5.2: no fractional seconds)."""
    if when.tzinfo is None:
        raise ValueError("naive datetime: X.509 times must be timezone-aware")
    when = when.astimezone(dt.UTC)
    text = f"{when.year:04d}{when.month:02d}{when.day:02d}{when.hour:02d}{when.minute:02d}"
    text += f"{when.second:02d}Z"
    return encode(TAG_GENERALIZED_TIME, text.encode("ascii"))
