from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from rp_pki import TestPki
from typer.testing import CliRunner

from mobile_jpki.cli.verify import app
from mobile_jpki.pki.model import CertKind, Hierarchy
from mobile_jpki.signing.cms import sign_cms
from mobile_jpki.signing.login import new_challenge, sign_login

runner = CliRunner()
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def pem(path: Path, cert) -> Path:  # type: ignore[no-untyped-def]
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def issue(tpki: TestPki, kind: CertKind, serial: int):  # type: ignore[no-untyped-def]
    return tpki.issue(
        kind, serial, not_before=NOW - dt.timedelta(days=1), not_after=NOW + dt.timedelta(days=30)
    )


def test_cert_offline_soft_fail_prints_kind_and_facts(tpki: TestPki, tmp_path: Path) -> None:
    phone = issue(tpki, CertKind.PHONE_SIGN, 1001)
    root = pem(tmp_path / "root.pem", tpki.root(Hierarchy.SIGN))
    args = ["cert", str(pem(tmp_path / "c.pem", phone.cert)), "--trust", str(root), "--offline"]
    hard = runner.invoke(app, args)
    assert hard.exit_code == 1, hard.output
    assert "revocation-unavailable" in hard.output
    soft = runner.invoke(app, [*args, "--soft-fail"])
    assert soft.exit_code == 0, soft.output
    assert "kind: phone-sign (smartphone)" in soft.output
    assert "name: 番号\u3000花子" in soft.output


def test_cms_tampered_is_exit_1(tpki: TestPki, tmp_path: Path) -> None:
    card = issue(tpki, CertKind.CARD_SIGN, 1002)
    root = pem(tmp_path / "root.pem", tpki.root(Hierarchy.SIGN))
    (tmp_path / "doc").write_bytes(b"hello")
    (tmp_path / "doc.p7s").write_bytes(sign_cms(b"HELLO", card.key, card.cert, signing_time=NOW))
    r = runner.invoke(
        app,
        [
            "cms",
            str(tmp_path / "doc.p7s"),
            "--data",
            str(tmp_path / "doc"),
            "--trust",
            str(root),
            "--offline",
            "--soft-fail",
        ],
    )
    assert r.exit_code == 1 and "bad-signature" in r.output


def test_login_and_usage_errors(tpki: TestPki, tmp_path: Path) -> None:
    auth = issue(tpki, CertKind.PHONE_AUTH, 1003)
    root = pem(tmp_path / "root.pem", tpki.root(Hierarchy.AUTH))
    # The CLI judges at the wall clock: the challenge must be fresh when it runs, not when the
    # module was collected (the whole suite takes longer than the 2-minute challenge TTL).
    fresh = dt.datetime.now(dt.UTC).replace(microsecond=0)
    a = sign_login(new_challenge("rp", now=fresh), auth.key, auth.cert)
    (tmp_path / "a.json").write_text(a.to_json())
    ok = runner.invoke(
        app,
        [
            "login",
            str(tmp_path / "a.json"),
            "--audience",
            "rp",
            "--trust",
            str(root),
            "--offline",
            "--soft-fail",
        ],
    )
    assert ok.exit_code == 0, ok.output
    wrong = runner.invoke(
        app,
        [
            "login",
            str(tmp_path / "a.json"),
            "--audience",
            "other",
            "--trust",
            str(root),
            "--offline",
            "--soft-fail",
        ],
    )
    assert wrong.exit_code == 1 and "wrong-audience" in wrong.output
    missing = runner.invoke(app, ["cms", str(tmp_path / "nope"), "--trust", str(root)])
    assert missing.exit_code == 2 and "error:" in missing.output
    no_trust = runner.invoke(app, ["cert", str(tmp_path / "root.pem")])
    assert no_trust.exit_code == 2
