"""The demo runs the seed's scenario end to end and leaves what the contract promises."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography import x509
from typer.testing import CliRunner

from mobile_jpki.cli.main import app
from mobile_jpki.clock import FixedClock
from mobile_jpki.demo.scenario import Demo, DemoError, DemoResult

CONTRACT_FILES = [
    "sign-ca.pem",
    "auth-ca.pem",
    "card-sign.pem",
    "card-auth.pem",
    "old-phone-sign.pem",
    "old-phone-auth.pem",
    "new-phone-sign.pem",
    "new-phone-auth.pem",
    "secrets.json",
]
SECRET_KEYS = {
    "card_sign_password",
    "card_auth_pin",
    "old_phone_sign_password",
    "old_phone_auth_pin",
    "new_phone_sign_password",
    "new_phone_auth_pin",
}


class Recorder:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def step(self, title: str) -> None:
        self.lines.append(f"# {title}")

    def detail(self, text: str) -> None:
        self.lines.append(text)


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoResult, Recorder]:
    data_dir = tmp_path_factory.mktemp("demo") / "data"
    recorder = Recorder()
    clock = FixedClock(dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC))
    result = Demo(data_dir, base_url="http://127.0.0.1:8000", clock=clock, reporter=recorder).run()
    return result, recorder


def test_the_old_phone_certificates_are_revoked_and_deleted(
    finished: tuple[DemoResult, Recorder],
) -> None:
    result, _ = finished
    rows = {row.name: row for row in result.holdings}
    assert set(rows) == {
        "card-sign", "card-auth", "old-phone-sign", "old-phone-auth",
        "new-phone-sign", "new-phone-auth",
    }  # fmt: skip
    for name in ("old-phone-sign", "old-phone-auth"):
        assert rows[name].ocsp.startswith("revoked (superseded)")
        assert rows[name].where == "deleted from old-phone"
    for name in ("card-sign", "card-auth", "new-phone-sign", "new-phone-auth"):
        assert rows[name].ocsp == "good"
        assert rows[name].where.startswith("on ")


def test_the_seed_dialog_and_screens_are_walked(finished: tuple[DemoResult, Recorder]) -> None:
    _, recorder = finished
    text = "\n".join(recorder.lines)
    assert "旧スマホ用電子証明書は失効されます" in text
    assert "登録準備が完了しています" in text
    assert "登録が完了しました。" in text


def test_the_pdf_signed_by_the_new_phone_verifies(finished: tuple[DemoResult, Recorder]) -> None:
    result, _ = finished
    assert "Signature1: valid, time-stamped 2026-11-27 03:00:00Z by /tsa" in result.pdf_verdict
    assert (result.data_dir / "export" / "signed-by-new-phone.pdf").read_bytes().startswith(b"%PDF")


def test_exports_follow_the_command_line_contract(finished: tuple[DemoResult, Recorder]) -> None:
    result, _ = finished
    export = result.data_dir / "export"
    for name in CONTRACT_FILES:
        assert (export / name).is_file(), name
    secrets = json.loads((export / "secrets.json").read_text(encoding="utf-8"))
    assert set(secrets) == SECRET_KEYS
    assert (export / "secrets.json").stat().st_mode & 0o077 == 0
    sign_ca = x509.load_pem_x509_certificate((export / "sign-ca.pem").read_bytes())
    new_sign = x509.load_pem_x509_certificate((export / "new-phone-sign.pem").read_bytes())
    new_sign.verify_directly_issued_by(sign_ca)
    assert (result.data_dir / "devices" / "cards" / "card.state").is_file()
    assert (result.data_dir / "devices" / "phones" / "old-phone.state").is_file()
    assert (result.data_dir / "devices" / "phones" / "new-phone.state").is_file()


def test_a_second_run_on_the_same_dir_says_what_to_do(
    finished: tuple[DemoResult, Recorder],
) -> None:
    result, _ = finished
    clock = FixedClock(dt.datetime(2026, 11, 28, tzinfo=dt.UTC))
    demo = Demo(result.data_dir, base_url="http://x", clock=clock, reporter=Recorder())
    with pytest.raises(DemoError, match="mobile-jpki serve"):
        demo.run()


def test_the_cli_refuses_a_foreign_directory_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "something.txt").write_text("not ours")
    outcome = CliRunner().invoke(app, ["demo", "--data-dir", str(tmp_path)])
    assert outcome.exit_code == 1
    assert "not empty" in outcome.output
    assert "Traceback" not in outcome.output
