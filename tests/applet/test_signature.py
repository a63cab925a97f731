"""COMPUTE DIGITAL SIGNATURE equals `openssl pkeyutl -sign` (PKCS#1 v1.5 type 1, RFC 8017 §9.2)
over the same DigestInfo, for known hashes (Prehashed path) and arbitrary input (raw path)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from applet_fakes import CARD_PASSWORD, Device
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from mobile_jpki.protocol.apdu import SW
from mobile_jpki.protocol.constants import EF

PREFIX = {
    "sha1": "3021300906052b0e03021a05000414",
    "sha256": "3031300d060960864801650304020105000420",
    "sha512": "3051300d060960864801650304020305000440",
}
SIZES = {"sha1": 20, "sha256": 32, "sha512": 64}

CASES = [bytes.fromhex(PREFIX[h]) + bytes(range(SIZES[h])) for h in PREFIX] + [
    bytes.fromhex("3031300d060960864801650304020105000420") + b"\x01" * 31,  # truncated
    bytes(range(36)),  # TLS 1.0/1.1 MD5||SHA-1: no DigestInfo at all
    b"\xab" * 245,  # the longest input
]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
@pytest.mark.parametrize("digest_info", CASES, ids=lambda b: f"{len(b)}-{b[:4].hex()}")
def test_signature_matches_openssl(card: Device, tmp_path: Path, digest_info: bytes) -> None:
    key = card.keys[EF.SIGN_KEY]
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    data_file = tmp_path / "in.bin"
    data_file.write_bytes(digest_info)
    # OpenSSL 3's pkeyutl refuses input over 64 bytes ("looks too long to be a hash");
    # rsautl -sign is the same PKCS#1 type-1 private operation without that guard.
    if len(digest_info) <= 64:
        command = ["openssl", "pkeyutl", "-sign", "-pkeyopt", "rsa_padding_mode:pkcs1"]
    else:
        command = ["openssl", "rsautl", "-sign"]
    command += ["-inkey", str(key_file), "-in", str(data_file)]
    expected = subprocess.run(command, check=True, capture_output=True).stdout
    h = card.host
    h.select_ap()
    assert h.verify(EF.SIGN_PASSWORD, CARD_PASSWORD) == SW.OK
    signature, sw = h.sign(EF.SIGN_KEY, digest_info)
    assert sw == SW.OK
    assert signature == expected
