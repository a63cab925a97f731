"""Our CRLs through OpenSSL: ``openssl crl`` parses them and ``openssl verify -crl_check`` uses
them (shard IDP against the certificate's CDP, delta CRLs with ``-use_deltas``, hold release)."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest
from crl_fixtures import URLS, leaf, make_ca, pem
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from mobile_jpki.pki.crl import CrlScope, build_crl
from mobile_jpki.pki.revocation import Reason, RevokedEntry

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")

UTC = dt.UTC
# OpenSSL checks CRL times against the real clock: make this CRL current whenever tests run.
NOW = dt.datetime.now(UTC).replace(microsecond=0)
REVOKED_AT = NOW - dt.timedelta(hours=2)


def openssl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", *map(str, args)], capture_output=True, text=True, check=False, timeout=60
    )


def write_crl(path: Path, entries: list[RevokedEntry], scope: CrlScope, crl_number: int) -> Path:
    der = build_crl(
        issuer=make_ca(),
        urls=URLS,
        entries=entries,
        crl_number=crl_number,
        this_update=NOW - dt.timedelta(hours=1),
        next_update=NOW + dt.timedelta(days=1),
        scope=scope,
    )
    path.write_bytes(x509.load_der_x509_crl(der).public_bytes(Encoding.PEM))
    return path


@pytest.fixture
def pki_dir(tmp_path: Path) -> Path:
    ca = make_ca()
    (tmp_path / "root.pem").write_bytes(pem(ca.certificate))
    for name, serial, shard in [("revoked", 0x8A01, 0), ("good", 0x8A02, 0), ("other", 0x8A03, 1)]:
        (tmp_path / f"{name}.pem").write_bytes(pem(leaf(ca, serial, shard)))
    return tmp_path


def verify(pki_dir: Path, cert: str, *crls: Path, deltas: bool = False) -> tuple[int, str]:
    args: list[str | Path] = ["verify", "-crl_check", "-CAfile", pki_dir / "root.pem"]
    if deltas:
        args.append("-use_deltas")
    for crl_path in crls:
        args += ["-CRLfile", crl_path]
    result = openssl(*args, pki_dir / f"{cert}.pem")
    return result.returncode, result.stdout + result.stderr


def test_openssl_crl_parses_and_prints_entries(tmp_path: Path) -> None:
    der = build_crl(
        issuer=make_ca(),
        urls=URLS,
        entries=[
            RevokedEntry(0x80, REVOKED_AT, Reason.KEY_COMPROMISE, REVOKED_AT),
            RevokedEntry(0x81, dt.datetime(2051, 1, 1, tzinfo=UTC), Reason.REMOVE_FROM_CRL),
        ],
        crl_number=9,
        this_update=NOW,
        next_update=NOW + dt.timedelta(days=1),
        scope=CrlScope.delta(0, 8),
    )
    (tmp_path / "d.crl").write_bytes(der)
    result = openssl("crl", "-inform", "DER", "-in", tmp_path / "d.crl", "-noout", "-text")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "Delta CRL Indicator: critical" in text
    assert "Issuing Distribution Point: critical" in text
    assert "Only User Certificates" in text
    assert "Serial Number: 80" in text
    assert "Key Compromise" in text
    assert "Remove From CRL" in text
    assert "Jan  1 00:00:00 2051 GMT" in text
    # and the signature checks out against the root
    (tmp_path / "root.pem").write_bytes(pem(make_ca().certificate))
    checked = openssl(
        "crl",
        "-inform",
        "DER",
        "-in",
        tmp_path / "d.crl",
        "-noout",
        "-CAfile",
        tmp_path / "root.pem",
    )
    assert checked.returncode == 0
    assert "verify OK" in checked.stdout + checked.stderr


def test_verify_revoked_and_good_leaf(pki_dir: Path) -> None:
    crl_path = write_crl(
        pki_dir / "0.pem",
        [RevokedEntry(0x8A01, REVOKED_AT, Reason.AFFILIATION_CHANGED)],
        CrlScope.full(0),
        crl_number=3,
    )
    code, out = verify(pki_dir, "revoked", crl_path)
    assert code != 0
    assert "certificate revoked" in out
    code, out = verify(pki_dir, "good", crl_path)
    assert code == 0, out
    assert "OK" in out


def test_a_shard_crl_does_not_cover_another_shard(pki_dir: Path) -> None:
    # The shard-0 CRL's IDP does not match the shard-1 certificate's CDP (RFC 5280 §6.3.3 b.2),
    # so OpenSSL reports "different CRL scope" instead of wrongly calling it good.
    crl_path = write_crl(pki_dir / "0.pem", [], CrlScope.full(0), crl_number=3)
    code, out = verify(pki_dir, "other", crl_path)
    assert code != 0
    assert "different CRL scope" in out
    shard1 = write_crl(pki_dir / "1.pem", [], CrlScope.full(1), crl_number=4)
    code, out = verify(pki_dir, "other", crl_path, shard1)
    assert code == 0, out


def test_delta_crl_is_combined_with_its_base(pki_dir: Path) -> None:
    base = write_crl(pki_dir / "base.pem", [], CrlScope.full(0), crl_number=40)
    delta = write_crl(
        pki_dir / "delta.pem",
        [RevokedEntry(0x8A01, REVOKED_AT, Reason.SUPERSEDED)],
        CrlScope.delta(0, 40),
        crl_number=41,
    )
    assert verify(pki_dir, "revoked", base)[0] == 0
    code, out = verify(pki_dir, "revoked", base, delta, deltas=True)
    assert code != 0
    assert "certificate revoked" in out
    assert verify(pki_dir, "good", base, delta, deltas=True)[0] == 0


def test_hold_released_by_remove_from_crl_in_the_delta(pki_dir: Path) -> None:
    base = write_crl(
        pki_dir / "base.pem",
        [RevokedEntry(0x8A01, REVOKED_AT, Reason.CERTIFICATE_HOLD)],
        CrlScope.full(0),
        crl_number=50,
    )
    delta = write_crl(
        pki_dir / "delta.pem",
        [RevokedEntry(0x8A01, NOW - dt.timedelta(minutes=5), Reason.REMOVE_FROM_CRL)],
        CrlScope.delta(0, 50),
        crl_number=51,
    )
    code, out = verify(pki_dir, "revoked", base)
    assert code != 0
    assert "certificate revoked" in out
    code, out = verify(pki_dir, "revoked", base, delta, deltas=True)
    assert code == 0, out
