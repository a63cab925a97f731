"""Software CA keys: RSA-2048 in encrypted PKCS#8 files (RFC 5958 EncryptedPrivateKeyInfo).

Written with ``BestAvailableEncryption`` (PBES2, RFC 8018), mode 0600, atomically
(:func:`mobile_jpki.files.atomic_write`) so a crash never leaves half a key.
Unencrypted keys are refused on load unless the caller allows them explicitly (tests, dev).
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mobile_jpki.files import atomic_write
from mobile_jpki.keys.errors import KeyStoreError, UnencryptedKeyRefused, WrongPassphrase
from mobile_jpki.keys.source import SecretSource

KEY_SIZE = 2048
PUBLIC_EXPONENT = 65537
KEY_FILE_MODE = 0o600

_ENCRYPTED_PEM = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"


def generate_rsa_key(key_size: int = KEY_SIZE) -> rsa.RSAPrivateKey:
    """A new RSA key, e = 65537 (JPKI-FACTS.md "Certificates")."""
    if key_size < KEY_SIZE:
        raise KeyStoreError(f"RSA-{key_size} is below the RSA-{KEY_SIZE} JPKI requires")
    return rsa.generate_private_key(PUBLIC_EXPONENT, key_size)


def save_key(
    path: Path,
    key: rsa.RSAPrivateKey,
    passphrase: SecretSource | None,
    *,
    allow_unencrypted: bool = False,
) -> None:
    """Write ``key`` as PEM PKCS#8, encrypted with the passphrase from ``passphrase``."""
    if passphrase is None:
        if not allow_unencrypted:
            raise UnencryptedKeyRefused(str(path))
        encryption: serialization.KeySerializationEncryption = serialization.NoEncryption()
    else:
        encryption = serialization.BestAvailableEncryption(passphrase.read())
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    atomic_write(path, data, mode=KEY_FILE_MODE, make_parents=True)


def load_key(
    path: Path,
    passphrase: SecretSource | None,
    *,
    allow_unencrypted: bool = False,
    public_only: bool = False,
) -> rsa.RSAPrivateKey:
    """Read a PEM private key; refuses an unencrypted one unless ``allow_unencrypted``.

    ``public_only``: the caller reads only the public half (the start-up check compares it
    with a certificate), so OpenSSL's RSA consistency check (~90 ms a key) is skipped; never
    sign with such a key."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyStoreError(f"{path}: {exc.strerror or exc}") from None
    encrypted = _ENCRYPTED_PEM in data or b"Proc-Type: 4,ENCRYPTED" in data
    if not encrypted and not allow_unencrypted:
        raise UnencryptedKeyRefused(str(path))
    password = passphrase.read() if encrypted and passphrase is not None else None
    if encrypted and password is None:
        raise KeyStoreError(f"{path}: the key is encrypted and no passphrase source is set")
    try:
        key = serialization.load_pem_private_key(
            data, password, unsafe_skip_rsa_key_validation=public_only
        )
    except (ValueError, TypeError):
        raise WrongPassphrase(str(path)) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyStoreError(f"{path}: JPKI CA keys are RSA, not {type(key).__name__}")
    return key
