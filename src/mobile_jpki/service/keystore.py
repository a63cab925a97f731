"""Where the service gets CA and OCSP-responder keys: a small injected interface.

The database stores only a ``key_ref`` per key. :class:`FileKeyStore` keeps keys as encrypted
PKCS#8 PEM files through :mod:`mobile_jpki.keys.software` (PBES2, mode 0600, atomic writes); a
PKCS#11 store (``mobile_jpki.keys.pkcs11``) plugs in behind the same two methods because
issuance only ever calls ``key.sign()``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mobile_jpki.files import atomic_write
from mobile_jpki.keys import software
from mobile_jpki.keys.errors import KeyStoreError
from mobile_jpki.keys.source import SecretSource


class KeyStore(Protocol):
    def generate(self, name: str) -> tuple[rsa.RSAPrivateKey, str]:
        """Create a new RSA-2048 key called ``name``; return it and its ``key_ref``."""
        ...

    def load(self, key_ref: str) -> rsa.RSAPrivateKey: ...


class FileKeyStore:
    """Encrypted PKCS#8 files in one directory (``DIR/ca``), through :mod:`mobile_jpki.keys`."""

    def __init__(self, directory: Path, passphrase: SecretSource) -> None:
        self._dir = directory
        self._passphrase = passphrase

    def generate(self, name: str) -> tuple[rsa.RSAPrivateKey, str]:
        if not name or not all(c.isalnum() or c in "-_." for c in name):
            raise KeyStoreError(f"invalid key name {name!r}")
        path = self._dir / f"{name}.key.pem"
        if path.exists():
            raise KeyStoreError(f"{path} exists: refusing to overwrite a CA key", key_ref=str(path))
        key = software.generate_rsa_key()
        try:
            software.save_key(path, key, self._passphrase)
        except KeyStoreError as exc:
            raise KeyStoreError(str(exc), key_ref=str(path)) from exc
        return key, f"file:{path.name}"

    def load(self, key_ref: str) -> rsa.RSAPrivateKey:
        return self._load(key_ref, public_only=False)

    def public_key(self, key_ref: str) -> rsa.RSAPublicKey:
        """The public key of ``key_ref``, without OpenSSL's RSA private-key consistency check
        (the start-up comparison of every host's keys with the database's certificates)."""
        return self._load(key_ref, public_only=True).public_key()

    def _load(self, key_ref: str, *, public_only: bool) -> rsa.RSAPrivateKey:
        if not key_ref.startswith("file:"):
            raise KeyStoreError(f"not a file key reference: {key_ref}", key_ref=key_ref)
        name = key_ref.removeprefix("file:")
        if "/" in name or name.startswith("."):
            raise KeyStoreError(f"invalid key reference {key_ref}", key_ref=key_ref)
        try:
            return software.load_key(self._dir / name, self._passphrase, public_only=public_only)
        except KeyStoreError as exc:
            raise KeyStoreError(f"{exc} (key {key_ref})", key_ref=key_ref) from exc


def load_or_create_ec_key(path: Path, passphrase: bytes) -> ec.EllipticCurvePrivateKey:
    """An ECDSA P-256 key (management-instruction keys, docs/apdu.md) kept as encrypted PKCS#8
    at ``path`` (mode 0600, atomic write), made on first use. Several processes may race on the
    first use: the rename is atomic and every caller returns what the file then holds."""
    if not path.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase),
        )
        atomic_write(path, pem, make_parents=True)
    try:
        loaded = serialization.load_pem_private_key(path.read_bytes(), passphrase)
    except (ValueError, TypeError) as exc:
        raise KeyStoreError(f"{path}: cannot be read with the CA passphrase: {exc}") from None
    if not isinstance(loaded, ec.EllipticCurvePrivateKey):
        raise KeyStoreError(f"{path} is not an EC private key")
    return loaded
