"""CA keys that never leave a PKCS#11 token (an HSM; SoftHSM2 in tests).

:class:`Pkcs11RSAPrivateKey` is a ``cryptography`` ``rsa.RSAPrivateKey`` whose ``sign()`` runs on
the token: ``x509.CertificateBuilder.sign()``, the CRL and OCSP builders call it like any other
key (``cryptography`` ≥ 44 dispatches to Python subclasses). Mechanisms (PKCS#11 v2.40 §2.1):
- ``sign(data, PKCS1v15(), SHA256())`` → ``CKM_SHA256_RSA_PKCS``: the token hashes and pads;
- ``sign(digest, PKCS1v15(), Prehashed(SHA256()))`` → ``CKM_RSA_PKCS`` over the DER DigestInfo
  (RFC 8017 §9.2 step 2), so callers that hash themselves (CMS signed attributes) also work;
- ``sign(digest_info, PKCS1v15(), NoDigestInfo())`` → ``CKM_RSA_PKCS`` over the bytes as given.
SHA-384/512 are supported the same way; PSS and decryption are not (JPKI is PKCS#1 v1.5 only and
a CA key must not decrypt).

Threads: python-pkcs11 initialises the module with ``C_Initialize(NULL_PTR)``, which tells it
that the application will not call it from several threads at once (PKCS#11 v2.40 §5.4: no
locking flags and no mutex callbacks), and SoftHSM2 then switches its own mutexes off. So every
call into one module — sign, open a session, find a key, generate — holds ONE lock per module
(:func:`module_lock`), not one per key: the CA's signing pool signs a certificate (root key) and
its OCSP response (responder key) from two threads, through two sessions of the same library.
Software keys sign in parallel; token keys queue here, one operation at a time per module
(docs/hsm.md). The PIN is read from its :class:`SecretSource` when a session opens and not
kept.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, NoReturn
from urllib.parse import quote, unquote

import pkcs11
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from cryptography.hazmat.primitives.asymmetric.padding import AsymmetricPadding
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11 import exceptions as p11_errors

from mobile_jpki.keys.errors import KeyStoreError, TokenError
from mobile_jpki.keys.source import SecretSource

DEFAULT_MODULE = "/usr/lib/softhsm/libsofthsm2.so"

# DER DigestInfo prefixes, RFC 8017 §9.2 note 1.
_DIGEST_INFO_PREFIX: dict[str, bytes] = {
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha384": bytes.fromhex("3041300d060960864801650304020205000430"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
}
_HASH_AND_SIGN: dict[str, Mechanism] = {
    "sha256": Mechanism.SHA256_RSA_PKCS,
    "sha384": Mechanism.SHA384_RSA_PKCS,
    "sha512": Mechanism.SHA512_RSA_PKCS,
}

_libs: dict[str, Any] = {}
_libs_lock = threading.Lock()
_module_locks: dict[str, threading.RLock] = {}


def module_lock(module: str) -> threading.RLock:
    """The lock every call into the PKCS#11 module ``module`` holds (see the module doc)."""
    with _libs_lock:
        lock = _module_locks.get(module)
        if lock is None:
            lock = _module_locks[module] = threading.RLock()
        return lock


def _lib(module: str) -> Any:
    """One loaded library per module path: C_Initialize runs once per process
    (PKCS#11 v2.40 §5.4, CKR_CRYPTOKI_ALREADY_INITIALIZED otherwise)."""
    with _libs_lock:
        lib = _libs.get(module)
        if lib is None:
            try:
                lib = pkcs11.lib(module)
            except (RuntimeError, OSError, p11_errors.PKCS11Error) as exc:
                raise TokenError(f"cannot load PKCS#11 module {module}", str(exc)) from None
            _libs[module] = lib
        return lib


@dataclass(frozen=True)
class Pkcs11Token:
    """Where the key lives: module, token label, and where the user PIN comes from."""

    token_label: str
    pin: SecretSource
    module: str = DEFAULT_MODULE

    @property
    def lock(self) -> threading.RLock:
        return module_lock(self.module)

    def open_session(self, *, rw: bool = False) -> Any:
        with self.lock:
            token = self._token()
            try:
                return token.open(rw=rw, user_pin=self.pin.read().decode())
            except p11_errors.UserAlreadyLoggedIn:
                # Login is per application and token, not per session (PKCS#11 v2.40 §5.6
                # C_Login): another open session of ours is logged in, so this one already is.
                return token.open(rw=rw)
            except p11_errors.PKCS11Error as exc:
                raise TokenError(
                    f"cannot log in to token {self.token_label!r}", _name(exc)
                ) from None

    def _token(self) -> Any:
        try:
            return _lib(self.module).get_token(token_label=self.token_label)
        except (p11_errors.NoSuchToken, p11_errors.MultipleTokensReturned) as exc:
            raise TokenError(f"token {self.token_label!r}", _name(exc)) from None


