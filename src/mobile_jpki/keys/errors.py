"""Errors of the key store: one hierarchy, each carrying what went wrong where."""

from __future__ import annotations


class KeyStoreError(Exception):
    """A CA key could not be generated, stored or opened; ``key_ref`` names it when known."""

    def __init__(self, message: str, *, key_ref: str | None = None) -> None:
        super().__init__(message)
        self.key_ref = key_ref


class SecretUnavailable(KeyStoreError):
    """A passphrase or PIN source (``env:`` / ``file:``) gave nothing."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"secret {source}: {reason}")
        self.source = source
        self.reason = reason


class UnencryptedKeyRefused(KeyStoreError):
    """A key file is not encrypted and unencrypted keys were not explicitly allowed."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path}: unencrypted private key refused (allow_unencrypted=False)")
        self.path = path


class WrongPassphrase(KeyStoreError):
    """The passphrase does not decrypt the key file."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path}: wrong passphrase or corrupt key file")
        self.path = path


class TokenError(KeyStoreError):
    """A PKCS#11 token, key or login problem. ``detail`` is the library's own message."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(f"{message}: {detail}" if detail else message)
        self.detail = detail
