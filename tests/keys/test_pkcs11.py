"""CA keys on a PKCS#11 token (SoftHSM2): generated there, used by the issuance code through
cryptography's interface, never extractable; certificates checked by openssl."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from cryptography.x509 import ocsp as xocsp
from pkcs11 import Attribute, ObjectClass

from mobile_jpki.keys import KeyStoreError, Pkcs11KeyConfig, load_ca_key
from mobile_jpki.keys.errors import TokenError
from mobile_jpki.keys.pkcs11 import (
    KeypairSpec,
    Pkcs11KeyStore,
    Pkcs11RSAPrivateKey,
    Pkcs11Token,
    generate_keypair_on_token,
    key_uri,
    module_lock,
    parse_key_uri,
)
from mobile_jpki.pki.issuance import IssuanceRequest, build_root, issue
from mobile_jpki.pki.model import CaIdentity, CertKind, Hierarchy, PublicUrls
from mobile_jpki.pki.revocation import Reason
from mobile_jpki.service.ca import CertificateAuthority, IssueOrder
from mobile_jpki.service.signing_pool import SigningPool
from mobile_jpki.settings import Settings
from mobile_jpki.store.db import Database

pytestmark = pytest.mark.softhsm

NOW = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def hsm_key(softhsm_token: Pkcs11Token) -> Pkcs11RSAPrivateKey:
    return generate_keypair_on_token(softhsm_token, KeypairSpec("sign-ca-1"))


def test_key_is_rsa_2048_and_never_leaves(
    softhsm_token: Pkcs11Token, hsm_key: Pkcs11RSAPrivateKey
) -> None:
    assert isinstance(hsm_key, rsa.RSAPrivateKey)
    assert hsm_key.key_size == 2048
    assert hsm_key.public_key().public_numbers().e == 65537
    with pytest.raises(KeyStoreError, match="never leaves"):
        hsm_key.private_numbers()
    with pytest.raises(KeyStoreError, match="never leaves"):
        hsm_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    with pytest.raises(UnsupportedAlgorithm):
        hsm_key.decrypt(b"x" * 256, padding.PKCS1v15())
    session = softhsm_token.open_session()
    try:
        (private,) = session.get_objects(
            {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: "sign-ca-1"}
        )
        assert private[Attribute.SENSITIVE] is True
        assert private[Attribute.EXTRACTABLE] is False
        assert private[Attribute.DECRYPT] is False
    finally:
        session.close()


@pytest.mark.parametrize(
    "algorithm", [hashes.SHA256(), hashes.SHA384(), hashes.SHA512()], ids=lambda a: a.name
)
def test_sign_hash_and_prehashed(
    hsm_key: Pkcs11RSAPrivateKey, algorithm: hashes.HashAlgorithm
) -> None:
    data = b"JPKI " * 100
    public = hsm_key.public_key()
    sig = hsm_key.sign(data, padding.PKCS1v15(), algorithm)
    public.verify(sig, data, padding.PKCS1v15(), algorithm)
    digest = hashlib.new(algorithm.name, data).digest()
    pre = hsm_key.sign(digest, padding.PKCS1v15(), utils.Prehashed(algorithm))
    assert pre == sig  # PKCS#1 v1.5 is deterministic: both paths pad the same DigestInfo
    with pytest.raises(UnsupportedAlgorithm):
        hsm_key.sign(digest[:-1], padding.PKCS1v15(), utils.Prehashed(algorithm))


def test_sign_no_digest_info(hsm_key: Pkcs11RSAPrivateKey) -> None:
    digest = hashlib.sha256(b"abc").digest()
    digest_info = bytes.fromhex("3031300d060960864801650304020105000420") + digest
    raw = hsm_key.sign(digest_info, padding.PKCS1v15(), utils.NoDigestInfo())
    hsm_key.public_key().verify(raw, b"abc", padding.PKCS1v15(), hashes.SHA256())


def test_refuses_pss_and_sha1(hsm_key: Pkcs11RSAPrivateKey) -> None:
    pss = padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.DIGEST_LENGTH)
    with pytest.raises(UnsupportedAlgorithm):
        hsm_key.sign(b"x", pss, hashes.SHA256())
    with pytest.raises(UnsupportedAlgorithm):
        hsm_key.sign(b"x", padding.PKCS1v15(), hashes.SHA1())  # noqa: S303 - must be refused


def test_root_and_certificate_signed_on_the_token(
    tmp_path: Path, hsm_key: Pkcs11RSAPrivateKey
) -> None:
    urls = PublicUrls()
    root = build_root(
        hierarchy=Hierarchy.AUTH,
        generation=1,
        key=hsm_key,
        not_before=NOW,
        not_after=NOW + dt.timedelta(days=3650),
        urls=urls,
    )
    ca = CaIdentity("auth-1", Hierarchy.AUTH, 1, root, hsm_key)
    subject = rsa.generate_private_key(65537, 2048)
    request = IssuanceRequest(
        kind=CertKind.CARD_AUTH,
        subject_public_key=subject.public_key(),
        serial=123456789,
        subject_id="HSM0001",
        not_before=NOW,
        not_after=NOW + dt.timedelta(days=365),
        shard=0,
    )
    cert = issue(ca, request, urls)
    (tmp_path / "root.pem").write_bytes(root.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "ee.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    out = subprocess.run(
        [
            "openssl",
            "verify",
            "-attime",
            str(int(NOW.timestamp()) + 60),
            "-CAfile",
            tmp_path / "root.pem",
            tmp_path / "ee.pem",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.stdout.strip().endswith("ee.pem: OK"), out.stderr


def test_load_ca_key_opens_the_same_key(
    softhsm_token: Pkcs11Token, hsm_key: Pkcs11RSAPrivateKey
) -> None:
    key = load_ca_key(Pkcs11KeyConfig(softhsm_token.token_label, softhsm_token.pin, "sign-ca-1"))
    assert key.public_key() == hsm_key.public_key()
    with pytest.raises(TokenError, match="no-such-key"):
        load_ca_key(Pkcs11KeyConfig(softhsm_token.token_label, softhsm_token.pin, "no-such-key"))


def test_errors(softhsm_token: Pkcs11Token, hsm_key: Pkcs11RSAPrivateKey) -> None:
    with pytest.raises(KeyStoreError, match="already holds"):
        generate_keypair_on_token(softhsm_token, KeypairSpec("sign-ca-1"))
    with pytest.raises(TokenError, match="no-such-token"):
        Pkcs11RSAPrivateKey.open(Pkcs11Token("no-such-token", softhsm_token.pin), "sign-ca-1")


_WRONG_PIN_PROBE = """
import sys
from mobile_jpki.keys.errors import TokenError
from mobile_jpki.keys.pkcs11 import Pkcs11RSAPrivateKey, Pkcs11Token
from mobile_jpki.keys.source import SecretSource
try:
    token = Pkcs11Token(sys.argv[1], SecretSource("env", "WRONG_PIN"))
    Pkcs11RSAPrivateKey.open(token, "sign-ca-1")