def _name(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


class Pkcs11RSAPrivateKey(rsa.RSAPrivateKey):
    """An RSA private key on a PKCS#11 token, usable wherever ``cryptography`` takes a key."""

    def __init__(
        self,
        session: Any,
        private: Any,
        public: rsa.RSAPublicKey,
        label: str,
        lock: threading.RLock | None = None,
    ) -> None:
        self._session = session
        self._private = private
        self._public = public
        # The module's lock (module_lock), shared with every other key of the same module.
        self._lock = lock if lock is not None else threading.RLock()
        self.label = label

    @classmethod
    def open(cls, token: Pkcs11Token, key_label: str) -> Pkcs11RSAPrivateKey:
        """Log in and find the private key labelled ``key_label``."""
        with token.lock:
            session = token.open_session()
            try:
                private = session.get_key(
                    object_class=ObjectClass.PRIVATE_KEY, key_type=KeyType.RSA, label=key_label
                )
                public = _public_key_of(session, private, key_label)
            except (p11_errors.NoSuchKey, p11_errors.MultipleObjectsReturned) as exc:
                session.close()
                raise TokenError(
                    f"key {key_label!r} on token {token.token_label!r}", _name(exc)
                ) from None
        return cls(session, private, public, key_label, token.lock)

    def close(self) -> None:
        with self._lock:
            self._session.close()

    # --- cryptography's RSAPrivateKey interface --------------------------------------------

    @property
    def key_size(self) -> int:
        return self._public.key_size

    def public_key(self) -> rsa.RSAPublicKey:
        return self._public

    def sign(
        self,
        data: bytes,
        padding: AsymmetricPadding,
        algorithm: utils.Prehashed | hashes.HashAlgorithm | utils.NoDigestInfo,
    ) -> bytes:
        if not isinstance(padding, _PKCS1v15):
            raise UnsupportedAlgorithm(f"{type(padding).__name__}: only PKCS#1 v1.5 on the token")
        if isinstance(algorithm, utils.NoDigestInfo):
            # The caller built the DigestInfo (or wants raw PKCS#1 v1.5 padding): pad only.
            mechanism, payload = Mechanism.RSA_PKCS, bytes(data)
        elif isinstance(algorithm, utils.Prehashed):
            name = algorithm._algorithm.name  # the digest was computed by the caller
            prefix = _DIGEST_INFO_PREFIX.get(name)
            if prefix is None or len(data) != algorithm.digest_size:
                raise UnsupportedAlgorithm(f"prehashed {name} of {len(data)} bytes")
            mechanism, payload = Mechanism.RSA_PKCS, prefix + bytes(data)
        else:
            found = _HASH_AND_SIGN.get(algorithm.name)
            if found is None:
                raise UnsupportedAlgorithm(f"{algorithm.name} with RSA on the token")
            mechanism, payload = found, bytes(data)
        with self._lock:
            try:
                return bytes(self._private.sign(payload, mechanism=mechanism))
            except p11_errors.PKCS11Error as exc:
                raise TokenError(f"signing with {self.label!r} failed", _name(exc)) from None

    def decrypt(self, ciphertext: bytes, padding: AsymmetricPadding) -> bytes:
        raise UnsupportedAlgorithm("a CA signing key does not decrypt")

    def private_numbers(self) -> NoReturn:
        raise KeyStoreError(f"{self.label!r}: the private key never leaves the token")

    def private_bytes(
        self,
        encoding: serialization.Encoding,
        format: serialization.PrivateFormat,
        encryption_algorithm: serialization.KeySerializationEncryption,
    ) -> NoReturn:
        raise KeyStoreError(f"{self.label!r}: the private key never leaves the token")

    def __copy__(self) -> Pkcs11RSAPrivateKey:
        return self  # a handle to the one key on the token

    def __deepcopy__(self, memo: dict[int, object]) -> Pkcs11RSAPrivateKey:
        return self


_PKCS1v15 = padding.PKCS1v15


def _public_key_of(session: Any, private: Any, label: str) -> rsa.RSAPublicKey:
    """Modulus and exponent from the private key object (CKA_MODULUS/CKA_PUBLIC_EXPONENT,
    PKCS#11 v2.40 §2.1.3), else from the public key object of the same label."""
    try:
        n, e = private[Attribute.MODULUS], private[Attribute.PUBLIC_EXPONENT]
    except (p11_errors.AttributeTypeInvalid, p11_errors.AttributeSensitive):
        public = session.get_key(object_class=ObjectClass.PUBLIC_KEY, label=label)
        n, e = public[Attribute.MODULUS], public[Attribute.PUBLIC_EXPONENT]
    return rsa.RSAPublicNumbers(int.from_bytes(e, "big"), int.from_bytes(n, "big")).public_key()


@dataclass(frozen=True)
class KeypairSpec:
    """How a CA key is generated on the token."""

    key_label: str
    key_id: bytes = field(default=b"")
    key_size: int = 2048


def generate_keypair_on_token(token: Pkcs11Token, spec: KeypairSpec) -> Pkcs11RSAPrivateKey:
    """Generate an RSA key pair on the token (CKM_RSA_PKCS_KEY_PAIR_GEN, e = 65537), stored,
    sensitive and non-extractable: the private key can sign and nothing else, and can never be
    read out (PKCS#11 v2.40 §4.9 CKA_SENSITIVE, CKA_EXTRACTABLE). Refuses an existing label."""
    if spec.key_size < 2048:
        raise KeyStoreError(f"RSA-{spec.key_size} is below the RSA-2048 JPKI requires")
    with token.lock:
        _generate(token, spec)
    return Pkcs11RSAPrivateKey.open(token, spec.key_label)


def _generate(token: Pkcs11Token, spec: KeypairSpec) -> None:
    session = token.open_session(rw=True)
    try:
        existing = list(session.get_objects({Attribute.LABEL: spec.key_label}))
        if existing:
            raise KeyStoreError(f"token {token.token_label!r} already holds {spec.key_label!r}")
        key_id = spec.key_id or spec.key_label.encode()
        public_template = {
            Attribute.PUBLIC_EXPONENT: (65537).to_bytes(3, "big"),
            Attribute.VERIFY: True,
            Attribute.ENCRYPT: False,
            Attribute.WRAP: False,
        }
        private_template = {
            Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False,
            Attribute.SIGN: True,
            Attribute.DECRYPT: False,
            Attribute.UNWRAP: False,
        }
        try:
            session.generate_keypair(
                KeyType.RSA,
                spec.key_size,
                id=key_id,
                label=spec.key_label,
                store=True,
                public_template=public_template,
                private_template=private_template,
            )
        except p11_errors.PKCS11Error as exc:
            raise TokenError(
                f"key generation on {token.token_label!r} failed", _name(exc)
            ) from None
    finally:
        session.close()


def key_uri(token_label: str, key_label: str) -> str:
    """An RFC 7512 PKCS#11 URI naming a private key: ``pkcs11:token=…;object=…;type=private``
    (path attribute values percent-encoded, RFC 7512 §2.3)."""
    return (
        f"pkcs11:token={quote(token_label, safe='')};object={quote(key_label, safe='')}"
        ";type=private"
    )


def parse_key_uri(uri: str) -> tuple[str, str]:
    """(token label, key label) from an RFC 7512 URI as written by :func:`key_uri`."""
    scheme, _, path = uri.partition(":")
    if scheme != "pkcs11" or not path:
        raise KeyStoreError(f"{uri!r} is not a pkcs11: URI (RFC 7512)")
    attributes: dict[str, str] = {}
    for part in path.split("?", 1)[0].split(";"):
        name, sep, value = part.partition("=")
        if not sep:
            raise KeyStoreError(f"{uri!r}: malformed path attribute {part!r}")
        attributes[name] = unquote(value)
    if attributes.get("type", "private") != "private" or not {"token", "object"} <= set(attributes):
        raise KeyStoreError(f"{uri!r}: needs token=, object= and (optionally) type=private")
    return attributes["token"], attributes["object"]


class Pkcs11KeyStore:
    """Generate and open CA keys on one token, named by RFC 7512 URIs.

    Matches the service's ``KeyStore`` protocol structurally (``generate(name) -> (key,
    key_ref)``, ``load(key_ref) -> key``) without importing it (``keys`` sits below ``service``).
    Opened keys are kept: one logged-in session per key for the life of the process.
    """

    def __init__(self, token: Pkcs11Token) -> None:
        self.token = token
        self._open: dict[str, Pkcs11RSAPrivateKey] = {}
        self._lock = threading.Lock()

    def generate(self, name: str) -> tuple[rsa.RSAPrivateKey, str]:
        key = generate_keypair_on_token(self.token, KeypairSpec(name))
        uri = key_uri(self.token.token_label, name)
        with self._lock:
            self._open[name] = key
        return key, uri

    def load(self, key_ref: str) -> rsa.RSAPrivateKey:
        token_label, key_label = parse_key_uri(key_ref)
        if token_label != self.token.token_label:
            raise KeyStoreError(f"{key_ref!r} is on token {token_label!r}, not ours")
        with self._lock:
            key = self._open.get(key_label)
            if key is None:
                key = Pkcs11RSAPrivateKey.open(self.token, key_label)
                self._open[key_label] = key
            return key
