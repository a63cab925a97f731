"""One way to get a CA signing key, whatever holds it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa

from mobile_jpki.keys.source import SecretSource


@dataclass(frozen=True)
class SoftwareKeyConfig:
    """An encrypted PKCS#8 PEM file and where its passphrase comes from."""

    path: Path
    passphrase: SecretSource | None
    allow_unencrypted: bool = False


@dataclass(frozen=True)
class Pkcs11KeyConfig:
    """A key on a PKCS#11 token: module path, token label, user PIN source, key label."""

    token_label: str
    pin: SecretSource
    key_label: str
    module: str = "/usr/lib/softhsm/libsofthsm2.so"


def load_ca_key(config: SoftwareKeyConfig | Pkcs11KeyConfig) -> rsa.RSAPrivateKey:
    """The CA key as a ``cryptography`` RSA private key (software, or a handle on the token)."""
    if isinstance(config, SoftwareKeyConfig):
        from mobile_jpki.keys.software import load_key

        return load_key(config.path, config.passphrase, allow_unencrypted=config.allow_unencrypted)
    # Imported lazily: python-pkcs11 loads a native library only deployments with an HSM need.
    from mobile_jpki.keys.pkcs11 import Pkcs11RSAPrivateKey, Pkcs11Token

    token = Pkcs11Token(config.token_label, config.pin, config.module)
    return Pkcs11RSAPrivateKey.open(token, config.key_label)
