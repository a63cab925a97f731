"""The one OCSP request a pre-signed response answers, recognised byte by byte.

RFC 5019 §2.1 profiles the request relying parties send at volume: one certificate, a SHA-1
CertID, no nonce, no signature, no requestor name. In DER (X.690 §10: definite, minimal
lengths; RFC 6960 §4.1.1 with every OPTIONAL and DEFAULT field absent) that request has exactly
one shape::

    30 L   OCSPRequest
      30 L   TBSRequest                (version DEFAULT v1 omitted, no requestorName)
        30 L   requestList
          30 L   Request               (no singleRequestExtensions)
            30 L   CertID
              30 09 06 05 2b0e03021a 05 00   AlgorithmIdentifier sha1, NULL parameters
              (or 30 07 06 05 2b0e03021a: parameters absent, RFC 5754 §2 allows both)
              04 14 <issuerNameHash>
              04 14 <issuerKeyHash>
              02 LL <serialNumber>    (positive, minimal: RFC 5280 §4.1.2.2)

and every length is below 128, so each is one octet. :func:`match` checks that shape with slices
and compares; it answers in about a microsecond where parsing through ``cryptography`` takes
tens (measured: the parse was half of the responder's work per request). Anything else —
another algorithm, a nonce or any extension, several certificates, long-form or non-minimal
lengths, trailing bytes — returns ``None``, and the caller takes the full parser
(:func:`mobile_jpki.pki.ocsp.parse_request`), which decides what the request is and what error
it deserves. So this matcher can only ever accept a subset of what the full parser accepts, with
the same CertID (``tests/pki/test_ocsp_rfc5019.py`` checks both against ``cryptography``).
"""

from __future__ import annotations

from mobile_jpki.pki.ocsp import CertId, HashAlgorithm

_SHA1_WITH_NULL = bytes.fromhex("3009 0605 2b0e03021a 0500")
_SHA1_NO_PARAMS = bytes.fromhex("3007 0605 2b0e03021a")
_MAX_SERIAL = 21  # 20 octets (RFC 5280 §4.1.2.2) plus the 00 that keeps a high bit positive


def match(der: bytes) -> CertId | None:
    """The SHA-1 CertID of an RFC 5019 request in canonical DER, else ``None``. Never raises."""
    n = len(der)
    # Outer four SEQUENCEs, each the whole of its parent: 30 (n-2), 30 (n-4), 30 (n-6), 30 (n-8).
    if n < 10 or n > 127 + 2:
        return None
    for depth in range(4):
        at = 2 * depth
        if der[at] != 0x30 or der[at + 1] != n - at - 2:
            return None
    # CertID
    if der[8] != 0x30 or der[9] != n - 10:
        return None
    at = 10
    if der.startswith(_SHA1_WITH_NULL, at):
        at += len(_SHA1_WITH_NULL)
    elif der.startswith(_SHA1_NO_PARAMS, at):
        at += len(_SHA1_NO_PARAMS)
    else:
        return None
    if der[at : at + 2] != b"\x04\x14" or der[at + 22 : at + 24] != b"\x04\x14":
        return None
    name_hash = der[at + 2 : at + 22]
    key_hash = der[at + 24 : at + 44]
    at += 44
    if n - at < 3 or der[at] != 0x02:
        return None
    size = der[at + 1]
    value = der[at + 2 :]
    if size != len(value) or not 1 <= size <= _MAX_SERIAL:
        return None
    # X.690 §8.3.2: minimal two's complement; a certificate serial is positive.
    if value[0] & 0x80 or (size > 1 and value[0] == 0 and not value[1] & 0x80):
        return None
    return CertId(HashAlgorithm.SHA1, name_hash, key_hash, int.from_bytes(value, "big"))
