"""``mobile-jpki ca``: one-line errors, documented exit codes, the revocation commands."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import update
from typer.testing import CliRunner

from mobile_jpki.cli.main import app
from mobile_jpki.clock import SystemClock
from mobile_jpki.pki.model import CertKind
from mobile_jpki.service.ca import IssueOrder
from mobile_jpki.service.ca.bootstrap import open_ca
from mobile_jpki.settings import Settings
from mobile_jpki.store.models import AuditRecord

runner = CliRunner()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca-cli")
    result = runner.invoke(app, ["ca", "init", "--data-dir", str(path)])
    assert result.exit_code == 0, result.output
    assert "created sign-1" in result.output and "created auth-1" in result.output
    return path


@pytest.fixture(autouse=True)
def _no_env_passphrase(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOBILE_JPKI_CA_PASSPHRASE", raising=False)


def _issue(data_dir: Path) -> int:
    ca = open_ca(Settings.load(data_dir))
    now = SystemClock().now()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    info = ca.issue(
        IssueOrder(
            CertKind.PHONE_AUTH, key.public_key(), "CLI0001", now, now + dt.timedelta(days=10)
        ),
        now,
    )
    ca.db.dispose()
    return info.serial


def test_layout(data_dir: Path) -> None:
    assert (data_dir / "settings.json").is_file()
    assert (data_dir / "ca" / "passphrase").stat().st_mode & 0o777 == 0o600
    assert (data_dir / "ca" / "sign-1.key.pem").stat().st_mode & 0o777 == 0o600
    assert b"ENCRYPTED PRIVATE KEY" in (data_dir / "ca" / "sign-1.key.pem").read_bytes()
    again = runner.invoke(app, ["ca", "init", "--data-dir", str(data_dir)])
    assert again.exit_code == 0 and "already present" in again.output


def test_hold_release_revoke(data_dir: Path) -> None:
    serial = f"{_issue(data_dir):x}"
    d = ["--data-dir", str(data_dir)]
    assert "good" in runner.invoke(app, ["ca", "status", serial, *d]).output
    assert "held" in runner.invoke(app, ["ca", "hold", serial, *d]).output
    assert "good" in runner.invoke(app, ["ca", "release", serial, *d]).output
    out = runner.invoke(
        app,
        [
            "ca",
            "revoke",
            serial,
            "--reason",
            "key-compromise",
            "--invalidity-date",
            "2026-01-02T03:04:05+09:00",
            *d,
        ],
    )
    assert out.exit_code == 0 and "reason=key-compromise" in out.output
    again = runner.invoke(app, ["ca", "hold", serial, *d])
    assert again.exit_code == 4
    assert again.output.strip().startswith("error:") and "Traceback" not in again.output


def test_errors_and_exit_codes(data_dir: Path, tmp_path: Path) -> None:
    d = ["--data-dir", str(data_dir)]
    assert runner.invoke(app, ["ca", "status", "abcdef", *d]).exit_code == 3
    assert runner.invoke(app, ["ca", "status", "xyz", *d]).exit_code == 2
    assert runner.invoke(app, ["ca", "revoke", "ab", "--reason", "nope", *d]).exit_code == 2
    missing = runner.invoke(app, ["ca", "status", "ab", "--data-dir", str(tmp_path)])
    assert missing.exit_code == 5 and "ca init" in missing.output
    out = tmp_path / "x.crl"
    assert (
        runner.invoke(
            app, ["ca", "crl", "--ca", "auth-9", "--shard", "0", "--out", str(out), *d]
        ).exit_code
        == 3
    )


def test_crl_to_file(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "0.crl"
    result = runner.invoke(
        app,
        [
            "ca",
            "crl",
            "--ca",
            "sign-1",
            "--shard",
            "0",
            "--out",
            str(out),
            "--data-dir",
            str(data_dir),
        ],
    )
    assert result.exit_code == 0, result.output
    crl = x509.load_der_x509_crl(out.read_bytes())
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number >= 1
    delta = tmp_path / "0.delta.crl"
    assert (
        runner.invoke(
            app,
            [
                "ca",
                "crl",
                "--ca",
                "sign-1",
                "--shard",
                "0",
                "--delta",
                "--out",
                str(delta),
                "--data-dir",
                str(data_dir),
            ],
        ).exit_code
        == 0
    )
    assert x509.load_der_x509_crl(delta.read_bytes()).extensions.get_extension_for_class(
        x509.DeltaCRLIndicator
    )


def test_audit_verify(data_dir: Path) -> None:
    ok = runner.invoke(app, ["ca", "audit", "verify", "--data-dir", str(data_dir)])
    assert ok.exit_code == 0 and "intact" in ok.output
    ca = open_ca(Settings.load(data_dir))
    with ca.db.transaction() as s:
        s.execute(update(AuditRecord).where(AuditRecord.seq == 2).values(actor="mallory"))
    ca.db.dispose()
    bad = runner.invoke(app, ["ca", "audit", "verify", "--data-dir", str(data_dir)])
    assert bad.exit_code == 6
    assert "seq 2" in bad.output and "edited" in bad.output
