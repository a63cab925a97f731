"""The whole lifecycle through the command line only: office → first phone → model change."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from mobile_jpki.cli.main import app
from mobile_jpki.phone.client import PortalClient
from mobile_jpki.service.ca.bootstrap import init_data_dir

RESIDENT = [
    "--family-name", "デジタル", "--given-name", "花子", "--sex", "female",
    "--birth", "1990-04-01", "--address", "東京都千代田区紀尾井町一丁目三番",
    "--prefecture-romaji", "Tokyo", "--city-romaji", "Chiyoda-ku",
]  # fmt: skip


def run(*args: str, code: int = 0, stdin: str | None = None) -> str:
    result = CliRunner().invoke(app, list(args), input=stdin)
    assert result.exit_code == code, (result.output, result.exception)
    assert "Traceback" not in result.output
    return result.output


@pytest.fixture(scope="module")
def office_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    data = tmp_path_factory.mktemp("office") / "data"
    init_data_dir(data, dt.datetime.now(dt.UTC), base_url="http://127.0.0.1:8000")
    d = str(data)
    person = run("office", "register-person", "--data-dir", d, *RESIDENT).strip()
    run("office", "issue-card", "--data-dir", d, "--person", person, "--card", "card",
        "--sign-password", "card1234", "--auth-pin", "1234")  # fmt: skip
    return data, person


def test_operator_key_is_kept_private(office_dir: tuple[Path, str]) -> None:
    key = office_dir[0] / "portal" / "operator-api-key"
    assert key.read_text().startswith("mjk_")
    assert key.stat().st_mode & 0o077 == 0


def test_first_application_model_change_and_sync(office_dir: tuple[Path, str]) -> None:
    data, _ = office_dir
    d = str(data)
    card = ["--card", "card", "--card-password", "CARD1234", "--accept-terms"]
    run("phone", "new", "--data-dir", d, "--phone", "old")
    out = run("phone", "apply", "--data-dir", d, "--phone", "old", *card,
              "--sign-password", "OLD1111", "--auth-pin", "1111")  # fmt: skip
    assert "申請の完了" in out and "登録準備が完了しています" in out
    assert "登録完了" in run(
        "phone", "register", "--data-dir", d, "--phone", "old",
        "--sign-password", "old1111", "--auth-pin", "1111",
    )  # fmt: skip

    run("phone", "new", "--data-dir", d, "--phone", "new")
    out = run("phone", "model-change", "--data-dir", d, "--phone", "new", *card,
              "--consent", "--sign-password", "NEW2222", "--auth-pin", "2222")  # fmt: skip
    assert "登録準備が完了しています" in out
    run("phone", "register", "--data-dir", d, "--phone", "new",
        "--sign-password", "NEW2222", "--auth-pin", "2222")  # fmt: skip
    assert "失効済み" in run("phone", "status", "--data-dir", d, "--phone", "old")
    assert "1 instruction(s) carried out" in run("phone", "sync", "--data-dir", d, "--phone", "old")
    info = run("phone", "info", "--data-dir", d, "--phone", "old")
    assert "certificates:" in info and "none" in info
    status = run("phone", "status", "--data-dir", d, "--phone", "new")
    assert status.count("登録済み") == 2 and status.count(" good ") == 2
    profile = json.loads((data / "devices" / "phones" / "new.app.json").read_text())
    assert profile["seen_push"] and "secrets_set" not in profile


def test_hold_and_release(office_dir: tuple[Path, str]) -> None:
    data, person = office_dir
    d = str(data)
    run("phone", "new", "--data-dir", d, "--phone", "held")
    run("phone", "model-change", "--data-dir", d, "--phone", "held", "--card", "card",
        "--card-password", "CARD1234", "--accept-terms", "--consent", "--no-sign",
        "--auth-pin", "3333")  # fmt: skip
    run("phone", "register", "--data-dir", d, "--phone", "held", "--auth-pin", "3333")
    out = run("office", "hold", "--data-dir", d, "--person", person)
    assert "certificateHold" in out
    assert "一時利用停止中" in run("phone", "status", "--data-dir", d, "--phone", "held")
    run("phone", "release", "--data-dir", d, "--phone", "held", "--card", "card",
        "--card-password", "CARD1234")  # fmt: skip
    assert "登録済み" in run("phone", "status", "--data-dir", d, "--phone", "held")


def test_hold_release_reissues_signing_and_the_office_releases_the_card(
    office_dir: tuple[Path, str],
) -> None:
    """The hotline holds the card too; the app's release re-issues the signing certificate
    under the new password given there (one flow, then 登録する); the office lifts a card's
    hold on its own."""
    data, person = office_dir
    d = str(data)
    card = ["--card", "card", "--card-password", "CARD1234", "--accept-terms", "--consent"]
    run("phone", "new", "--data-dir", d, "--phone", "both")
    run("phone", "model-change", "--data-dir", d, "--phone", "both", *card,
        "--sign-password", "BOTH1111", "--auth-pin", "1111")  # fmt: skip
    run("phone", "register", "--data-dir", d, "--phone", "both",
        "--sign-password", "BOTH1111", "--auth-pin", "1111")  # fmt: skip
    out = run("office", "hold", "--data-dir", d, "--person", person)
    assert out.count("certificateHold") == 4  # the phone's two and the card's two
    out = run("phone", "release", "--data-dir", d, "--phone", "both", "--card", "card",
              "--card-password", "CARD1234", "--sign-password", "AGAIN222")  # fmt: skip
    assert "reissued" in out and "登録準備が完了しています" in out
    out = run("phone", "register", "--data-dir", d, "--phone", "both",
              "--sign-password", "AGAIN222", "--auth-pin", "1111")  # fmt: skip
    assert "登録完了" in out
    assert run("phone", "status", "--data-dir", d, "--phone", "both").count(" good ") == 2
    # The card alone: held by the hotline, released at the office.
    run("office", "hold", "--data-dir", d, "--person", person)
    assert run("office", "release", "--data-dir", d, "--person", person).count("released") == 2
    out = run("office", "release", "--data-dir", d, "--person", person, code=4)
    assert out.startswith("error: ")


def test_a_card_for_a_person_under_15(office_dir: tuple[Path, str]) -> None:
    data, _ = office_dir
    d = str(data)
    young = [*RESIDENT]
    young[young.index("1990-04-01")] = (dt.date.today() - dt.timedelta(days=365 * 10)).isoformat()
    person = run("office", "register-person", "--data-dir", d, *young).strip()
    # No signing password is asked: a person under 15 gets no signing certificate.
    out = run("office", "issue-card", "--data-dir", d, "--person", person, "--card", "young",
              "--auth-pin", "1234")  # fmt: skip
    assert "not issued" in out and "利用者証明用電子証明書 serial" in out


def test_bad_office_inputs_are_one_line_errors(office_dir: tuple[Path, str]) -> None:
    d = str(office_dir[0])
    out = run("office", "register-person", "--data-dir", d, *RESIDENT[:4], "--sex", "x",
              *RESIDENT[6:], code=2)  # fmt: skip
    assert out.strip().splitlines()[-1].startswith("error: --sex")
    out = run("office", "hold", "--data-dir", d, "--person", "nobody", code=3)
    assert out.startswith("error: the service refused (not-found)")
    out = run("office", "issue-card", "--data-dir", d, "--person", "p", "--card", "../c",
              "--sign-password", "CARD1234", "--auth-pin", "1234", code=2)  # fmt: skip
    assert "invalid device id" in out
    out = run("office", "hold", "--data-dir", d, "--person", "p", "--base-url",
              "http://127.0.0.1:9", code=2)  # fmt: skip
    assert "--api-key" in out


def test_model_change_back_after_a_lost_acknowledgement_keeps_the_new_certificates(
    office_dir: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16 §3 (b) with the commands a person types: `phone sync` deletes but its
    acknowledgement is lost; 機種変更 back to that phone and 登録する; the next `phone sync`
    used to wipe the new certificates while `phone status` still called them good."""
    data, _ = office_dir
    d = str(data)
    card = ["--card", "card", "--card-password", "CARD1234", "--accept-terms"]

    def move_to(phone: str, password: str, pin: str) -> None:
        run("phone", "model-change", "--data-dir", d, "--phone", phone, *card, "--consent",
            "--sign-password", password, "--auth-pin", pin)  # fmt: skip
        run("phone", "register", "--data-dir", d, "--phone", phone, "--sign-password", password,
            "--auth-pin", pin)  # fmt: skip

    for phone in ("first", "second"):
        run("phone", "new", "--data-dir", d, "--phone", phone)
    move_to("first", "AAA1111", "1111")
    move_to("second", "BBB2222", "2222")

    def lost(self: PortalClient, instruction_id: str) -> None:
        raise httpx.ConnectError("the acknowledgement was lost on the way")

    with monkeypatch.context() as patched:
        patched.setattr(PortalClient, "acknowledge", lost)
        run("phone", "sync", "--data-dir", d, "--phone", "first", code=1)
    move_to("first", "CCC3333", "3333")
    run("phone", "sync", "--data-dir", d, "--phone", "first")
    status = run("phone", "status", "--data-dir", d, "--phone", "first")
    assert status.count("登録済み") == 2 and status.count(" good ") == 2
    info = run("phone", "info", "--data-dir", d, "--phone", "first")
    assert re.search(r"certificates:\s+sign, auth\n", info), info
