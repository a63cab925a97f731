"""Where the service gets CA and OCSP-responder keys: a small injected interface.

The database stores only a ``key_ref`` per key. :class:`FileKeyStore` keeps keys as encrypted
PKCS#8 PEM files (BestAvailableEncryption: AES-256-CBC under scrypt/PBKDF2, as cryptography
chooses) written atomically with mode 0600; a PKCS#11 implementation (``mobile_jpki.keys``)
plugs in behind the same two methods because issuance only ever calls ``key.sign()``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

RSA_BITS = 2048  # JPKI-FACTS.md: RSA-2048, e=65537
RSA_EXPONENT = 65537


class KeyStoreError(Exception):
    def __init__(self, message: str, *, key_ref: str | None = None) -> None:
        super().__init__(message)
        self.key_ref = key_ref


class KeyStore(Protocol):
    def generate(self, name: str) -> tuple[rsa.RSAPrivateKey, str]:
        """Create a new RSA-2048 key called ``name``; return it and its ``key_ref``."""
        ...

    def load(self, key_ref: str) -> rsa.RSAPrivateKey: ...


class FileKeyStore:
    """Encrypted PKCS#8 files in one directory (``DIR/ca``)."""

    def __init__(self, directory: Path, passphrase: bytes) -> None:
        if not passphrase:
            raise KeyStoreError("an empty passphrase would leave CA keys unencrypted")
        self._dir = directory
        self._passphrase = passphrase

    def generate(self, name: str) -> tuple[rsa.RSAPrivateKey, str]:
        if not name or not all(c.isalnum() or c in "-_." for c in name):
            raise KeyStoreError(f"invalid key name {name!r}")
        key = rsa.generate_private_key(public_exponent=RSA_EXPONENT, key_size=RSA_BITS)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self._passphrase),
        )
        path = self._dir / f"{name}.key.pem"
        if path.exists():
            raise KeyStoreError(f"{path} exists: refusing to overwrite a CA key", key_ref=str(path))
        write_private(path, pem)
        return key, f"file:{path.name}"

    def load(self, key_ref: str) -> rsa.RSAPrivateKey:
        if not key_ref.startswith("file:"):
            raise KeyStoreError(f"not a file key reference: {key_ref}", key_ref=key_ref)
        name = key_ref.removeprefix("file:")
        if "/" in name or name.startswith("."):
            raise KeyStoreError(f"invalid key reference {key_ref}", key_ref=key_ref)
        path = self._dir / name
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), self._passphrase)
        except FileNotFoundError as exc:
            raise KeyStoreError(f"key file {path} is missing", key_ref=key_ref) from exc
        except (ValueError, TypeError) as exc:
            raise KeyStoreError(
                f"cannot decrypt {path}: wrong passphrase or damaged file", key_ref=key_ref
            ) from exc
        if not isinstance(key, rsa.RSAPrivateKey):
            raise KeyStoreError(f"{path} is not an RSA key", key_ref=key_ref)
        return key


def write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Atomic write (temp file, fsync, rename) with ``mode`` from creation on."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
