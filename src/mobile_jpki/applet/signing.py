"""COMPUTE DIGITAL SIGNATURE's arithmetic: EMSA-PKCS1-v1_5 over a given DigestInfo.

The host sends the DER DigestInfo (RFC 8017 §9.2 step 2); the applet pads it as block type 1
(§9.2 step 5) and applies RSASP1 (§5.2.1). For the five common hashes the DigestInfo prefix is
fixed (§9.2 note 1), so we hand the bare digest to OpenSSL through ``Prehashed``, which pads
identically and is constant time. Anything else (another algorithm, no DigestInfo at all, as
TLS 1.1 client auth's MD5‖SHA-1) gets the same padding and the raw private-key operation.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from mobile_jpki.protocol.digest_info import parse as parse_digest_info

MIN_PADDING = 11  # 00 01, at least eight FF, 00 (RFC 8017 §9.2 step 3)


def max_input(key: rsa.RSAPrivateKey) -> int:
    """245 for RSA-2048."""
    return key.key_size // 8 - MIN_PADDING


def sign_digest_info(key: rsa.RSAPrivateKey, digest_info: bytes) -> bytes:
    if len(digest_info) > max_input(key):
        raise ValueError("DigestInfo too long for the modulus")
    known = parse_digest_info(digest_info)
    if known is not None:
        algorithm, digest = known
        return key.sign(digest, padding.PKCS1v15(), utils.Prehashed(algorithm))
    return _raw_sign(key, digest_info)


def _raw_sign(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    k = key.key_size // 8
    block = b"\x00\x01" + b"\xff" * (k - 3 - len(data)) + b"\x00" + data
    m = int.from_bytes(block, "big")
    numbers = key.private_numbers()
    # RSASP1 with the CRT (RFC 8017 §5.1.2 step 2.b): about four times faster than m^d mod n.
    p, q = numbers.p, numbers.q
    s1 = pow(m, numbers.dmp1, p)
    s2 = pow(m, numbers.dmq1, q)
    h = (numbers.iqmp * (s1 - s2)) % p
    s = s2 + q * h
    return s.to_bytes(k, "big")
