"""CA signing keys behind ``cryptography``'s private-key interface.

``load_ca_key(config)`` returns an ``rsa.RSAPrivateKey`` whichever way the key is held:
- :class:`SoftwareKeyConfig` — an encrypted PKCS#8 file (:mod:`.software`), the embedded default;
- :class:`Pkcs11KeyConfig` — a key that never leaves a PKCS#11 token (:mod:`.pkcs11`), for HSMs
  (SoftHSM2 in tests). Issuance code (``pki.issuance``) cannot tell them apart.

Secrets (passphrases, PINs) are named, never written in configuration: ``env:NAME`` or
``file:PATH`` (:class:`SecretSource`).
"""

from __future__ import annotations

from mobile_jpki.keys.errors import (
    KeyStoreError,
    SecretUnavailable,
    UnencryptedKeyRefused,
    WrongPassphrase,
)
from mobile_jpki.keys.loader import Pkcs11KeyConfig, SoftwareKeyConfig, load_ca_key
from mobile_jpki.keys.source import SecretSource

__all__ = [
    "KeyStoreError",
    "Pkcs11KeyConfig",
    "SecretSource",
    "SecretUnavailable",
    "SoftwareKeyConfig",
    "UnencryptedKeyRefused",
    "WrongPassphrase",
    "load_ca_key",
]
