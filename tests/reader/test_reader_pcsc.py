"""Done-when: OpenSC and pyscard see, read and sign with an emulated card through pcscd + vpcd."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.protocol.constants import ATR
from mobile_jpki.reader.commands import JpkiClient
from mobile_jpki.reader.errors import SecurityStatusNotSatisfied, WrongSecret
from mobile_jpki.reader.key import ApduRSAPrivateKey
from mobile_jpki.reader.pcsc import PcscConnection, list_readers

from .reader_fixtures import VpcdCard

pytestmark = pytest.mark.pcsc

PKCS11_MODULE = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"
SIGN_TOKEN = "JPKI (Digital Signature PIN)"
AUTH_TOKEN = "JPKI (User Authentication PIN)"


def _tool(*argv: str) -> str:
    if shutil.which(argv[0]) is None:
        pytest.skip(f"{argv[0]} is not installed (Debian: apt install opensc)")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"{argv}: {done.stdout}\n{done.stderr}"
    return done.stdout


def _der(pem_path: Path) -> bytes:
    return x509.load_pem_x509_certificate(pem_path.read_bytes()).public_bytes(Encoding.DER)


def test_opensc_uses_its_jpki_driver(vpcd_card: VpcdCard) -> None:
    assert _tool("opensc-tool", "--reader", vpcd_card.reader, "--name").strip() == "jpki"
    atr = _tool("opensc-tool", "--reader", vpcd_card.reader, "--atr").strip()
    assert bytes.fromhex(atr.replace(":", "")) == ATR


def test_pkcs15_lists_the_four_certificates(vpcd_card: VpcdCard) -> None:
    out = _tool("pkcs15-tool", "--reader", vpcd_card.reader, "--list-certificates")
    for label in (
        "User Authentication Certificate",
        "Digital Signature Certificate",
        "User Authentication Certificate CA",
        "Digital Signature Certificate CA",
    ):
        assert f"[{label}]" in out


def test_pkcs15_reads_certificates_byte_identical(vpcd_card: VpcdCard, tmp_path: Path) -> None:
    expected = {"01": vpcd_card.auth_der, "03": vpcd_card.auth_ca_der, "04": vpcd_card.sign_ca_der}
    for cert_id, der in expected.items():
        out = tmp_path / f"{cert_id}.pem"
        _tool("pkcs15-tool", "--reader", vpcd_card.reader, "--read-certificate", cert_id,
              "-o", str(out))  # fmt: skip
        assert _der(out) == der
    # The signing certificate is private: OpenSC must verify the signing password first.
    out = tmp_path / "02.pem"
    _tool("pkcs15-tool", "--reader", vpcd_card.reader, "--verify-pin", "--auth-id", "02",
          "--pin", vpcd_card.sign_password, "--read-certificate", "02", "-o", str(out))  # fmt: skip
    assert _der(out) == vpcd_card.sign_der


def test_pkcs11_lists_objects(vpcd_card: VpcdCard) -> None:
    auth = _tool("pkcs11-tool", "--module", PKCS11_MODULE, "--token-label", AUTH_TOKEN,
                 "--list-objects")  # fmt: skip
    assert "User Authentication Certificate" in auth
    sign = _tool("pkcs11-tool", "--module", PKCS11_MODULE, "--token-label", SIGN_TOKEN,
                 "--login", "--pin", vpcd_card.sign_password, "--list-objects")  # fmt: skip
    assert "Private Key Object; RSA" in sign
    assert "never extractable" in sign
    assert "Digital Signature Certificate" in sign


def test_pkcs11_signs_after_the_password_and_openssl_verifies(
    vpcd_card: VpcdCard, tmp_path: Path
) -> None:
    msg, sig, pub, cert = (tmp_path / n for n in ("msg", "msg.sig", "sign.pub", "sign.der"))
    msg.write_bytes(b"mobile-jpki: signed through PC/SC\n")
    cert.write_bytes(vpcd_card.sign_der)
    sign = ("pkcs11-tool", "--module", PKCS11_MODULE, "--token-label", SIGN_TOKEN, "--login",
            "--sign", "--mechanism", "SHA256-RSA-PKCS", "--id", "02", "-i", str(msg),
            "-o", str(sig))  # fmt: skip
    # OpenSC sends the password as typed and the applet compares bytes: unlike the official
    # apps (and JpkiClient.verify), OpenSC does not upper-case. A lower-case entry costs a try.
    lower = subprocess.run([*sign, "--pin", vpcd_card.sign_password.lower()],
                           capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert lower.returncode != 0 and "CKR_PIN_INCORRECT" in lower.stderr
    _tool(*sign, "--pin", vpcd_card.sign_password)  # the right one resets the counter
    _tool("openssl", "x509", "-inform", "DER", "-in", str(cert), "-pubkey", "-noout",
          "-out", str(pub))  # fmt: skip
    verified = _tool("openssl", "dgst", "-sha256", "-verify", str(pub), "-signature", str(sig),
                     str(msg))  # fmt: skip
    assert "Verified OK" in verified


def test_pyscard_with_our_client(vpcd_card: VpcdCard) -> None:
    assert vpcd_card.reader in list_readers()
    with PcscConnection(vpcd_card.reader) as conn:
        assert conn.atr() == ATR
        client = JpkiClient(conn)
        assert client.token_label() == "JPKIAPICCTOKEN2"
        assert client.read_file(0x000A) == vpcd_card.auth_der
        with pytest.raises(SecurityStatusNotSatisfied):
            client.read_file(0x0001)
        with pytest.raises(WrongSecret) as wrong:
            client.verify(Hierarchy.AUTH, "0000")
        assert wrong.value.tries_left == 2
        client.verify(Hierarchy.AUTH, vpcd_card.auth_pin)
        cert = client.read_certificate(Hierarchy.AUTH)
        public = cert.public_key()
        assert isinstance(public, rsa.RSAPublicKey)
        key = ApduRSAPrivateKey(client, Hierarchy.AUTH, public)
        sig = key.sign(b"login challenge", padding.PKCS1v15(), hashes.SHA256())
        public.verify(sig, b"login challenge", padding.PKCS1v15(), hashes.SHA256())
        # a power cycle through PC/SC clears the verified state, as on a real card
        conn.reconnect()
        client.forget_selection()
        with pytest.raises(SecurityStatusNotSatisfied):
            key.sign(b"again", padding.PKCS1v15(), hashes.SHA256())


def test_extended_length_read_through_pcscd(vpcd_card: VpcdCard) -> None:
    with PcscConnection(vpcd_card.reader) as conn:
        client = JpkiClient(conn, extended_length=True)
        assert client.read_file(0x000B) == vpcd_card.auth_ca_der


@pytest.mark.parametrize(("token", "secret"), [(SIGN_TOKEN, "sign"), (AUTH_TOKEN, "auth")])
def test_pkcs11_tool_self_test_reports_no_error(
    vpcd_card: VpcdCard, token: str, secret: str
) -> None:
    """Issue 16 §6: ``pkcs11-tool --test --login`` had one error, C_GenerateRandom(100), while
    GET CHALLENGE answered ``67 00`` above 32 bytes; ``6C 20`` makes OpenSC re-ask."""
    pin = vpcd_card.sign_password if secret == "sign" else vpcd_card.auth_pin
    out = _tool("pkcs11-tool", "--module", PKCS11_MODULE, "--token-label", token,
                "--test", "--login", "--pin", pin)  # fmt: skip
    random_part = out.split("Digests:")[0]
    assert "C_GenerateRandom" in random_part and "seems to be OK" in random_part, out
    assert "No errors" in out, out
