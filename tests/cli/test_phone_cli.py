"""``mobile-jpki phone …`` on the data directory the demo leaves: every command works on
``new-phone`` / ``old-phone``; bad inputs are one-line errors with the documented exit codes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography import x509
from typer.testing import CliRunner

from mobile_jpki.cli import office
from mobile_jpki.cli.main import app
from mobile_jpki.clock import FixedClock
from mobile_jpki.demo.document import minimal_pdf
from mobile_jpki.demo.scenario import Demo
from mobile_jpki.verify.certificate import TrustAnchors
from mobile_jpki.verify.pdf import verify_pdf


class Quiet:
    def step(self, title: str) -> None:
        pass

    def detail(self, text: str) -> None:
        pass


def run(*args: str, code: int = 0, stdin: str | None = None) -> str:
    result = CliRunner().invoke(app, list(args), input=stdin)
    assert result.exit_code == code, (result.output, result.exception)
    assert "Traceback" not in result.output
    return result.output


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    data = tmp_path_factory.mktemp("demo") / "data"
    clock = FixedClock(dt.datetime.now(dt.UTC).replace(microsecond=0))
    Demo(data, base_url="http://127.0.0.1:8000", clock=clock, reporter=Quiet()).run()
    secrets = json.loads((data / "export" / "secrets.json").read_text())
    return data, secrets


def test_status_after_the_demo(demo_dir: tuple[Path, dict[str, str]]) -> None:
    d = str(demo_dir[0])
    out = run("phone", "status", "--data-dir", d, "--phone", "new-phone")
    assert out.count("登録済み") == 2 and out.count(" good ") == 2
    assert "プッシュ通知 オン" in out
    assert "失効済み" in run("phone", "status", "--data-dir", d, "--phone", "old-phone")


def test_sign_pdf_verifies(demo_dir: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    data, secrets = demo_dir
    src, out = tmp_path / "in.pdf", tmp_path / "out.pdf"
    src.write_bytes(minimal_pdf("signed from the command line"))
    password = secrets["new_phone_sign_password"]
    text = run("phone", "sign-pdf", str(src), str(out), "--data-dir", str(data),
               "--phone", "new-phone", "--password", password)  # fmt: skip
    # The data directory's service serves /tsa: B-T by default, time-stamped in process
    # through the command's own connection (no HTTP server is running here).
    assert "(B-T)" in text
    roots = tuple(
        x509.load_pem_x509_certificate((data / "export" / f"{k}-ca.pem").read_bytes())
        for k in ("sign", "auth")
    )
    verdict = verify_pdf(
        out.read_bytes(), anchors=TrustAnchors(roots), now=dt.datetime.now(dt.UTC), revocation=None
    )
    assert verdict.signatures and all(s.valid for s in verdict.signatures), verdict.summary()
    assert all(s.timestamp is not None for s in verdict.signatures), verdict.summary()


def test_sign_pdf_b_b_on_request(demo_dir: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    data, secrets = demo_dir
    src = tmp_path / "in.pdf"
    src.write_bytes(minimal_pdf("x"))
    out = run("phone", "sign-pdf", str(src), str(tmp_path / "o.pdf"), "--data-dir", str(data),
              "--phone", "new-phone", "--password", secrets["new_phone_sign_password"],
              "--level", "B-B")  # fmt: skip
    assert "(B-B)" in out


def test_wrong_pin_shows_tries_left_then_blocked(
    demo_dir: tuple[Path, dict[str, str]],
) -> None:
    """失効 of the user-auth certificate alone asks for its PIN (lifecycle.revocation_secret);
    wrong PINs count down the element's counter (3 tries), then it is blocked — a right PIN
    no longer helps until 初期化 (test_reset_password_with_prompts resets it)."""
    data, _ = demo_dir
    d = str(data)
    for left in (2, 1):
        out = run("phone", "revoke", "--auth", "--data-dir", d, "--phone", "new-phone",
                  "--auth-pin", "9999", code=4)  # fmt: skip
        assert out == f"error: wrong PIN ({left} tries left)\n"  # a PIN, never a password
    out = run("phone", "revoke", "--auth", "--data-dir", d, "--phone", "new-phone",
              "--auth-pin", "9999", code=4)  # fmt: skip
    assert "blocked" in out and "reset-password" in out and len(out.splitlines()) == 1
    assert "登録済み" in run("phone", "status", "--data-dir", d, "--phone", "new-phone")


def test_a_phone_without_certificates_has_nothing_to_revoke(
    demo_dir: tuple[Path, dict[str, str]],
) -> None:
    """The old phone's element was wiped by the 48-hour instruction, its secrets with it."""
    out = run("phone", "revoke", "--data-dir", str(demo_dir[0]), "--phone", "old-phone",
              "--sign-password", "WRONG11", code=4)  # fmt: skip
    assert out == "error: this phone holds no certificate to revoke\n"


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["status", "--phone", "no-such-phone"], 3, "no emulated phone 'no-such-phone'"),
        (["status", "--phone", "../card"], 2, "invalid device id"),
        (["register", "--phone", "new-phone/x"], 2, "invalid device id"),
        (["push", "maybe", "--phone", "new-phone"], 2, "on or off"),
        (["reset-password", "--phone", "new-phone", "--which", "x"], 2, "sign or auth"),
        (["revoke", "--phone", "new-phone"], 2, "--sign-password is required"),
        (["register", "--phone", "new-phone"], 4, "nothing is ready to register"),
        (["apply", "--phone", "new-phone", "--no-sign", "--no-auth"], 2, "at least one"),
        (["apply", "--phone", "new-phone", "--card-password", "short"], 2, "6-16"),
        (["sync", "--phone", "new-phone", "--base-url", "http://127.0.0.1:9"], 1, "cannot reach"),
    ],
)
def test_bad_inputs_are_one_line_errors(
    demo_dir: tuple[Path, dict[str, str]], args: list[str], code: int, needle: str
) -> None:
    out = run("phone", *args, "--data-dir", str(demo_dir[0]), code=code, stdin="")
    assert out.strip().splitlines()[-1].startswith("error: ")
    assert needle in out


