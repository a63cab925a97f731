"""Encrypted PKCS#8 key files."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mobile_jpki.keys import (
    KeyStoreError,
    SecretSource,
    SoftwareKeyConfig,
    UnencryptedKeyRefused,
    WrongPassphrase,
    load_ca_key,
)
from mobile_jpki.keys.software import generate_rsa_key, load_key, save_key


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return generate_rsa_key()


@pytest.fixture
def passphrase(monkeypatch: pytest.MonkeyPatch) -> SecretSource:
    monkeypatch.setenv("JPKI_CA_PASSPHRASE", "correct horse battery staple")
    return SecretSource("env", "JPKI_CA_PASSPHRASE")


def test_generate_is_rsa_2048_f4(key: rsa.RSAPrivateKey) -> None:
    assert key.key_size == 2048
    assert key.public_key().public_numbers().e == 65537
    with pytest.raises(KeyStoreError):
        generate_rsa_key(1024)


def test_round_trip_encrypted_0600(
    tmp_path: Path, key: rsa.RSAPrivateKey, passphrase: SecretSource
) -> None:
    path = tmp_path / "ca" / "sign-1.key.pem"
    save_key(path, key, passphrase)
    data = path.read_bytes()
    assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["sign-1.key.pem"]  # no temp file left
    loaded = load_ca_key(SoftwareKeyConfig(path, passphrase))
    assert loaded.private_numbers() == key.private_numbers()


def test_overwrite_is_atomic_and_keeps_mode(
    tmp_path: Path, key: rsa.RSAPrivateKey, passphrase: SecretSource
) -> None:
    path = tmp_path / "k.pem"
    path.write_bytes(b"old")
    path.chmod(0o644)
    save_key(path, key, passphrase)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(path, passphrase).private_numbers() == key.private_numbers()


def test_wrong_passphrase(
    tmp_path: Path,
    key: rsa.RSAPrivateKey,
    passphrase: SecretSource,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "k.pem"
    save_key(path, key, passphrase)
    monkeypatch.setenv("JPKI_CA_PASSPHRASE", "wrong")
    with pytest.raises(WrongPassphrase):
        load_key(path, passphrase)
    with pytest.raises(KeyStoreError, match="no passphrase"):
        load_key(path, None)


def test_unencrypted_refused_unless_allowed(tmp_path: Path, key: rsa.RSAPrivateKey) -> None:
    path = tmp_path / "plain.pem"
    with pytest.raises(UnencryptedKeyRefused):
        save_key(path, key, None)
    save_key(path, key, None, allow_unencrypted=True)
    with pytest.raises(UnencryptedKeyRefused):
        load_key(path, None)
    # The same refusal for a legacy unencrypted PKCS#1 file written by someone else.
    legacy = tmp_path / "legacy.pem"
    legacy.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(UnencryptedKeyRefused):
        load_key(legacy, None)
    assert load_key(path, None, allow_unencrypted=True).key_size == 2048


def test_missing_file(tmp_path: Path, passphrase: SecretSource) -> None:
    with pytest.raises(KeyStoreError):
        load_key(tmp_path / "nope.pem", passphrase)
