"""DigestInfo (RFC 8017 §9.2): what a JPKI card or secure element signs with PKCS#1 v1.5, and
what the デジタル認証アプリ's sign transactions carry — defined once for the applet, the reader,
the app and the twin.

    DigestInfo ::= SEQUENCE { digestAlgorithm AlgorithmIdentifier (NULL parameters),
                              digest OCTET STRING }

The DER up to the digest bytes is a fixed string per hash (RFC 8017 §9.2 note 1); written
here as the RFC gives it."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes

HASHES: dict[str, hashes.HashAlgorithm] = {
    # The host chooses the hash; a card signs what it is given, SHA-1 included.
    "sha1": hashes.SHA1(),  # noqa: S303
    "sha224": hashes.SHA224(),
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}
PREFIXES: dict[str, bytes] = {
    "sha1": bytes.fromhex("3021300906052b0e03021a05000414"),
    "sha224": bytes.fromhex("302d300d06096086480165030402040500041c"),
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha384": bytes.fromhex("3041300d060960864801650304020205000430"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
}


def digest_info(algorithm: hashes.HashAlgorithm, digest: bytes) -> bytes:
    """The DigestInfo DER of a precomputed hash (RFC 8017 §9.2 steps 1-2)."""
    prefix = PREFIXES.get(algorithm.name)
    if prefix is None:
        raise ValueError(f"hash {algorithm.name} is not supported for JPKI signatures")
    if len(digest) != algorithm.digest_size:
        raise ValueError(f"a {algorithm.name} digest is {algorithm.digest_size} bytes")
    return prefix + digest


def parse(der: bytes) -> tuple[hashes.HashAlgorithm, bytes] | None:
    """The hash and the digest of a DigestInfo DER; ``None`` when it is not one of ours."""
    for name, prefix in PREFIXES.items():
        algorithm = HASHES[name]
        if der.startswith(prefix) and len(der) == len(prefix) + algorithm.digest_size:
            return algorithm, der[len(prefix) :]
    return None
