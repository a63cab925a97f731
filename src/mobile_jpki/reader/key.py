"""A card-held RSA key as a ``cryptography`` private-key object.

CMS, PDF and login code call ``key.sign(data, PKCS1v15(), SHA256())`` and never learn that the
key lives in a My Number Card or a phone's secure element: this object hashes on the host, wraps
the hash in a DigestInfo (RFC 8017 §9.2 note 1) and sends COMPUTE DIGITAL SIGNATURE; the applet
pads PKCS#1 v1.5 and applies the private key. Everything that would need the private key itself
raises :class:`KeyNotExtractable`: it never leaves the chip.

The JPKI applet signs only PKCS#1 v1.5 (docs/apdu.md): PSS and decryption are refused on the host.
"""

from __future__ import annotations

import typing

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    KeySerializationEncryption,
    PrivateFormat,
)

from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.protocol.constants import EF
from mobile_jpki.protocol.digest_info import digest_info
from mobile_jpki.reader.commands import JpkiClient
from mobile_jpki.reader.errors import ReaderError

# The parameter of ``sign`` is called ``padding`` (cryptography's signature), shadowing the module.
_PKCS1v15: typing.Final = padding.PKCS1v15


class KeyNotExtractable(ReaderError, TypeError):
    """The operation needs the private key, which never leaves the card."""


class ApduRSAPrivateKey(rsa.RSAPrivateKey):
    """The signing or auth key of a JPKI applet, reached through ``client``.

    The secret (signing password / auth PIN) must have been verified on the same session
    before :meth:`sign`; otherwise the card answers ``69 82`` and
    :class:`~mobile_jpki.reader.errors.SecurityStatusNotSatisfied` is raised.
    """

    def __init__(
        self, client: JpkiClient, key_ef: EF | Hierarchy, public_key: rsa.RSAPublicKey
    ) -> None:
        self._client = client
        self._key_ef = key_ef
        self._public_key = public_key

    def sign(
        self,
        data: bytes,
        padding: padding.AsymmetricPadding,
        algorithm: utils.Prehashed | hashes.HashAlgorithm | utils.NoDigestInfo,
    ) -> bytes:
        if not isinstance(padding, _PKCS1v15):
            raise ValueError("the JPKI applet signs with PKCS#1 v1.5 only (RFC 8017 §8.2)")
        if isinstance(algorithm, utils.NoDigestInfo):
            # The caller built the DigestInfo (or a raw TLS-style MD5||SHA1) itself: the applet
            # pads whatever it gets, so send it as is.
            return self._client.sign(self._key_ef, bytes(data))
        if isinstance(algorithm, utils.Prehashed):
            hash_alg = algorithm._algorithm
            digest = bytes(data)
        else:
            hash_alg = algorithm
            h = hashes.Hash(algorithm)
            h.update(data)
            digest = h.finalize()
        return self._client.sign(self._key_ef, digest_info(hash_alg, digest))

    def public_key(self) -> rsa.RSAPublicKey:
        return self._public_key

    @property
    def key_size(self) -> int:
        return self._public_key.key_size

    def decrypt(self, ciphertext: bytes, padding: padding.AsymmetricPadding) -> bytes:
        raise KeyNotExtractable("the JPKI applet only signs; decryption is not offered")

    def private_numbers(self) -> rsa.RSAPrivateNumbers:
        raise KeyNotExtractable("the private key never leaves the card")

    def private_bytes(
        self,
        encoding: Encoding,
        format: PrivateFormat,
        encryption_algorithm: KeySerializationEncryption,
    ) -> bytes:
        raise KeyNotExtractable("the private key never leaves the card")

    def __copy__(self) -> ApduRSAPrivateKey:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> ApduRSAPrivateKey:
        # A handle to hardware: copying it must not pretend to duplicate the key.
        return self

    def __repr__(self) -> str:
        return f"<ApduRSAPrivateKey {self._key_ef!s} {self.key_size} bits>"