except TokenError as exc:
    print(exc)
"""


def test_wrong_pin(softhsm_token: Pkcs11Token, hsm_key: Pkcs11RSAPrivateKey) -> None:
    # In a fresh process: login state is per application (PKCS#11 v2.40 §5.6), and SoftHSM
    # answers CKR_USER_ALREADY_LOGGED_IN before it checks the PIN, so a wrong PIN can only be
    # observed by a process that has no logged-in session yet.
    out = subprocess.run(
        [sys.executable, "-c", _WRONG_PIN_PROBE, softhsm_token.token_label],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "WRONG_PIN": "000000"},
    )
    assert "cannot log in to token 'mobile-jpki-test': PinIncorrect" in out.stdout, out.stderr


def test_key_uri_round_trip() -> None:
    uri = key_uri("mobile jpki;prod", "sign-1")
    assert uri == "pkcs11:token=mobile%20jpki%3Bprod;object=sign-1;type=private"
    assert parse_key_uri(uri) == ("mobile jpki;prod", "sign-1")
    for bad in ("file:/x", "pkcs11:", "pkcs11:token=a", "pkcs11:token=a;object=b;type=public"):
        with pytest.raises(KeyStoreError):
            parse_key_uri(bad)


def test_key_store(softhsm_token: Pkcs11Token, hsm_key: Pkcs11RSAPrivateKey) -> None:
    store = Pkcs11KeyStore(softhsm_token)
    key, ref = store.generate("auth-2")
    assert ref == "pkcs11:token=mobile-jpki-test;object=auth-2;type=private"
    assert store.load(ref) is key
    existing = store.load("pkcs11:token=mobile-jpki-test;object=sign-ca-1;type=private")
    assert existing.public_key() == hsm_key.public_key()
    with pytest.raises(KeyStoreError, match="not ours"):
        store.load("pkcs11:token=other;object=sign-ca-1")


def test_concurrent_signing_through_the_pool(
    softhsm_token: Pkcs11Token, hsm_key: Pkcs11RSAPrivateKey
) -> None:
    # The CA's signing pool signs a certificate (root key) and its OCSP response (responder
    # key) on two threads at once. python-pkcs11 initialises the module with
    # C_Initialize(NULL_PTR) (no multi-threaded access, PKCS#11 v2.40 §5.4; SoftHSM2 then
    # disables its mutexes), so both keys must queue on the module's one lock.
    other = generate_keypair_on_token(softhsm_token, KeypairSpec("ocsp-concurrent"))
    assert other._lock is hsm_key._lock is module_lock(softhsm_token.module)
    pool = SigningPool(4)
    keys = [hsm_key, other] * 20
    try:
        signatures = pool.run(
            [
                functools.partial(k.sign, b"tbs %d" % i, padding.PKCS1v15(), hashes.SHA256())
                for i, k in enumerate(keys)
            ]
        )
    finally:
        pool.close()
    for i, (key, signature) in enumerate(zip(keys, signatures, strict=True)):
        key.public_key().verify(signature, b"tbs %d" % i, padding.PKCS1v15(), hashes.SHA256())


def test_ca_issues_and_revokes_with_token_keys(softhsm_token: Pkcs11Token, tmp_path: Path) -> None:
    # The whole service path on the token: root and responder keys generated there, a batch
    # signed on the signing pool (certificates and OCSP responses at once), then revoked.
    settings = Settings(data_dir=tmp_path, signing_threads=3)
    db = Database(f"sqlite:///{tmp_path / 'ca.db'}")
    db.migrate()
    try:
        ca = CertificateAuthority(db, settings, Pkcs11KeyStore(softhsm_token))
        ca.init_hierarchies(NOW)
        subject = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
        orders = [
            IssueOrder(CertKind.PHONE_AUTH, subject, f"HSM{i}", NOW, NOW + dt.timedelta(days=30))
            for i in range(6)
        ]
        infos = ca.issue_many(orders, NOW)
        root = ca.identity(infos[0].ca_id).certificate
        for info in infos:
            info.certificate.verify_directly_issued_by(root)
        with db.transaction() as s:
            ca.revoke_many([infos[0].serial], Reason.KEY_COMPROMISE, NOW, session=s)
        for info in infos:
            answer = ca.ocsp_answer(_rfc5019_request(info.certificate, root), NOW)
            response = xocsp.load_der_ocsp_response(answer.der)
            expected = "REVOKED" if info is infos[0] else "GOOD"
            assert response.certificate_status.name == expected
            responder = response.certificates[0]
            responder.verify_directly_issued_by(root)
            public = responder.public_key()
            assert isinstance(public, rsa.RSAPublicKey)
            public.verify(
                response.signature,
                response.tbs_response_bytes,
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        assert ca.audit.verify().ok
    finally:
        db.dispose()


def _rfc5019_request(cert: x509.Certificate, issuer: x509.Certificate) -> bytes:
    builder = xocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())  # noqa: S303
    return builder.build().public_bytes(serialization.Encoding.DER)
