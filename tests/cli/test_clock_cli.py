"""``mobile-jpki clock`` on a sandbox data directory: the seed's 48-hour rule shown on the real
portal with the command line only (issue 17, "A clock a tester can move"), and the refusal on a
data directory that is not a sandbox."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mobile_jpki.cli.clock import parse_duration
from mobile_jpki.cli.main import app
from mobile_jpki.service.ca.bootstrap import init_data_dir
from mobile_jpki.settings import Settings
from mobile_jpki.store.clock_offset import DbOffsetStore
from mobile_jpki.store.db import Database

KEPT = "失効から48時間を過ぎたため、証明書はこのスマホに残っていますが、利用できません。"
RESIDENT = [
    "--family-name", "デジタル", "--given-name", "花子", "--sex", "female",
    "--birth", "1990-04-01", "--address", "東京都千代田区紀尾井町一丁目三番",
    "--prefecture-romaji", "Tokyo", "--city-romaji", "Chiyoda-ku",
]  # fmt: skip
CARD = ["--card", "card", "--card-password", "CARD1234", "--accept-terms"]


def run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, (result.output, result.exception)
    assert "Traceback" not in result.output
    return result.output


def _person_with_card(data: Path) -> str:
    """Register the resident and issue the card; the card record's id."""
    d = str(data)
    person = run("office", "register-person", "--data-dir", d, *RESIDENT).strip()
    out = run("office", "issue-card", "--data-dir", d, "--person", person, "--card", "card",
              "--sign-password", "card1234", "--auth-pin", "1234")  # fmt: skip
    found = re.search(r"card record (\S+?)\)", out)
    assert found, out
    return found.group(1)


@pytest.fixture
def sandbox_card(tmp_path: Path) -> tuple[Path, str]:
    data = tmp_path / "sandbox"
    init_data_dir(data, dt.datetime.now(dt.UTC), sandbox=True)
    return data, _person_with_card(data)


@pytest.fixture
def sandbox(sandbox_card: tuple[Path, str]) -> Path:
    return sandbox_card[0]


def _take_over(d: str, phone: str, *, first: bool = False, pin: str = "2222") -> None:
    """``phone`` applies (first) or changes model (with consent) and registers both."""
    if not (Path(d) / "devices" / "phones" / f"{phone}.app.json").exists():
        run("phone", "new", "--data-dir", d, "--phone", phone)
    secrets = ["--sign-password", f"PW{pin}AB", "--auth-pin", pin]
    if first:
        run("phone", "apply", "--data-dir", d, "--phone", phone, *CARD, *secrets)
    else:
        run("phone", "model-change", "--data-dir", d, "--phone", phone, *CARD, "--consent",
            *secrets)  # fmt: skip
    assert "登録完了" in run("phone", "register", "--data-dir", d, "--phone", phone, *secrets)


def _certificates_on(d: str, phone: str) -> str:
    out = run("phone", "info", "--data-dir", d, "--phone", phone)
    return next(line for line in out.splitlines() if line.startswith("certificates:"))


def test_back_within_48_hours_the_certificates_are_deleted(sandbox: Path) -> None:
    d = str(sandbox)
    _take_over(d, "old", first=True, pin="1111")
    _take_over(d, "new")
    assert "wall clock + 1d23h" in run("clock", "advance", "47h", "--data-dir", d)
    out = run("phone", "sync", "--data-dir", d, "--phone", "old")
    assert "1 instruction(s) carried out" in out and KEPT not in out
    assert "none" in _certificates_on(d, "old")


def test_back_after_48_hours_they_remain_revoked_and_the_phone_says_so_once(
    sandbox: Path,
) -> None:
    d = str(sandbox)
    _take_over(d, "old", first=True, pin="1111")
    _take_over(d, "new")
    run("clock", "advance", "49h", "--data-dir", d)
    out = run("phone", "sync", "--data-dir", d, "--phone", "old")
    assert "別のスマホでの申請により" in out and KEPT in out  # the cause, then the 48 hours
    assert "none" not in _certificates_on(d, "old")  # still in the element
    assert "失効済み" in run("phone", "status", "--data-dir", d, "--phone", "old")
    # Once: the app profile remembers it, so the next launch is quiet.
    again = run("phone", "sync", "--data-dir", d, "--phone", "old")
    assert KEPT not in again and "no instruction to carry out" in again