def test_push_off_and_on(demo_dir: tuple[Path, dict[str, str]]) -> None:
    d = str(demo_dir[0])
    run("phone", "push", "off", "--data-dir", d, "--phone", "new-phone")
    assert "プッシュ通知 オフ" in run("phone", "status", "--data-dir", d, "--phone", "new-phone")
    run("phone", "push", "on", "--data-dir", d, "--phone", "new-phone")


def test_interactive_model_change_stop_changes_nothing(
    demo_dir: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At a terminal: hidden prompts, the terms, and ⑨ — やめる exits 0, nothing applied."""
    data, secrets = demo_dir
    d = str(data)
    run("phone", "new", "--data-dir", d, "--phone", "third")
    monkeypatch.setattr(office, "interactive", lambda: True)
    stdin = f"{secrets['card_sign_password']}\ny\n2\n"
    out = run("phone", "model-change", "--data-dir", d, "--phone", "third", stdin=stdin)
    assert "旧スマホ用電子証明書は失効されます" in out and "やめる" in out
    assert secrets["card_sign_password"] not in out  # hidden input
    assert "登録済み" in run("phone", "status", "--data-dir", d, "--phone", "new-phone")
    page = run("phone", "status", "--data-dir", d, "--phone", "third")
    assert "登録準備" not in page and "(no certificate issued to this phone)" in page


def test_reset_password_with_prompts(
    demo_dir: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    data, secrets = demo_dir
    d = str(data)
    monkeypatch.setattr(office, "interactive", lambda: True)
    stdin = f"{secrets['card_sign_password']}\n5678\n5679\n5678\n5678\n"
    out = run("phone", "reset-password", "--data-dir", d, "--phone", "new-phone",
              "--which", "auth", stdin=stdin)  # fmt: skip
    assert "the PIN was reset" in out  # the 4-digit secret is a PIN, never a password
    pem = run("phone", "read-cert", "auth", "--data-dir", d, "--phone", "new-phone",
              "--password", "5678")  # fmt: skip
    assert pem.startswith("-----BEGIN CERTIFICATE-----")