def test_model_change_back_and_forth(sandbox: Path) -> None:
    d = str(sandbox)
    _take_over(d, "a", first=True, pin="1111")
    _take_over(d, "b")
    run("clock", "advance", "2d2h", "--data-dir", d)  # a stayed offline: it keeps them
    assert KEPT in run("phone", "sync", "--data-dir", d, "--phone", "a")
    _take_over(d, "a", pin="3333")  # back: its kept, revoked certificates are cleared first
    run("clock", "advance", "1h", "--data-dir", d)
    assert "1 instruction(s) carried out" in run("phone", "sync", "--data-dir", d, "--phone", "b")
    assert "none" in _certificates_on(d, "b")
    _take_over(d, "b", pin="4444")  # and forth again; a is offline for 49 hours
    run("clock", "advance", "49h", "--data-dir", d)
    assert KEPT in run("phone", "sync", "--data-dir", d, "--phone", "a")
    assert KEPT not in run("phone", "sync", "--data-dir", d, "--phone", "a")
    status = run("phone", "status", "--data-dir", d, "--phone", "b")
    assert status.count("登録済み") == 2 and status.count(" good ") == 2


@pytest.mark.parametrize(("hours", "kept"), [("47h", False), ("49h", True)])
def test_a_card_replacement_is_named_as_the_cause(
    sandbox_card: tuple[Path, str], hours: str, kept: bool
) -> None:
    """Issue 17 "Every notice names its real cause": the card renewed or replaced (再交付)
    revokes the phone's certificates; `phone sync` says so, within 48 hours (deleted) and after
    (kept), never with the model change's 「別のスマホでの申請により」."""
    data, record = sandbox_card
    d = str(data)
    _take_over(d, "old", first=True, pin="1111")
    assert "superseded" in run("office", "replace-card", "--data-dir", d, "--card-record", record)
    run("clock", "advance", hours, "--data-dir", d)
    out = run("phone", "sync", "--data-dir", d, "--phone", "old")
    assert "マイナンバーカードの更新・再発行により" in out, out
    assert "別のスマホでの申請により" not in out and "別のスマホから失効" not in out
    assert (KEPT in out) is kept
    assert ("証明書はこのスマホから削除されました" in out) is not kept


def test_a_data_directory_that_is_not_a_sandbox_refuses(tmp_path: Path) -> None:
    data = tmp_path / "real"
    init_data_dir(data, dt.datetime.now(dt.UTC))
    result = CliRunner().invoke(app, ["clock", "advance", "49h", "--data-dir", str(data)])
    assert result.exit_code == 4
    assert "not a sandbox" in result.output and len(result.output.strip().splitlines()) == 1
    assert run("ca", "init", "--data-dir", str(data), "--sandbox", code=5).count("\n") <= 1
    # Nothing was stored, and the data directory's processes use the wall clock.
    db = Database(Settings.load(data).effective_database_url)
    try:
        assert DbOffsetStore(db).read() == dt.timedelta(0)
    finally:
        db.dispose()


def test_serve_reads_the_offset_the_cli_stored(
    sandbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mobile_jpki.api.app import DATA_DIR_ENV, app_from_env

    run("clock", "advance", "3d", "--data-dir", str(sandbox))
    monkeypatch.setitem(os.environ, DATA_DIR_ENV, str(sandbox))
    served = app_from_env()
    ahead = served.state.services.clock.now() - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=3) - dt.timedelta(seconds=5) < ahead <= dt.timedelta(days=3)
    served.state.services.ca.db.dispose()


def test_show_reset_and_bad_durations(sandbox: Path) -> None:
    d = str(sandbox)
    assert "wall clock + 0s" in run("clock", "show", "--data-dir", d)
    run("clock", "advance", "30m", "--data-dir", d)
    run("clock", "advance", "90s", "--data-dir", d)
    assert "wall clock + 31m30s" in run("clock", "show", "--data-dir", d)
    assert "wall clock + 0s" in run("clock", "reset", "--data-dir", d)
    for bad in ("0h", "49", "h", "4x", ""):
        assert "error:" in run("clock", "advance", bad, "--data-dir", d, code=2)
    run("clock", "advance", "--data-dir", d, "--", "-1h", code=2)  # never backwards


@pytest.mark.parametrize(
    ("text", "seconds"), [("49h", 49 * 3600), ("30m", 1800), ("2d", 172800), ("1d2h", 93600)]
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == dt.timedelta(seconds=seconds)
